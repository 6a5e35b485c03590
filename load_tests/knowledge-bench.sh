#!/usr/bin/env bash
# Knowledge service figures for docs/performance.md: ingestion throughput (lexical, chunks/s),
# query latency (p50/p99, cached and uncached) at a collection size, and idle RSS.
#
#   load_tests/knowledge-bench.sh CHUNKS        # e.g. 10000, then 100000
#   EMBEDDINGS=1 load_tests/knowledge-bench.sh CHUNKS   # hybrid: chunks embedded, RRF queries
#
# With EMBEDDINGS=1 the knowledge service gets an embedding provider: the tests' deterministic
# embedding server as a process (EMBED_BIN, default target/release/examples/embedding_server:
# `cargo build --release -p temponest-knowledge --example embedding_server`; hashed
# bag-of-words vectors of DIMS=768 components, OpenAI protocol on 127.0.0.1:$EMBED_PORT), so
# ingestion includes embedding every chunk and queries are hybrid (lexical + vector search,
# fused). The first query's time includes loading the collection's vector index.
#
# Starts `temponest serve` (release build: BIN, default target/release/temponest) on
# 127.0.0.1:$PORT against its own database, uploads generated text documents (deterministic,
# ~100 chunks each at chunk_size 1000 / overlap 200) until the collection holds about CHUNKS
# chunks, waits until every document is ready, then runs wrk against the query route:
# "cached" repeats one query (every request after the first is a cache hit), "uncached" sends
# a different query each time (random word pairs from the corpus vocabulary: cache misses).
# Needs curl, jq, python3 and wrk. Everything stays on 127.0.0.1; every loop is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
. load_tests/start-serve.sh

CHUNKS=${1:-10000}
BIN=${BIN:-target/release/temponest}
PORT=${PORT:-19005}
DB=${DB:-temponest_knowledge_bench_$CHUNKS}
SERVER=${SERVER:-postgres://postgres@127.0.0.1:5432}
DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-16}
EMBEDDINGS=${EMBEDDINGS:-0}
EMBED_BIN=${EMBED_BIN:-target/release/examples/embedding_server}
EMBED_PORT=${EMBED_PORT:-19080}
DIMS=${DIMS:-768}
WORK=$(mktemp -d)
BASE="http://127.0.0.1:$PORT"
EMBED_PID=
trap 'kill "$PID" $EMBED_PID 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT

provider=()
if [ "$EMBEDDINGS" = "1" ]; then
  DB="${DB}_hybrid"
  "$EMBED_BIN" "$EMBED_PORT" "$DIMS" >"$WORK/embed.log" 2>&1 &
  EMBED_PID=$!
  for _ in $(seq 1 100); do
    grep -q http "$WORK/embed.log" && break
    kill -0 "$EMBED_PID" 2>/dev/null || { cat "$WORK/embed.log"; exit 1; }
    sleep 0.1
  done
  provider=(TEMPONEST_KNOWLEDGE__EMBEDDING__KIND=openai
            TEMPONEST_KNOWLEDGE__EMBEDDING__BASE_URL="http://127.0.0.1:$EMBED_PORT/v1")
  echo "== hybrid: embeddings from the deterministic server ($DIMS dimensions)"
fi

start_serve "${provider[@]}" RATE_LIMIT_ENABLED=false TEMPONEST_WEBHOOKS__RUN_ENGINE=false

json='content-type: application/json'
TOKEN=$(sign_up "$BASE" bench@example.com 'correct horse battery staple')
auth="Authorization: Bearer $TOKEN"
COLLECTION=$(curl -sf -X POST "$BASE/rag/collections/" -H "$auth" -H "$json" \
  -d '{"name":"bench","chunk_size":1000,"chunk_overlap":200}' | jq -r .id)

# Documents of ~80,000 characters: sentences of words drawn (seeded) from a 5,000-word
# vocabulary, so postings are realistic rather than one term everywhere.
DOCS=$(( (CHUNKS + 99) / 100 ))
python3 - "$WORK" "$DOCS" <<'PY'
import random, sys
work, docs = sys.argv[1], int(sys.argv[2])
rng = random.Random(14)
letters = "abcdefghijklmnopqrstuvwxyz"
vocab = sorted({"".join(rng.choice(letters) for _ in range(rng.randint(4, 9))) for _ in range(5200)})[:5000]
open(f"{work}/vocab.txt", "w").write("\n".join(vocab) + "\n")
for d in range(docs):
    sentences = []
    size = 0
    while size < 80_000:
        words = [rng.choice(vocab) for _ in range(rng.randint(8, 18))]
        s = " ".join(words).capitalize() + "."
        sentences.append(s)
        size += len(s) + 1
    paragraphs = [" ".join(sentences[i:i + 6]) for i in range(0, len(sentences), 6)]
    open(f"{work}/doc{d}.txt", "w").write(f"Document {d}\n\n" + "\n\n".join(paragraphs) + "\n")
PY

start=$(date +%s.%N)
for d in $(seq 0 $((DOCS - 1))); do
  curl -sf -o /dev/null -X POST "$BASE/rag/collections/$COLLECTION/documents" -H "$auth" \
    -F "file=@$WORK/doc$d.txt"
done
uploaded=$(date +%s.%N)
for _ in $(seq 1 36000); do
  processing=$(curl -sf -I "$BASE/rag/collections/$COLLECTION/documents?status=processing&limit=1" \
    -H "$auth" | tr -d '\r' | awk 'tolower($1)=="x-total-count:"{print $2}')
  [ "$processing" = "0" ] && break
  sleep 0.1
done
done_at=$(date +%s.%N)
failed=$(curl -sf -I "$BASE/rag/collections/$COLLECTION/documents?status=failed&limit=1" -H "$auth" \
  | tr -d '\r' | awk 'tolower($1)=="x-total-count:"{print $2}')
chunks=$(psql "$SERVER/$DB" -Atc "select count(*) from knowledge.chunks")
python3 - "$start" "$uploaded" "$done_at" "$chunks" "$DOCS" "$failed" <<'PY'
import sys
start, uploaded, done, chunks, docs, failed = map(float, sys.argv[1:])
print(f"documents {int(docs)} (failed {int(failed)}), chunks {int(chunks)}")
print(f"uploads took {uploaded - start:.1f} s; all ready after {done - start:.1f} s")
print(f"ingestion: {chunks / (done - start):.0f} chunks/s ({docs / (done - start):.1f} documents/s, ~80 KB each)")
PY
if [ "$EMBEDDINGS" = "1" ]; then
  echo "chunks with an embedding: $(psql "$SERVER/$DB" -Atc "select count(embedding) from knowledge.chunks")"
  first=$(curl -sf -o /dev/null -w '%{time_total}' -X POST "$BASE/rag/collections/$COLLECTION/query" \
    -H "$auth" -H "$json" -d "{\"query\": \"$(sed -n 7p "$WORK/vocab.txt")\", \"top_k\": 5}")
  echo "first hybrid query (loads the vector index): ${first} s"
fi

cat >"$WORK/cached.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.body = '{"query": "$(sed -n 100p "$WORK/vocab.txt") $(sed -n 2000p "$WORK/vocab.txt")", "top_k": 5}'
EOF
cat >"$WORK/uncached.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
local vocab = {}
for line in io.lines("$WORK/vocab.txt") do vocab[#vocab + 1] = line end
local counter = 0
function setup(thread) thread:set("tid", counter); counter = counter + 1 end
function init(args) math.randomseed(os.time() * 100 + tid); n = 0 end
function request()
  n = n + 1
  local q = vocab[math.random(#vocab)] .. " " .. vocab[math.random(#vocab)]
  return wrk.format(nil, nil, nil, '{"query": "' .. q .. '", "top_k": 5}')
end
EOF
path="/rag/collections/$COLLECTION/query"
for kind in cached uncached; do
  echo "== query, $kind ($CHUNKS chunks, $CONNECTIONS connections, $DURATION)"
  wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$WORK/$kind.lua" "$BASE$path" \
    | grep -E "Requests/sec|Non-2xx|Socket errors|^ +(50|99)%"
done

echo "== RSS of the all-in-one process after the runs: $(ps -o rss= -p "$PID") KiB"

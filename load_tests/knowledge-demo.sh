#!/usr/bin/env bash
# The knowledge service end to end with `temponest serve` and curl (issue 14):
#
#   BIN=target/release/temponest load_tests/knowledge-demo.sh
#
# Starts `temponest serve` on a database of its own (127.0.0.1:$PORT) with one extra provider,
# `local`: a small OpenAI-compatible chat server on this machine standing in for a model (no
# model runs offline here). It behaves as a tool-using model would: offered `knowledge_search`,
# it first calls it with the user's question; given the tool's result, it answers with the
# best chunk's text and names its document. Everything else is the platform's own.
#
# Then, with curl: register, create a collection, upload a Markdown file and a PDF (both made
# here), wait until both are ready, query the collection, create an agent on the `local`
# provider with the collection in its `rag_collection_ids`, run it, and read the execution's
# citations. Needs curl, jq and python3. Everything stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
. load_tests/start-serve.sh

BIN=${BIN:-target/release/temponest}
PORT=${PORT:-19015}
MODEL_PORT=${MODEL_PORT:-19081}
DB=${DB:-temponest_knowledge_demo}
SERVER=${SERVER:-postgres://postgres@127.0.0.1:5432}
BASE="http://127.0.0.1:$PORT"
WORK=$(mktemp -d)
PID=
MODEL_PID=
trap 'kill $PID $MODEL_PID 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT

# The model stand-in: OpenAI chat completions, non-streaming and streaming.
cat >"$WORK/model.py" <<'PY'
import http.server, json, sys

def reply(body):
    messages = body.get("messages", [])
    tools = [t["function"]["name"] for t in body.get("tools", [])]
    results = [m for m in messages if m.get("role") == "tool"]
    if results:
        found = json.loads(results[-1]["content"]).get("results", [])
        if not found:
            return {"content": "I found nothing about that in the knowledge base."}
        best = found[0]
        return {"content": "From %s (document %s): %s" % (
            best.get("filename", "a document"), best["document_id"], best["content"].strip())}
    if "knowledge_search" in tools:
        question = next(m["content"] for m in reversed(messages) if m.get("role") == "user")
        return {"tool": {"query": question, "top_k": 3}}
    return {"content": "No knowledge base is attached."}

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        r = reply(body)
        usage = {"prompt_tokens": 120, "completion_tokens": 40, "total_tokens": 160}
        if "tool" in r:
            call = {"id": "call_1", "type": "function",
                    "function": {"name": "knowledge_search", "arguments": json.dumps(r["tool"])}}
            message, finish = {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
        else:
            message, finish = {"role": "assistant", "content": r["content"]}, "stop"
        if body.get("stream"):
            delta = dict(message)
            if "tool_calls" in delta:
                delta["tool_calls"] = [dict(call, index=0)]
            chunks = [{"id": "c1", "choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
                      {"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]},
                      {"id": "c1", "choices": [], "usage": usage}]
            out = "".join("data: %s\n\n" % json.dumps(c) for c in chunks) + "data: [DONE]\n\n"
            kind = "text/event-stream"
        else:
            out = json.dumps({"id": "c1", "object": "chat.completion", "model": body.get("model"),
                              "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                              "usage": usage})
            kind = "application/json"
        data = out.encode()
        self.send_response(200)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *a): pass

http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
PY

# A one-page PDF (Helvetica text), written object by object with its cross-reference table.
cat >"$WORK/pdf.py" <<'PY'
import sys
lines = sys.argv[2:]
text = "BT /F1 12 Tf 72 720 Td " + " ".join(
    "(%s) Tj 0 -16 Td" % l.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for l in lines) + " ET"
objects = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
    "/Resources << /Font << /F1 5 0 R >> >> >>",
    "<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text),
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
]
out = bytearray(b"%PDF-1.4\n")
offsets = []
for i, body in enumerate(objects, 1):
    offsets.append(len(out))
    out += b"%d 0 obj\n%s\nendobj\n" % (i, body.encode("latin-1"))
xref = len(out)
out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
open(sys.argv[1], "wb").write(out)
PY

cat >"$WORK/penguins.md" <<'MD'
# Penguins

## Breeding

Emperor penguins breed in the coldest environment of any bird species. The male incubates
the single egg on his feet for about 65 days while fasting, through the Antarctic winter.

## Diet

Penguins eat krill, fish and squid, caught underwater on dives that can last twenty minutes.
MD
python3 "$WORK/pdf.py" "$WORK/volcanoes.pdf" \
  "Volcanoes of Sicily" \
  "Mount Etna is the most active volcano in Europe." \
  "Its summit craters erupt several times a year, and lava flows" \
  "have reached the villages on its flanks many times in recorded history."

python3 "$WORK/model.py" "$MODEL_PORT" &
MODEL_PID=$!
start_serve TEMPONEST_PROVIDERS__LOCAL__KIND=openai \
  TEMPONEST_PROVIDERS__LOCAL__BASE_URL="http://127.0.0.1:$MODEL_PORT/v1"

say() { printf '\n$ %s\n' "$*"; }
json=(-H 'content-type: application/json')
say "POST /auth/register, POST /auth/login"
curl -s "${json[@]}" -d '{"email":"ada@example.com","password":"correct horse battery"}' "$BASE/auth/register" | jq -c '{email}'
TOKEN=$(curl -s "${json[@]}" -d '{"email":"ada@example.com","password":"correct horse battery"}' "$BASE/auth/login" | jq -r .access_token)
auth=(-H "Authorization: Bearer $TOKEN")

say "POST /rag/collections/"
COLLECTION=$(curl -s "${auth[@]}" "${json[@]}" -d '{"name":"field notes","description":"birds and volcanoes","chunk_size":300,"chunk_overlap":50}' \
  "$BASE/rag/collections/" | tee "$WORK/collection.json" | jq -r .id)
jq -c '{id, name, embedding_model, chunk_size, chunk_overlap, document_count}' "$WORK/collection.json"

say "POST /rag/collections/$COLLECTION/documents  (penguins.md; volcanoes.pdf with the single-quoted metadata some clients send)"
curl -s "${auth[@]}" -F "file=@$WORK/penguins.md;type=text/markdown" -F 'metadata={"topic":"birds"}' \
  "$BASE/rag/collections/$COLLECTION/documents" | jq -c '{id, filename, content_type, status}'
curl -s "${auth[@]}" -F "file=@$WORK/volcanoes.pdf;type=application/pdf" -F "metadata={'topic': 'geology'}" \
  "$BASE/rag/collections/$COLLECTION/documents" | jq -c '{id, filename, content_type, status}'

for _ in $(seq 1 300); do
  pending=$(curl -s "${auth[@]}" "$BASE/rag/collections/$COLLECTION/documents" | jq '[.[] | select(.status == "processing")] | length')
  [ "$pending" = 0 ] && break
  sleep 0.1
done
say "GET /rag/collections/$COLLECTION/documents"
curl -s "${auth[@]}" "$BASE/rag/collections/$COLLECTION/documents" | jq -c '.[] | {filename, status, chunk_count, metadata}'

say "POST /rag/collections/$COLLECTION/query  {query: \"how long is the egg incubated\"}"
curl -s "${auth[@]}" "${json[@]}" -d '{"query":"how long is the egg incubated","top_k":2}' \
  "$BASE/rag/collections/$COLLECTION/query" | jq -c '.total_results, (.chunks[] | {score, chunk_index, metadata, content: .content[0:70]})'
say "POST /rag/collections/$COLLECTION/query  {query: \"Etna lava\", filter: {topic: geology}}"
curl -s "${auth[@]}" "${json[@]}" -d '{"query":"Etna lava","top_k":2,"filter":{"topic":"geology"}}' \
  "$BASE/rag/collections/$COLLECTION/query" | jq -c '.total_results, (.chunks[] | {score, document_id, metadata, content: .content[0:70]})'

say "POST /agents/  (provider local, rag_collection_ids [$COLLECTION])"
AGENT=$(curl -s "${auth[@]}" "${json[@]}" \
  -d "{\"name\":\"librarian\",\"provider\":\"local\",\"model\":\"stand-in\",\"rag_collection_ids\":[\"$COLLECTION\"]}" \
  "$BASE/agents/" | jq -r .id)
echo "$AGENT"
for question in "How long does the emperor penguin incubate its egg?" "Which volcano is the most active in Europe?"; do
  say "POST /agents/$AGENT/execute  {user_message: \"$question\"}"
  curl -s "${auth[@]}" "${json[@]}" -d "{\"user_message\":\"$question\"}" "$BASE/agents/$AGENT/execute" \
    | tee "$WORK/run.json" | jq -c '{status, tools_used, response}'
  say "GET /executions/$(jq -r .id "$WORK/run.json")  (citations)"
  curl -s "${auth[@]}" "$BASE/executions/$(jq -r .id "$WORK/run.json")" | jq -c '.citations[] | {document_id, chunk_index, score}'
done

#!/usr/bin/env bash
# The platform against a bare axum reference on the same machine, in one run (issue 19):
#
#   (cd load_tests && cargo build --release --bin reference)
#   RATE_LIMIT_ENABLED=true load_tests/run.sh exec load_tests/side-by-side.sh [ROUNDS] [SECONDS]
#
# run.sh starts `temponest serve` on a fresh database (TEMPONEST_HOST, TOKEN, AGENT_ID,
# LOAD_DATABASE_URL exported); this script starts `reference` (load_tests/src/bin/reference.rs)
# on the same database, inserts 400,000 agents into TOKEN's tenant for the cache-miss reads,
# then for ROUNDS rounds (default 3) measures, alternating which side goes first each round,
# with `wrk -t2 -c64 -dSECONDS` (default 5):
#
#   health   platform GET /health                        vs reference GET /health
#   cached   platform GET /agents/{id}, one agent,      vs reference GET /health
#            authenticated, an L1 cache hit                (the bare JSON handler)
#   miss     platform GET /agents/{id}, every id once     vs reference GET /agents/{id}, same
#            (each request a cache miss: Redis, Postgres)    ids (a bare sqlx primary-key lookup)
#
# and prints each round's requests/s and p50/p99, the medians, and the ratio platform /
# reference of the median requests/s. RATE_LIMIT_ENABLED=true keeps the rate limiter in the
# measured paths (with limits far above what the run reaches, RATE_LIMIT_PER_MINUTE /
# _PER_HOUR are passed through by run.sh).
set -euo pipefail
: "${TEMPONEST_HOST:?run through load_tests/run.sh exec}" "${TOKEN:?}" "${AGENT_ID:?}" "${LOAD_DATABASE_URL:?}"
rounds="${1:-3}"
seconds="${2:-5}"
root="$(cd "$(dirname "$0")/.." && pwd)"
name=side-by-side
# shellcheck source=load_tests/reference-and-cold-agents.sh
. "$root/load_tests/reference-and-cold-agents.sh"
curl -sf -o /dev/null "$ref/agents/$(head -1 "$ids")" || { echo "side-by-side: the reference cannot read agents" >&2; exit 1; }

wrk_opts=(-t2 -c64 "-d${seconds}s" --latency)
offset=0
slice=$((400000 / rounds))
# run NAME SIDE: one wrk run; appends "rps p50_ms p99_ms" to $work/NAME.SIDE.
run() {
  local name=$1 side=$2 out
  case "$name.$side" in
    health.platform) out=$(wrk "${wrk_opts[@]}" "$TEMPONEST_HOST/health") ;;
    health.reference | cached.reference) out=$(wrk "${wrk_opts[@]}" "$ref/health") ;;
    cached.platform) out=$(wrk "${wrk_opts[@]}" -H "Authorization: Bearer $TOKEN" "$TEMPONEST_HOST/agents/$AGENT_ID") ;;
    miss.platform)
      out=$(IDS="$ids" OFFSET=$offset THREADS=2 wrk "${wrk_opts[@]}" -s "$root/load_tests/wrk/agent-cold.lua" \
        -H "Authorization: Bearer $TOKEN" "$TEMPONEST_HOST")
      offset=$((offset + slice))
      ;;
    miss.reference)
      # Any slice: the reference has no cache (Postgres's buffers are warm for both sides).
      out=$(IDS="$ids" OFFSET=0 THREADS=2 wrk "${wrk_opts[@]}" -s "$root/load_tests/wrk/agent-cold.lua" "$ref")
      ;;
  esac
  if grep -q "Non-2xx" <<<"$out"; then
    echo "side-by-side: $name.$side answered errors:" >&2
    echo "$out" >&2
    exit 1
  fi
  awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) } /^Requests\/sec/ { rps = $2 }
    END { printf "%.0f %.3f %.3f\n", rps, p50, p99 }' <<<"$out" >>"$work/$name.$side"
  printf '  %-7s %-9s %s\n' "$name" "$side" "$(tail -1 "$work/$name.$side" | awk '{printf "%8d rps  p50 %7.3f ms  p99 %7.3f ms", $1, $2, $3}')"
}

for r in $(seq 1 "$rounds"); do
  echo "round $r"
  for name in health cached miss; do
    if [ $((r % 2)) = 1 ]; then run "$name" platform; run "$name" reference
    else run "$name" reference; run "$name" platform; fi
  done
done

# Medians (of the rounds) and the ratio of the median requests/s.
median() { sort -n | awk '{v[NR] = $1} END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo
printf '%-7s %28s %28s %7s\n' test "platform rps / p50 / p99" "reference rps / p50 / p99" ratio
for name in health cached miss; do
  p_rps=$(cut -d' ' -f1 "$work/$name.platform" | median)
  p_50=$(cut -d' ' -f2 "$work/$name.platform" | median)
  p_99=$(cut -d' ' -f3 "$work/$name.platform" | median)
  r_rps=$(cut -d' ' -f1 "$work/$name.reference" | median)
  r_50=$(cut -d' ' -f2 "$work/$name.reference" | median)
  r_99=$(cut -d' ' -f3 "$work/$name.reference" | median)
  printf '%-7s %9.0f / %6.3f / %6.3f ms %9.0f / %6.3f / %6.3f ms %7.2f\n' \
    "$name" "$p_rps" "$p_50" "$p_99" "$r_rps" "$r_50" "$r_99" "$(awk -v a="$p_rps" -v b="$r_rps" 'BEGIN { printf "%.2f", a / b }')"
done

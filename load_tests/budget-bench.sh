#!/usr/bin/env bash
# What budget enforcement adds to an execution (issue 13):
#   load_tests/run.sh exec load_tests/budget-bench.sh [WRK_OPTIONS]
# The echo provider is free (self-hosted), so the tenant first sets its own price for the
# echo model (PUT /costs/prices): every call is then priced and goes through the budget path.
# Then synchronous executions (POST /agents/{id}/execute, wrk/execute.lua, default
# -t2 -c16 -d15s) are measured alternately:
#   free       echo at $0 (no price override; nothing to reserve)
#   priced     priced calls, the tenant has no budget with a limit (the cached scope check
#              skips the reservation)
#   budgeted   priced calls against a daily and a monthly limit far above what the run spends
#              (reserve in a locked transaction, settle with the cost record)
# each twice (priced and budgeted interleaved: POST /costs/budget with null limits turns the
# budget off, the scope cache is invalidated at once).
set -euo pipefail
: "${TEMPONEST_HOST:?run through load_tests/run.sh exec}" "${TOKEN:?}" "${AGENT_ID:?}"
[ $# -gt 0 ] || set -- -t2 -c16 -d15s
root="$(cd "$(dirname "$0")/.." && pwd)"
auth=(-H "Authorization: Bearer $TOKEN" -H 'content-type: application/json')
run() {
  echo "== $1"
  wrk --latency -s "$root/load_tests/wrk/execute.lua" -H "Authorization: Bearer $TOKEN" "${@:2}" \
    "$TEMPONEST_HOST/agents/$AGENT_ID/execute" | grep -E "Requests/sec| 50%| 90%| 99%|Non-2xx|Socket errors"
}
budget() {
  curl -sf "${auth[@]}" -d "{\"daily_limit_usd\": $1, \"monthly_limit_usd\": $1}" \
    "$TEMPONEST_HOST/costs/budget" >/dev/null
}
run "free (echo at \$0)" "$@"
curl -sf -X PUT "${auth[@]}" -d '{"model":"echo-1","input_usd_per_mtok":1,"output_usd_per_mtok":1}' \
  "$TEMPONEST_HOST/costs/prices" >/dev/null
for round in 1 2; do
  budget null
  run "priced, no budget (round $round)" "$@"
  budget 1000000
  run "priced, budgeted (round $round)" "$@"
done
curl -sf "${auth[@]}" "$TEMPONEST_HOST/costs/budget/status" | jq -c .

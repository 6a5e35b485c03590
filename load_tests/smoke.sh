#!/usr/bin/env bash
# A short load smoke test with a regression gate (the scheduled workflow
# .github/workflows/load-smoke.yml runs it): wrk on GET /health, a cached GET /agents/{id} and
# POST /agents/{id}/execute of an echo agent, DURATION each (default 10s, -t2 -c32), against the
# server run.sh started. Writes the figures to OUT as JSON and, when BASELINE exists, fails if
# any endpoint's throughput fell below (1 - TOLERANCE) × its baseline or its p99 rose above
# (1 + P99_TOLERANCE) × its baseline.
#
#   load_tests/run.sh exec load_tests/smoke.sh [BASELINE] [OUT]
#
# BASELINE defaults to load_tests/smoke-baseline.json (absent: nothing to compare, the run only
# records); OUT to smoke-result.json. TOLERANCE default 0.25, P99_TOLERANCE default 1.0 (tail
# latency on shared runners is noisy; throughput is the steadier signal). Baselines are only
# comparable on the same kind of machine: the workflow keeps the last passing run's result.
# Needs TEMPONEST_HOST, TOKEN and AGENT_ID (run.sh exec exports them), wrk and jq.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
baseline="${1:-$here/smoke-baseline.json}"
out="${2:-smoke-result.json}"
duration="${DURATION:-10s}"
tolerance="${TOLERANCE:-0.25}"
p99_tolerance="${P99_TOLERANCE:-1.0}"

# wrk's p99 in milliseconds from its --latency report ("99%  12.34ms" or "1.20s" or "850.00us").
p99_ms() {
  awk '$1 == "99%" {
    v = $2; unit = v; gsub(/[0-9.]/, "", unit); sub(/[a-z]+$/, "", v);
    if (unit == "us") v /= 1000; else if (unit == "s") v *= 1000; else if (unit == "m") v *= 60000;
    printf "%.3f", v }'
}

measure() { # name, wrk args...
  local name="$1"; shift
  local report rps p99 non2xx
  report=$(wrk -t2 -c32 -d"$duration" --latency "$@")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$report")
  p99=$(p99_ms <<<"$report")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $5}' <<<"$report")
  if [ -n "$non2xx" ] && [ "$non2xx" != 0 ]; then
    echo "smoke: $name answered $non2xx non-2xx responses" >&2
    echo "$report" >&2
    exit 1
  fi
  printf '%s %s %s\n' "$name" "$rps" "$p99"
}

auth="Authorization: Bearer $TOKEN"
{
  measure health "$TEMPONEST_HOST/health"
  measure agent -H "$auth" "$TEMPONEST_HOST/agents/$AGENT_ID"
  measure execute -H "$auth" -s "$here/wrk/execute.lua" "$TEMPONEST_HOST/agents/$AGENT_ID/execute"
} | jq -R -s 'split("\n") | map(select(length > 0) | split(" ")
      | {key: .[0], value: {rps: (.[1] | tonumber), p99_ms: (.[2] | tonumber)}}) | from_entries' > "$out"
echo "smoke: $(jq -c . "$out")"

if [ ! -f "$baseline" ]; then
  echo "smoke: no baseline at $baseline; recorded only"
  exit 0
fi
jq -r --slurpfile base "$baseline" --argjson tol "$tolerance" --argjson ptol "$p99_tolerance" '
  to_entries[] | .key as $k | .value as $now | ($base[0][$k] // null) as $was
  | if $was == null then "new \($k): \($now.rps) rps, p99 \($now.p99_ms) ms"
    else
      (if $now.rps < $was.rps * (1 - $tol) then "REGRESSION " else "" end) as $r
      | (if $now.p99_ms > $was.p99_ms * (1 + $ptol) then "REGRESSION " else "" end) as $p
      | "\($r)\($k) rps \($now.rps) (baseline \($was.rps)); \($p)p99 \($now.p99_ms) ms (baseline \($was.p99_ms))"
    end' "$out" | tee smoke-report.txt
if grep -q REGRESSION smoke-report.txt; then
  echo "smoke: regression beyond tolerance (throughput -$tolerance, p99 +$p99_tolerance)" >&2
  exit 1
fi

#!/usr/bin/env bash
# Server and Redis CPU time per request under wrk, from /proc (issue 19):
#
#   load_tests/run.sh exec load_tests/cpu-per-request.sh [RUNS] [PATH] [SECONDS]
#
# run.sh starts `temponest serve` (TEMPONEST_HOST, SERVER_PID, TOKEN, AGENT_ID exported). After
# a 2 s warm-up, RUNS runs (default 3) of `wrk -t2 -c64 -dSECONDS` (default 5) with TOKEN's
# bearer against PATH (default /agents/$AGENT_ID, the authenticated cached read) each print
# requests/s and the user + system CPU time the server and the Redis server used per request
# (utime + stime of /proc/<pid>/stat, in clock ticks, over the run).
set -euo pipefail
: "${TEMPONEST_HOST:?run through load_tests/run.sh exec}" "${SERVER_PID:?}" "${TOKEN:?}" "${AGENT_ID:?}"
runs="${1:-3}"
path="${2:-/agents/$AGENT_ID}"
seconds="${3:-5}"
redis=$(pgrep -x redis-server | head -1)
tick=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
wrk -t2 -c64 -d2s -H "Authorization: Bearer $TOKEN" "$TEMPONEST_HOST$path" >/dev/null
for _ in $(seq 1 "$runs"); do
  s1=$(cpu "$SERVER_PID") r1=$(cpu "$redis")
  out=$(wrk -t2 -c64 "-d${seconds}s" -H "Authorization: Bearer $TOKEN" "$TEMPONEST_HOST$path")
  s2=$(cpu "$SERVER_PID") r2=$(cpu "$redis")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  awk -v rps="$rps" -v n="$requests" -v s=$((s2 - s1)) -v r=$((r2 - r1)) -v t="$tick" \
    'BEGIN { printf "rps %s  server %.2f us/request  redis %.2f us/request\n", rps, s * 1e6 / t / n, r * 1e6 / t / n }'
done

#!/usr/bin/env bash
# CPU time per cache-miss read, platform against the bare reference, from /proc (issue 19):
#
#   (cd load_tests && cargo build --release --bin reference)
#   load_tests/run.sh exec load_tests/cpu-per-miss.sh [ROUNDS] [SECONDS]
#
# run.sh starts `temponest serve` (TEMPONEST_HOST, SERVER_PID, TOKEN, LOAD_DATABASE_URL
# exported). This script starts `reference` on the same database, inserts 400,000 agents into
# TOKEN's tenant (as side-by-side.sh does), then for ROUNDS rounds (default 3) runs
# `wrk -t2 -c64 -dSECONDS` (default 5) with load_tests/wrk/agent-cold.lua against the reference
# and then the platform (each platform run reads ids no run read before, so every request
# misses both cache tiers) and prints requests/s and the user + system CPU time per request of
# the server, of the Postgres backends of the load database and of Redis (utime + stime of
# /proc/<pid>/stat, in clock ticks, over the run).
set -euo pipefail
: "${TEMPONEST_HOST:?run through load_tests/run.sh exec}" "${SERVER_PID:?}" "${TOKEN:?}" "${LOAD_DATABASE_URL:?}"
rounds="${1:-3}"
seconds="${2:-5}"
root="$(cd "$(dirname "$0")/.." && pwd)"
name=cpu-per-miss
# shellcheck source=load_tests/reference-and-cold-agents.sh
. "$root/load_tests/reference-and-cold-agents.sh"

redis=$(pgrep -x redis-server | head -1)
database=$(basename "${LOAD_DATABASE_URL%%\?*}")
tick=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Every backend connected to the load database (their process titles name it).
postgres_cpu() {
  local pids
  pids=$(pgrep -f "postgres: .* $database " || true)
  for p in $pids; do awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || true; done | awk '{s += $1} END {print s + 0}'
}
offset=0
slice=$((400000 / rounds))
for r in $(seq 1 "$rounds"); do
  for side in reference platform; do
    if [ "$side" = reference ]; then
      pid=$ref_pid host=$ref auth=()
    else
      pid=$SERVER_PID host=$TEMPONEST_HOST auth=(-H "Authorization: Bearer $TOKEN")
    fi
    s1=$(cpu "$pid") p1=$(postgres_cpu) r1=$(cpu "$redis")
    out=$(IDS="$ids" OFFSET=$offset THREADS=2 wrk -t2 -c64 "-d${seconds}s" -s "$root/load_tests/wrk/agent-cold.lua" "${auth[@]}" "$host")
    s2=$(cpu "$pid") p2=$(postgres_cpu) r2=$(cpu "$redis")
    [ "$side" = platform ] && offset=$((offset + slice))
    if grep -q "Non-2xx" <<<"$out"; then echo "cpu-per-miss: round $r, $side answered errors" >&2; fi
    requests=$(awk '/requests in/ {print $1}' <<<"$out")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    awk -v side="$side" -v r="$r" -v rps="$rps" -v n="$requests" -v s=$((s2 - s1)) -v p=$((p2 - p1)) -v k=$((r2 - r1)) -v t="$tick" \
      'BEGIN { printf "round %d %-9s rps %9.0f  server %6.1f us  postgres %6.1f us  redis %5.1f us per request\n", r, side, rps, s * 1e6 / t / n, p * 1e6 / t / n, k * 1e6 / t / n }'
  done
done

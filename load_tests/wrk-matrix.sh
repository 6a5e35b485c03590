#!/usr/bin/env bash
# Runs wrk against one endpoint of the server run.sh started, for several wrk thread/connection
# settings, each RUNS times, and prints one line per run: throughput, p50, p99, non-2xx, socket
# errors, the 1-minute load average before the run and the CPU seconds the server and wrk used.
# The CPU split shows how much of the 2 cores the load generator took from the server.
#
#   load_tests/run.sh exec load_tests/wrk-matrix.sh health|me|login [RUNS] ["-t2 -c64" ...]
#
# Needs TEMPONEST_HOST, SERVER_PID and TOKEN (run.sh exec exports them). DURATION (default 20s).
set -euo pipefail
endpoint="${1:?health|me|login}"
runs="${2:-2}"
shift $(($# >= 2 ? 2 : 1))
[ $# -gt 0 ] || set -- "-t2 -c64" "-t1 -c16"
duration="${DURATION:-20s}"
tick=$(getconf CLK_TCK)

server_cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }

args=()
case "$endpoint" in
  health) url="$TEMPONEST_HOST/health" ;;
  me) url="$TEMPONEST_HOST/auth/me"; args=(-H "Authorization: Bearer $TOKEN") ;;
  login)
    url="$TEMPONEST_HOST/auth/login"
    email=$(curl -sf -H "Authorization: Bearer $TOKEN" "$TEMPONEST_HOST/auth/me" | jq -r .email)
    script=$(mktemp --suffix=.lua)
    trap 'rm -f "$script"' EXIT
    cat >"$script" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"$email","password":"load-test Password 1234!"}'
EOF
    args=(-s "$script" --timeout 10s)
    ;;
  *) echo "unknown endpoint $endpoint" >&2; exit 2 ;;
esac

printf '%-10s %-12s %4s %10s %9s %9s %8s %7s %6s %8s %6s\n' \
  endpoint wrk run rps p50 p99 non2xx sockerr load1 srv_cpu wrk_cpu
for setting in "$@"; do
  for run in $(seq 1 "$runs"); do
    load=$(cut -d' ' -f1 /proc/loadavg)
    before=$(server_cpu_ticks)
    out=$(/usr/bin/time -f 'WRKCPU %U %S' wrk $setting -d"$duration" --latency "${args[@]}" "$url" 2>&1)
    after=$(server_cpu_ticks)
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out"); non2xx=${non2xx:-0}
    sockerr=$(awk '/Socket errors/ {print $4 $6 $8 $10}' <<<"$out"); sockerr=${sockerr:-0}
    wrkcpu=$(awk '/WRKCPU/ {printf "%.1f", $2 + $3}' <<<"$out")
    srvcpu=$(awk -v a="$after" -v b="$before" -v t="$tick" 'BEGIN {printf "%.1f", (a - b) / t}')
    printf '%-10s %-12s %4s %10s %9s %9s %8s %7s %6s %8s %6s\n' \
      "$endpoint" "$setting" "$run" "$rps" "$p50" "$p99" "$non2xx" "$sockerr" "$load" "$srvcpu" "$wrkcpu"
  done
done

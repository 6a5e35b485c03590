#!/usr/bin/env bash
# Runs wrk against one endpoint of the server run.sh started, for several wrk thread/connection
# settings, each RUNS times, and prints one line per run: throughput, p50, p99, non-2xx, socket
# errors, the 1-minute load average before the run and the CPU seconds the server and wrk used.
# The CPU split shows how much of the 2 cores the load generator took from the server.
#
#   load_tests/run.sh exec load_tests/wrk-matrix.sh ENDPOINT [RUNS] ["-t2 -c64" ...]
#
# ENDPOINT: health, me, login, agent (GET /agents/{id}), agents-list (GET /agents/?limit=20;
# creates 20 agents first), agent-create (POST /agents/, wrk/agent-create.lua) or execute
# (POST /agents/{id}/execute on an echo agent, wrk/execute.lua).
#
# Needs TEMPONEST_HOST, SERVER_PID, TOKEN and AGENT_ID (run.sh exec exports them). DURATION
# (default 20s).
set -euo pipefail
endpoint="${1:?health|me|login|agent|agents-list|agent-create|execute}"
here="$(cd "$(dirname "$0")" && pwd)"
runs="${2:-2}"
shift $(($# >= 2 ? 2 : 1))
[ $# -gt 0 ] || set -- "-t2 -c64" "-t1 -c16"
duration="${DURATION:-20s}"
tick=$(getconf CLK_TCK)

server_cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }

# Creates an echo agent with a fresh name in TOKEN's tenant (fails the script if it cannot).
create_agent() {
  curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
    -d "{\"name\":\"wrk-$(cat /proc/sys/kernel/random/uuid)\",\"model\":\"echo-1\",\"provider\":\"echo\"}" \
    "$TEMPONEST_HOST/agents/"
}

auth=(-H "Authorization: Bearer ${TOKEN:-}")
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
  agent) url="$TEMPONEST_HOST/agents/$AGENT_ID"; args=("${auth[@]}") ;;
  agents-list)
    # The tenant already has AGENT_ID; 20 more keep every page full.
    for _ in $(seq 1 20); do create_agent; done
    url="$TEMPONEST_HOST/agents/?limit=20"; args=("${auth[@]}")
    ;;
  agent-create) url="$TEMPONEST_HOST/agents/"; args=("${auth[@]}" -s "$here/wrk/agent-create.lua") ;;
  execute) url="$TEMPONEST_HOST/agents/$AGENT_ID/execute"; args=("${auth[@]}" -s "$here/wrk/execute.lua") ;;
  *) echo "unknown endpoint $endpoint" >&2; exit 2 ;;
esac

printf '%-12s %-12s %4s %10s %9s %9s %8s %7s %6s %8s %6s\n' \
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
    printf '%-12s %-12s %4s %10s %9s %9s %8s %7s %6s %8s %6s\n' \
      "$endpoint" "$setting" "$run" "$rps" "$p50" "$p99" "$non2xx" "$sockerr" "$load" "$srvcpu" "$wrkcpu"
  done
done

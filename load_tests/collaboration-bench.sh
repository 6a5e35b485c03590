#!/usr/bin/env bash
# The platform's own overhead per collaboration step, and a 20-agent parallel session (issue 15):
#   load_tests/run.sh exec load_tests/collaboration-bench.sh [SESSIONS] [AGENTS]
# Creates AGENTS (default 5) echo agents and runs SESSIONS (default 50) sequential sessions
# over them one after another (wait: true, so each request returns the finished session). Per
# session, Postgres gives its span (created_at → completed_at) and the sum of its executions'
# own run time (started_at → completed_at); the platform's overhead per step is
# (span − executions' time) / steps: validation, the session and step rows, the step
# transactions, the task hand-offs and the engine's bookkeeping. p50/p99 over the sessions.
# Then 20 echo agents run one parallel session with 20 messages, 5 times; the wall time is
# both the client's (curl) and the session's span. The server's step concurrency is its
# TEMPONEST_COLLABORATION__MAX_CONCURRENT_STEPS (default 4; set it before run.sh to compare).
set -euo pipefail
sessions="${1:-50}"
agents="${2:-5}"
: "${TEMPONEST_HOST:?run through load_tests/run.sh exec}" "${TOKEN:?}" "${LOAD_DATABASE_URL:?}"
auth=(-H "Authorization: Bearer $TOKEN" -H 'content-type: application/json')

make_agents() { # prefix count -> JSON array of ids
  local ids=()
  for i in $(seq 1 "$2"); do
    ids+=("$(curl -sf "${auth[@]}" -X POST "$TEMPONEST_HOST/agents/" \
      -d "{\"name\":\"$1-$i\",\"model\":\"echo-1\",\"provider\":\"echo\"}" | jq -r .id)")
  done
  printf '%s\n' "${ids[@]}" | jq -R . | jq -sc .
}

chain=$(make_agents "chain-$$" "$agents")
echo "collaboration-bench: $sessions sequential sessions of $agents echo agents, one at a time"
start=$(date +%s.%N)
for n in $(seq 1 "$sessions"); do
  curl -sf -o /dev/null "${auth[@]}" -X POST "$TEMPONEST_HOST/collaboration/execute" \
    -d "{\"pattern\":\"sequential\",\"agent_ids\":$chain,\"initial_message\":\"message $n\",
         \"config\":{\"pass_full_history\":false}}"
done
echo "  client: $(echo "($(date +%s.%N) - $start) * 1000 / $sessions" | bc -l | xargs printf '%.2f') ms per session"
psql -q -X "$LOAD_DATABASE_URL" <<SQL
with per_session as (
  select s.id,
         extract(epoch from s.completed_at - s.created_at) * 1000 as span_ms,
         sum(extract(epoch from e.completed_at - e.started_at)) * 1000 as executions_ms,
         count(*) as steps
  from agents.collaboration_sessions s
  join agents.collaboration_steps st on st.session_id = s.id
  join agents.executions e on e.id = st.execution_id
  where s.pattern = 'sequential' and s.status = 'completed'
  group by s.id, s.created_at, s.completed_at
)
select count(*) as sessions,
       round(percentile_cont(0.5) within group (order by span_ms)::numeric, 2) as span_p50_ms,
       round(percentile_cont(0.5) within group (order by executions_ms / steps)::numeric, 3) as execution_p50_ms,
       round(percentile_cont(0.5) within group (order by (span_ms - executions_ms) / steps)::numeric, 3) as overhead_per_step_p50_ms,
       round(percentile_cont(0.99) within group (order by (span_ms - executions_ms) / steps)::numeric, 3) as overhead_per_step_p99_ms
from per_session;
SQL

wide=$(make_agents "wide-$$" 20)
messages=$(jq -nc '[range(20) | "task \(.)"]')
echo "collaboration-bench: one parallel session of 20 echo agents, 5 times"
for n in 1 2 3 4 5; do
  curl -sf -o /dev/null -w "  client %{time_total}s\n" "${auth[@]}" -X POST \
    "$TEMPONEST_HOST/collaboration/execute" \
    -d "{\"pattern\":\"parallel\",\"agent_ids\":$wide,\"messages\":$messages}"
done
psql -q -X "$LOAD_DATABASE_URL" <<SQL
select round((extract(epoch from s.completed_at - s.created_at) * 1000)::numeric, 2) as span_ms,
       count(*) as steps, s.status
from agents.collaboration_sessions s
join agents.collaboration_steps st on st.session_id = s.id
where s.pattern = 'parallel'
group by s.id order by s.created_at;
SQL

#!/usr/bin/env bash
# Cost reports and the dashboard over 1,000,000 cost records of one tenant (issue 13):
#   load_tests/run.sh exec load_tests/costs-bench.sh [ROWS]
# Inserts ROWS (default 1,000,000) cost records spread over the last 30 days (20 agents, 3
# providers, 4 models) and 200,000 executions of the tenant's agent over the same period,
# ANALYZEs (the hourly roll-up is filled by the insert's trigger), compares the summary's
# aggregation over raw records and over the roll-up in SQL, then measures each endpoint one request at a time (curl, 5) and with wrk
# (-t2 -c4 -d10s --latency):
#   GET /costs/summary?start_date=<30 days ago>   (reaches now: computed on every request)
#   GET /costs/summary?start_date=<30 days ago>&end_date=<yesterday>   (settled: cached 30 s)
#   GET /costs/daily?days=30, GET /costs/by-model
#   GET /dashboard/metrics                        (cached 30 s per tenant)
# and the dashboard uncached: the first request after its entry expired, 3 times (curl).
set -euo pipefail
rows="${1:-1000000}"
: "${TEMPONEST_HOST:?run through load_tests/run.sh exec}" "${TOKEN:?}" "${AGENT_ID:?}" "${LOAD_DATABASE_URL:?}"
tenant=$(curl -sf "$TEMPONEST_HOST/auth/me" -H "Authorization: Bearer $TOKEN" | jq -r .tenant_id)
echo "costs-bench: tenant $tenant, $rows cost records"
start=$(date +%s.%N)
psql -q -v ON_ERROR_STOP=1 "$LOAD_DATABASE_URL" <<SQL
insert into agents.cost_records (id, tenant_id, agent_id, execution_id, provider, model,
    prompt_tokens, completion_tokens, cost_nanos, unpriced, usage_estimated, price_source,
    duration_ms, status, streamed, created_at)
select gen_random_uuid(), '$tenant', a.ids[1 + i % 20], null,
       (array['openai','anthropic','ollama'])[1 + i % 3],
       (array['gpt-4o','claude-sonnet','llama3','gpt-4o-mini'])[1 + i % 4],
       100 + i % 900, 50 + i % 400, 1000 + i % 100000, i % 50 = 0, false, 'shipped',
       100 + i % 2000, 'success', false, now() - (i % 2592000) * interval '1 second'
from generate_series(1, $rows) i,
     (select array_agg(gen_random_uuid()) as ids from generate_series(1, 20)) a;
insert into agents.executions (id, tenant_id, agent_id, status, outcome, user_message,
    provider, model, created_at, started_at, completed_at)
select gen_random_uuid(), '$tenant', '$AGENT_ID',
       (array['completed','completed','completed','failed'])[1 + i % 4],
       (array['completed','completed','completed','failed'])[1 + i % 4], 'x', 'echo', 'echo-1',
       now() - (i * 13 % 2592000) * interval '1 second',
       now() - (i * 13 % 2592000) * interval '1 second',
       now() - (i * 13 % 2592000) * interval '1 second' + (i % 5000) * interval '1 millisecond'
from generate_series(1, 200000) i;
analyze agents.cost_records;
analyze agents.cost_hourly;
analyze agents.executions;
SQL
echo "costs-bench: inserted and analysed in $(echo "$(date +%s.%N) - $start" | bc) s"
since=$(date -u -d '30 days ago' +%Y-%m-%d)
# The summary's aggregation in SQL, before (every raw record) and after the hourly roll-up
# (whole hours from agents.cost_hourly, the partial last hour from the records), same data.
echo "== summary SQL over 30 days: raw records vs roll-up (EXPLAIN ANALYZE execution time, 3 each)"
until_now=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
hour=$(date -u +%Y-%m-%dT%H:00:00Z)
for n in 1 2 3; do
  psql -qAt "$LOAD_DATABASE_URL" -c "explain (analyze, timing off)
    select grouping(provider, model, agent_id), provider, model, agent_id, sum(cost_nanos), count(*),
           sum(prompt_tokens), sum(completion_tokens), count(*) filter (where unpriced)
    from agents.cost_records where tenant_id = '$tenant' and created_at >= '$since' and created_at < '$until_now'
    group by grouping sets ((provider), (model), (agent_id), ())" | grep -o "Execution Time.*" | sed 's/^/  raw:     /'
  psql -qAt "$LOAD_DATABASE_URL" -c "explain (analyze, timing off)
    select grouping(provider, model, agent_id), provider, model, agent_id, sum(cost_nanos), sum(calls),
           sum(input_tokens), sum(output_tokens), sum(unpriced_calls)
    from (select provider, model, agent_id, cost_nanos, calls, input_tokens, output_tokens, unpriced_calls
          from agents.cost_hourly where tenant_id = '$tenant' and hour >= '$since' and hour < '$hour'
          union all
          select provider, model, agent_id, cost_nanos, 1, prompt_tokens, completion_tokens, unpriced::int
          from agents.cost_records where tenant_id = '$tenant' and created_at >= '$hour' and created_at < '$until_now') u
    group by grouping sets ((provider), (model), (agent_id), ())" | grep -o "Execution Time.*" | sed 's/^/  roll-up: /'
done
yesterday=$(date -u -d 'yesterday' +%Y-%m-%d)
for path in "/costs/summary?start_date=$since" "/costs/summary?start_date=$since&end_date=$yesterday" \
            "/costs/daily?days=30" "/costs/by-model" "/dashboard/metrics"; do
  echo "== GET $path: one at a time (curl, 5 requests)"
  for n in 1 2 3 4 5; do
    curl -s -o /dev/null -w "  %{http_code} %{time_total}s\n" -H "Authorization: Bearer $TOKEN" \
      "$TEMPONEST_HOST$path"
  done
  echo "   wrk -t2 -c4 -d10s --timeout 30s:"
  wrk -t2 -c4 -d10s --timeout 30s --latency -H "Authorization: Bearer $TOKEN" "$TEMPONEST_HOST$path" \
    | grep -E "Requests/sec| 50%| 99%|Non-2xx|Socket errors"
done
echo "== GET /dashboard/metrics uncached (first request after the 30 s entry expired)"
for n in 1 2 3; do
  sleep 31
  curl -s -o /dev/null -w "  %{time_total}s\n" -H "Authorization: Bearer $TOKEN" \
    "$TEMPONEST_HOST/dashboard/metrics"
done

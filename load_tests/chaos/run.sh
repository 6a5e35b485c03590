#!/usr/bin/env bash
# Fault injection against the all-in-one `temponest` binary, on a throwaway Postgres cluster
# and Redis of its own (never the shared ones on 5432/6379: those are refused).
#
#   load_tests/chaos/run.sh [SCENARIO...]        (default: all four)
#
#   kill-execution   every-5-s schedules on a slow model (SLOW_SECS); kill -9 while runs are in
#                    flight, restart after OUTAGE_SECS; reports how long the in-flight runs took
#                    to finish after the restart, fires skipped/missed around the outage, late
#                    fires after it, duplicate agent executions and stuck runs
#   kill-delivery    EVENTS events to a local receiver that answers after RECEIVER_DELAY_MS;
#                    kill -9 mid-delivery, restart after OUTAGE_SECS; reports lost, duplicated
#                    and late deliveries (those leased by the killed process)
#   redis-down       GET load on cached reads; Redis kill -9 for OUTAGE_SECS, then restarted;
#                    reports the answers per phase (load_tests/chaos/phases.py)
#   postgres-down    the same with `pg_ctl stop -m immediate` for OUTAGE_SECS
#
# Environment: TEMPONEST_BIN (default: the release binary under CARGO_TARGET_DIR or target/),
# CHAOS_PG_PORT (55432), CHAOS_REDIS_PORT (56379), CHAOS_PORT (19500: the server; the slow model
# and the receiver use +60 and +70), OUTAGE_SECS (5; 10 for the two infrastructure faults),
# SLOW_SECS (4), SCHEDULES (5), AFTER_SECS (30: how long kill-execution watches after the restart), EVENTS (3000), RECEIVER_DELAY_MS (200), LOAD_THREADS (4),
# KEEP=1 keeps the work directory (logs, CSVs, the cluster). Needs python3, psql, jq, curl,
# redis-server and a PostgreSQL server installation (/usr/lib/postgresql/*/bin).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
. "$here/../start-serve.sh"
bin="${TEMPONEST_BIN:-}"
if [ -z "$bin" ]; then
  for candidate in "${CARGO_TARGET_DIR:-$root/target}/release/temponest" "$root/target/release/temponest"; do
    [ -x "$candidate" ] && { bin="$candidate"; break; }
  done
fi
[ -x "$bin" ] || { echo "chaos: no temponest binary; cargo build --release -p temponest or set TEMPONEST_BIN" >&2; exit 1; }

pg_port="${CHAOS_PG_PORT:-55432}"
redis_port="${CHAOS_REDIS_PORT:-56379}"
port="${CHAOS_PORT:-19500}"
llm_port=$((port + 60))
receiver_port=$((port + 70))
if [ "$pg_port" = 5432 ] || [ "$redis_port" = 6379 ]; then
  echo "chaos: refusing to use the shared Postgres (5432) or Redis (6379)" >&2
  exit 1
fi
port_in_use() { ss -ltn "sport = :$1" | grep -q LISTEN; }
for p in "$pg_port" "$redis_port" "$port" "$llm_port" "$receiver_port"; do
  if port_in_use "$p"; then echo "chaos: port $p is in use" >&2; exit 1; fi
done

pgbin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
work="$(mktemp -d /tmp/temponest-chaos.XXXXXX)"
chmod 755 "$work"
host="http://127.0.0.1:$port"
log="$work/server.log"
echo "chaos: binary $bin, work directory $work"

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
pg_ctl_() { as_postgres "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg.log" "$@"; }
now_ns() { date +%s%N; }

start_postgres() {
  if [ ! -d "$work/pg" ]; then
    mkdir "$work/pg"
    [ "$(id -u)" = 0 ] && chown postgres "$work/pg"
    as_postgres "$pgbin/initdb" -D "$work/pg" -U postgres --auth=trust >/dev/null
    touch "$work/pg.log" && { [ "$(id -u)" = 0 ] && chown postgres "$work/pg.log" || true; }
  fi
  pg_ctl_ -w -o "-p $pg_port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$work/pg -c fsync=off -c max_connections=200" start >/dev/null
}
redis_pid=""
start_redis() {
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
  redis_pid=$!
  for _ in $(seq 1 200); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && return; sleep 0.05; done
  echo "chaos: redis did not start" >&2; exit 1
}

db=""
psql_db() { psql -X -q -At -h 127.0.0.1 -p "$pg_port" -U postgres -d "$db" -P pager=off "$@"; }

server_pid=""
start_server() {
  env -u OTEL_EXPORTER_OTLP_ENDPOINT \
    DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/$db" \
    REDIS_URL="redis://127.0.0.1:$redis_port" \
    TEMPONEST_PORTS="$port" BIND_ADDRESS=127.0.0.1 \
    RATE_LIMIT_ENABLED=false \
    TEMPONEST_LOGIN_PER_MINUTE=1000000 TEMPONEST_REGISTER_PER_HOUR=1000000 \
    WEBHOOKS_ALLOWED_NETWORKS=127.0.0.0/8 \
    TEMPONEST_PROVIDERS__SLOW__KIND=openai \
    TEMPONEST_PROVIDERS__SLOW__BASE_URL="http://127.0.0.1:$llm_port/v1" \
    TEMPONEST_PROVIDERS__SLOW__API_KEY=chaos \
    TEMPONEST_PROVIDERS__SLOW__MAX_RETRIES=0 \
    RUST_LOG="${RUST_LOG:-warn}" \
    "$bin" serve >>"$log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 3000); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$host/health/ready" 2>/dev/null)" = 200 ] && return 0
    kill -0 "$server_pid" 2>/dev/null || { echo "chaos: server exited; see $log" >&2; exit 1; }
    sleep 0.02
  done
  echo "chaos: server not ready after 60 s; see $log" >&2
  exit 1
}
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
kill_server() {
  kill -9 "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

helpers=()
cleanup() {
  stop_server
  for pid in "${helpers[@]}" "$redis_pid"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  [ -f "$work/pg/postmaster.pid" ] && pg_ctl_ -m immediate stop >/dev/null 2>&1 || true
  if [ -z "${KEEP:-}" ]; then rm -rf "$work"; else echo "chaos: kept $work"; fi
}
trap cleanup EXIT

# Registers an account and prints its access token.
token() {
  sign_up "$host" "chaos-$(cat /proc/sys/kernel/random/uuid)@example.test" "chaos Password 1234!"
}
post() { curl -sf -H "Authorization: Bearer $1" -H 'content-type: application/json' -d "$3" "$host$2"; }

# `crash_and_restart SECS SQL`: kill -9 of the server, then SQL (to record what the killed
# process left in flight), SECS of outage and a restart; sets the caller's t_kill and
# t_restart (ns).
crash_and_restart() {
  t_kill=$(now_ns)
  kill_server
  psql_db -c "$2"
  sleep "$1"
  t_restart=$(now_ns)
  start_server
}

# A fresh database and a server on it.
fresh() {
  db="chaos_${1//-/_}_$$"
  psql -X -q -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -c "create database $db" >/dev/null
  redis-cli -p "$redis_port" flushall >/dev/null
  start_server
}

kill_execution() {
  local outage="${OUTAGE_SECS:-5}" slow="${SLOW_SECS:-4}" schedules="${SCHEDULES:-5}"
  python3 "$here/slow_llm.py" "$llm_port" "$slow" &
  helpers+=($!)
  fresh execution
  local tok agent i
  tok=$(token)
  agent=$(post "$tok" /agents/ '{"name":"slow","model":"slow-1","provider":"slow"}' | jq -r .id)
  for i in $(seq 1 "$schedules"); do
    post "$tok" /schedules/ "{\"name\":\"chaos-$i\",\"agent_id\":\"$agent\",\"interval_seconds\":5,\"timeout_seconds\":120,\"task_config\":{\"user_message\":\"chaos $i\"}}" >/dev/null
  done
  sleep 12
  until [ "$(psql_db -c "select count(*) from scheduler.executions where status = 'running'")" -ge 1 ]; do sleep 0.1; done
  local t_kill t_restart t_end
  crash_and_restart "$outage" "create table public.chaos_in_flight as
              select id from scheduler.executions where status = 'running'"
  local ready_ms=$((($(now_ns) - t_restart) / 1000000))
  sleep "${AFTER_SECS:-30}"
  t_end=$(now_ns)
  stop_server
  echo "== kill-execution: $schedules schedules every 5 s, model ${slow} s, kill -9 at a run in flight, down ${outage} s, ready ${ready_ms} ms after the restart, watched ${AFTER_SECS:-30} s"
  psql_db -F ' | ' <<SQL
\set kill 'to_timestamp($t_kill / 1e9)'
\set restart 'to_timestamp($t_restart / 1e9)'
\set finish 'to_timestamp($t_end / 1e9)'
\pset format aligned
\pset tuples_only off
select count(*) as in_flight_at_kill,
       count(*) filter (where e.status = 'completed') as completed,
       count(*) filter (where e.status not in ('completed')) as not_completed,
       round(max(extract(epoch from e.completed_at - :restart))::numeric, 2)
         as last_done_after_restart_s,
       round(max(extract(epoch from e.completed_at - :restart))::numeric - $slow, 2)
         as last_resumed_after_restart_s_est
from public.chaos_in_flight f join scheduler.executions e using (id);
select reason,
       count(*) filter (where fire_time < :kill) as before_kill,
       count(*) filter (where fire_time >= :kill and fire_time < :restart) as during_outage,
       count(*) filter (where fire_time >= :restart
                          and fire_time < :restart + interval '10 s') as restart_to_10s,
       count(*) filter (where fire_time >= :restart + interval '10 s') as later
from scheduler.skipped_fires group by reason order by reason;
select count(*) as fires_after_restart_10s,
       round(percentile_cont(0.5) within group (order by extract(epoch from started_at - fire_time))::numeric, 3) as p50_start_late_s,
       round(max(extract(epoch from started_at - fire_time))::numeric, 3) as max_start_late_s
from scheduler.executions
where trigger = 'schedule' and fire_time >= :restart + interval '10 s';
with used as (
  select e.id, a.value->>'agent_execution_id' as agent_execution
  from scheduler.executions e, jsonb_array_elements(e.attempts) a
  union
  select id, agent_execution_id::text from scheduler.executions where agent_execution_id is not null)
select count(distinct u.id) filter (where n > 1) as runs_with_two_completed_agent_executions
from (select u.id, count(*) as n from used u
      join agents.executions x on x.id::text = u.agent_execution and x.status = 'completed'
      group by u.id) u;
select count(*) as stuck_runs from scheduler.executions
where status in ('running', 'pending') and run_after < :finish - interval '10 s';
select outcome, count(*) as agent_executions from agents.executions group by outcome order by outcome;
SQL
}

kill_delivery() {
  local outage="${OUTAGE_SECS:-5}" events="${EVENTS:-3000}" delay="${RECEIVER_DELAY_MS:-200}"
  python3 "$here/receiver.py" "$receiver_port" "$delay" &
  helpers+=($!)
  fresh delivery
  local tok tenant
  tok=$(token)
  post "$tok" /webhooks/ "{\"name\":\"chaos\",\"url\":\"http://127.0.0.1:$receiver_port/hook\",\"events\":[\"chaos.test\"],\"retry_config\":{\"max_retries\":5,\"retry_delay_seconds\":1}}" >/dev/null
  tenant=$(psql_db -c "select tenant_id from webhooks.endpoints limit 1")
  psql_db -c "insert into platform.outbox (event_id, tenant_id, event_type, payload)
              select gen_random_uuid(), '$tenant', 'chaos.test', jsonb_build_object('seq', g)
              from generate_series(1, $events) g;
              select pg_notify('temponest_outbox', '');" >/dev/null
  until [ "$(curl -sf "http://127.0.0.1:$receiver_port/count")" -ge $((events / 10)) ]; do sleep 0.1; done
  local t_kill t_restart
  crash_and_restart "$outage" "create table public.chaos_orphans as
              select event_id from webhooks.deliveries
              where leased_by is not null and status in ('pending', 'retrying')"
  local deadline=$(($(date +%s) + 300))
  until [ "$(psql_db -c "select count(*) from webhooks.deliveries where status = 'success'")" -ge "$events" ]; do
    [ "$(date +%s)" -ge "$deadline" ] && { echo "chaos: deliveries not settled after 300 s" >&2; break; }
    sleep 0.2
  done
  local t_done
  t_done=$(now_ns)
  stop_server
  curl -sf "http://127.0.0.1:$receiver_port/dump" >"$work/received.csv"
  echo "== kill-delivery: $events events, receiver answers after ${delay} ms, kill -9 after $((events / 10)) received, down ${outage} s; all settled $(((t_done - t_restart) / 1000000)) ms after the restart"
  psql_db -F ' | ' <<SQL
\set restart 'to_timestamp($t_restart / 1e9)'
\pset format aligned
\pset tuples_only off
create temp table recv (webhook_id text, received_unix_ns bigint);
\copy recv from '$work/received.csv' with (format csv)
select (select count(*) from platform.outbox where event_type = 'chaos.test') as events,
       (select count(*) from recv) as requests,
       (select count(distinct webhook_id) from recv) as distinct_received,
       (select count(*) from platform.outbox o where event_type = 'chaos.test'
          and not exists (select 1 from recv r where r.webhook_id = o.event_id::text)) as lost,
       (select count(*) from recv) - (select count(distinct webhook_id) from recv) as duplicates,
       (select count(*) from webhooks.deliveries where status <> 'success') as not_success;
select count(*) as leased_by_killed_process,
       count(*) filter (where first_after_s > 10) as late_over_10s_after_restart,
       round(percentile_cont(0.5) within group (order by first_after_s)::numeric, 2) as p50_redelivered_after_restart_s,
       round(max(first_after_s)::numeric, 2) as max_redelivered_after_restart_s
from (select o.event_id,
             (min(r.received_unix_ns) filter (where r.received_unix_ns >= $t_restart) - $t_restart) / 1e9
               as first_after_s
      from public.chaos_orphans o left join recv r on r.webhook_id = o.event_id::text
      group by o.event_id) x;
SQL
}

# outage_under_load NAME FAULT_CMD REPAIR_CMD: 30 s of GET load, the fault at 10 s, the repair
# OUTAGE_SECS later; prints phases.py's summary.
outage_under_load() {
  local name="$1" fault="$2" repair="$3" outage="${OUTAGE_SECS:-10}"
  fresh "$name"
  local tok agent
  tok=$(token)
  agent=$(post "$tok" /agents/ '{"name":"cached","model":"echo-1","provider":"echo"}' | jq -r .id)
  python3 "$here/load.py" "$host" "$tok" $((20 + outage)) "${LOAD_THREADS:-4}" "$work/$name.csv" \
    "/agents/$agent" /auth/me /agents/ /schedules/ /webhooks/ &
  local load=$!
  sleep 10
  local t_fault t_repair
  t_fault=$(now_ns)
  eval "$fault"
  sleep "$outage"
  t_repair=$(now_ns)
  eval "$repair"
  wait "$load"
  stop_server
  echo "== $name: GET /agents/{id}, /auth/me, /agents/ (cached), /schedules/, /webhooks/ (Postgres) from ${LOAD_THREADS:-4} keep-alive clients; fault at 10 s for ${outage} s"
  python3 "$here/phases.py" "$work/$name.csv" "$t_fault" "$t_repair"
}

start_postgres
start_redis
scenarios=("$@")
[ ${#scenarios[@]} -eq 0 ] && scenarios=(kill-execution kill-delivery redis-down postgres-down)
for scenario in "${scenarios[@]}"; do
  case "$scenario" in
    kill-execution) kill_execution ;;
    kill-delivery) kill_delivery ;;
    redis-down)
      outage_under_load redis-down 'kill -9 "$redis_pid"; wait "$redis_pid" 2>/dev/null || true' 'start_redis' ;;
    postgres-down)
      outage_under_load postgres-down 'pg_ctl_ -m immediate stop >/dev/null' 'start_postgres' ;;
    *) echo "chaos: unknown scenario $scenario" >&2; exit 1 ;;
  esac
done

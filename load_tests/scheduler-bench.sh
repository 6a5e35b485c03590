#!/usr/bin/env bash
# Scheduler measurements, run inside `load_tests/run.sh exec` (which starts a release
# `temponest serve` with one scheduler engine on a fresh database and exports TEMPONEST_HOST,
# TOKEN, AGENT_ID and LOAD_DATABASE_URL). Set TEMPONEST_SERVICE_CLIENT_SECRET (e.g. $(openssl rand -hex 32)) in
# the environment of run.sh so extra engines can share the server's service identity.
#
#   scheduler-bench.sh lateness [SCHEDULES] [SECONDS]   SCHEDULES (default 20) schedules firing
#       every second ("* * * * * *") for SECONDS (default 60); prints fire → queued and
#       fire → started lateness p50/p99/max over every execution after the first 2 s.
#   scheduler-bench.sh burst [SCHEDULES] [EXTRA_ENGINES]  SCHEDULES (default 1000) one-shot
#       schedules all due at the same instant; EXTRA_ENGINES (default 0) standalone
#       temponest-scheduler processes join the server's engine; prints the time from the due
#       instant until the last one was queued, started and completed.
#   scheduler-bench.sh idle [SECONDS] [SCHEDULES]  a standalone temponest-scheduler on its own
#       database with SCHEDULES (default 1000) schedules none of which is due; prints the
#       transactions per second it causes in Postgres over SECONDS (default 60).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
: "${TEMPONEST_HOST:?run inside load_tests/run.sh exec}" "${LOAD_DATABASE_URL:?}" "${TOKEN:?}" "${AGENT_ID:?}"
sched_bin="${SCHEDULER_BIN:-$root/target/release/temponest-scheduler}"
secret="${TEMPONEST_SERVICE_CLIENT_SECRET:-}"
sql() { psql -X -q -t -A "$LOAD_DATABASE_URL" -c "$1"; }
mode="${1:?usage: scheduler-bench.sh lateness|burst|idle ...}"
shift

extra_pids=()
cleanup() { for p in "${extra_pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# Starts a standalone scheduler engine against DATABASE ($1) calling the server.
start_engine() {
  [ -x "$sched_bin" ] || { echo "missing $sched_bin: cargo build --release -p temponest-scheduler" >&2; exit 1; }
  [ -n "$secret" ] || { echo "set TEMPONEST_SERVICE_CLIENT_SECRET for run.sh" >&2; exit 1; }
  local port=$((19300 + RANDOM % 500))
  # Small pools: the server (60) and two extra engines must fit in Postgres' 100 connections.
  env -u OTEL_EXPORTER_OTLP_ENDPOINT DATABASE_URL="$1" PORT="$port" RUST_LOG=warn DATABASE_MAX_CONNECTIONS=12 \
    REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}" TEMPONEST_REDIS_KEY_PREFIX="tnload$$" \
    TEMPONEST_AUTH_URL="$TEMPONEST_HOST" TEMPONEST_AGENTS_URL="$TEMPONEST_HOST" \
    TEMPONEST_SERVICE_CLIENT_SECRET="$secret" RATE_LIMIT_ENABLED=false \
    "$sched_bin" >>"/tmp/temponest-scheduler-$$.log" 2>&1 &
  extra_pids+=($!)
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "engine on port $port did not get ready (see /tmp/temponest-scheduler-$$.log)" >&2
  exit 1
}

percentiles() { # $1: SQL expression in seconds, $2: where clause
  sql "select count(*),
          round((percentile_cont(0.5) within group (order by $1) * 1000)::numeric, 1),
          round((percentile_cont(0.99) within group (order by $1) * 1000)::numeric, 1),
          round((max($1) * 1000)::numeric, 1)
       from scheduler.executions where $2" |
    awk -F'|' '{printf "n=%s p50=%s ms p99=%s ms max=%s ms\n", $1, $2, $3, $4}'
}

case "$mode" in
  lateness)
    n="${1:-20}" secs="${2:-60}"
    for i in $(seq 1 "$n"); do
      curl -fs -o /dev/null -X POST "$TEMPONEST_HOST/schedules/" -H "Authorization: Bearer $TOKEN" \
        -H 'content-type: application/json' \
        -d "{\"agent_id\":\"$AGENT_ID\",\"name\":\"tick-$i\",\"cron_expression\":\"* * * * * *\",\"overlap_policy\":\"allow\",\"task_config\":{\"user_message\":\"tick\"}}"
    done
    echo "lateness: $n schedules firing every second for $secs s"
    sleep "$secs"
    sql "update scheduler.schedules set is_active = false, next_run = null" >/dev/null
    sleep 2
    since="fire_time > (select min(fire_time) + interval '2 s' from scheduler.executions)"
    echo -n "fire -> queued:  "; percentiles "extract(epoch from created_at - fire_time)" "$since"
    echo -n "fire -> started: "; percentiles "extract(epoch from started_at - fire_time)" "$since and started_at is not null"
    echo -n "completed: "; sql "select count(*) filter (where status = 'completed') || ' of ' || count(*) from scheduler.executions where $since"
    ;;
  burst)
    n="${1:-1000}" extra="${2:-0}"
    for _ in $(seq 1 "$extra"); do start_engine "$LOAD_DATABASE_URL"; done
    tenant=$(sql "select tenant_id from agents.agents where id = '$AGENT_ID'")
    due=$(sql "select to_char(date_trunc('second', now()) + interval '10 s', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') from (select set_config('timezone', 'UTC', true)) s")
    sql "insert into scheduler.schedules (id, tenant_id, agent_id, name, schedule_type, run_at, anchor,
           task_config, overlap_policy, next_run)
         select gen_random_uuid(), '$tenant', '$AGENT_ID', 'burst-' || g, 'once', '$due', now(),
           '{\"user_message\": \"burst\"}', 'allow', '$due'
         from generate_series(1, $n) g; select pg_notify('temponest_scheduler', '')" >/dev/null
    echo "burst: $n one-shot schedules due at $due, $((extra + 1)) engine(s)"
    for _ in $(seq 1 600); do
      done_count=$(sql "select count(*) from scheduler.executions where status in ('completed', 'failed')")
      [ "$done_count" -ge "$n" ] && break
      sleep 0.5
    done
    sql "select 'queued ' || count(*) || ', last ' || round((extract(epoch from max(created_at) - '$due'::timestamptz) * 1000)::numeric) || ' ms after due; '
              || 'started ' || count(started_at) || ', last ' || round((extract(epoch from max(started_at) - '$due'::timestamptz) * 1000)::numeric) || ' ms; '
              || 'finished ' || count(completed_at) || ', last ' || round((extract(epoch from max(completed_at) - '$due'::timestamptz) * 1000)::numeric) || ' ms; '
              || 'completed ' || count(*) filter (where status = 'completed')
         from scheduler.executions"
    echo -n "fire -> started: "; percentiles "extract(epoch from started_at - fire_time)" "started_at is not null"
    ;;
  idle)
    secs="${1:-60}" n="${2:-1000}"
    idle_db="${LOAD_DATABASE_URL}_idle"
    name="${idle_db##*/}"
    psql -X -q "${LOAD_DATABASE_URL%/*}/postgres" -c "drop database if exists $name" -c "create database $name"
    DATABASE_URL="$idle_db" "$root/target/release/temponest" migrate >/dev/null
    psql -X -q "$idle_db" -c "insert into scheduler.schedules (id, tenant_id, agent_id, name, schedule_type, cron_expression, anchor, task_config, next_run)
      select gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), 'idle-' || g, 'cron', '0 3 1 1 *', now(), '{\"user_message\": \"x\"}', now() + interval '30 days'
      from generate_series(1, $n) g"
    secret="${secret:-idle-measurement-secret-0123456789abcdef}"
    start_engine "$idle_db"
    sleep 5
    xacts() { psql -X -q -t -A "${LOAD_DATABASE_URL%/*}/postgres" -c "select xact_commit + xact_rollback from pg_stat_database where datname = '$name'"; }
    before=$(xacts)
    sleep "$secs"
    after=$(xacts)
    # Each xacts() call is itself one transaction on the postgres database, not on $name.
    echo "idle: $n schedules (none due), 1 engine: $((after - before)) transactions in $secs s on $name = $(awk "BEGIN {printf \"%.2f\", ($after - $before) / $secs}") per second"
    cleanup; extra_pids=()
    sleep 1
    psql -X -q "${LOAD_DATABASE_URL%/*}/postgres" -c "drop database if exists $name"
    ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac

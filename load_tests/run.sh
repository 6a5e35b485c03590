#!/usr/bin/env bash
# Starts a release `temponest serve` on a spare 127.0.0.1 port against a fresh database, waits
# for /health/ready, runs one measurement against it, then stops that server (and only it) and
# drops the database. See load_tests/README.md.
#
#   load_tests/run.sh <measurement> [args...]
#
#   goose <scenario> [temponest-load options]  a goose scenario (health|register|login|me|refresh|
#                                              agent-get|agent-list|agent-create|execute-echo|
#                                              execute-echo-stream)
#   wrk-health [wrk options]                   GET /health            (default -t2 -c64 -d20s)
#   wrk-me [wrk options]                       GET /auth/me + Bearer  (default -t2 -c64 -d20s)
#   wrk-login [wrk options]                    POST /auth/login       (default -t2 -c2 -d20s; one
#                                              account, so keep it under 5 concurrent: lockout)
#   wrk-agent [wrk options]                    GET /agents/{id} of one echo agent (default -t2 -c64 -d20s)
#   wrk-agents-list [wrk options]              GET /agents/?limit=20, 20 agents (default -t2 -c64 -d20s)
#   wrk-agent-create [wrk options]             POST /agents/, a fresh name per request
#                                              (wrk/agent-create.lua; default -t2 -c32 -d20s)
#   wrk-agent-cold [wrk options]               GET /agents/{id}, every read a cache miss (400k agents
#                                              inserted with SQL; default -t2 -c64 -d8s, 3 runs; keep -t2)
#   wrk-execute [wrk options]                  POST /agents/{id}/execute, echo provider
#                                              (wrk/execute.lua; default -t2 -c32 -d20s)
#   oha-health | oha-me | oha-login [oha options]   the same with oha, if installed
#   startup                                    time to /health/ready (fresh and existing DB) and idle RSS
#   webhooks-bench [EVENTS] [ENDPOINTS]        webhook delivery: EVENTS (default 20000) events
#                                              POSTed to /events as fast as wrk can (-t2 -c16,
#                                              wrk/publish-event.lua), each delivered to ENDPOINTS
#                                              (default 1) endpoints of a local webhook-receiver;
#                                              prints publish rate, deliveries/s and commit-to-
#                                              receipt latency percentiles
#   webhooks-latency RPS [EVENTS] [ENDPOINTS]  the same, events published at a fixed RPS by
#                                              webhook-publisher (default 5000 events, 1 endpoint)
#   webhooks-sql [EVENTS] [ENDPOINTS]          the same with the EVENTS inserted into the outbox in
#                                              one SQL transaction: dispatcher (events/s) and
#                                              sender throughput without HTTP publishing
#   exec CMD...                                any command; TEMPONEST_HOST, SERVER_PID, SERVER_LOG,
#                                              TOKEN, AGENT_ID (an echo agent of TOKEN's tenant)
#                                              and LOAD_DATABASE_URL are exported
#   (scheduler measurements: load_tests/run.sh exec load_tests/scheduler-bench.sh ...)
#
# Environment: TEMPONEST_BIN (default target/release/temponest), PORT (default: first free port
# from 19100), LOAD_DB (default temponest_load_<pid>), KEEP_DB=1 keeps the database,
# SERVER_LOG (default /tmp/temponest-load-<pid>.log), SERVER_RUST_LOG (the server's RUST_LOG,
# default warn), LOGIN_CONCURRENCY for wrk-login/oha-login,
# WEBHOOKS_BENCH_TIMEOUT (seconds to wait for all deliveries, default 300), WEBHOOKS_STATS
# (webhooks-*: fresh = the queue tables keep no planner statistics during the burst, the
# default; analysed = ANALYZE them every second while it drains), WARMUP_SECS (the
# webhooks-* latency is also printed without the first WARMUP_SECS, default 1) and the server's own
# TEMPONEST_WEBHOOKS__PER_ENDPOINT_CONCURRENCY / __PER_TENANT_CONCURRENCY (passed through), and
# PG_SSLMODE: the server's `sslmode` towards Postgres on 127.0.0.1, default `disable`. TLS on
# loopback protects nothing, and the bare reference of side-by-side.sh and
# webhooks-side-by-side.sh is built without TLS, so both sides talk to Postgres the same way.
# A Postgres with `ssl = on` (Debian's default) and `prefer` (libpq's and sqlx's default) would
# encrypt every query and row of the platform only. PG_SSLMODE=prefer measures that.
# DATABASE_MAX_CONNECTIONS: the server's pool size, default 32 (the all-in-one's own default is
# 60). The side-by-side scripts start their reference with the same size, so that both pools
# fit in a stock Postgres's 100 connections: at 60 each, whichever side grew its pool second
# was refused connections ("too many clients") and waited, which skewed its figures.
# REDIS_URL (default redis://127.0.0.1:6379); set and empty (`REDIS_URL=`) starts the server
# without Redis: in-process caches and rate limits only (what the Redis tier costs).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/load_tests/start-serve.sh"
bin="${TEMPONEST_BIN:-$root/target/release/temponest}"
db="${LOAD_DB:-temponest_load_$$}"
log="${SERVER_LOG:-/tmp/temponest-load-$$.log}"
measurement="${1:?usage: run.sh <goose|wrk-health|wrk-me|wrk-login|wrk-agent|wrk-agents-list|wrk-agent-create|wrk-execute|oha-*|startup|exec> [args...]}"
shift

[ -x "$bin" ] || { echo "run.sh: $bin missing; run: cargo build --release -p temponest" >&2; exit 1; }

port_in_use() { ss -ltn "sport = :$1" | grep -q LISTEN; }
port="${PORT:-19100}"
if [ -z "${PORT:-}" ]; then
  while port_in_use "$port"; do port=$((port + 1)); done
fi
host="http://127.0.0.1:$port"

server_pid=""
start_server() {
  # Rate limiting off (throughput runs; RATE_LIMIT_ENABLED=true keeps it in the path with limits
  # no run reaches, unless RATE_LIMIT_PER_MINUTE / _PER_HOUR say otherwise), generous
  # login/register limits in case it is turned back on, warnings only, no trace export,
  # loopback only, a Redis key prefix of our own.
  # WEBHOOKS_ALLOWED_NETWORKS: webhook deliveries to loopback are refused by default (SSRF
  # guard); the webhooks-* measurements deliver to a receiver on 127.0.0.1, and nothing here
  # ever registers an endpoint anywhere else.
  env -u OTEL_EXPORTER_OTLP_ENDPOINT \
    DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db?sslmode=${PG_SSLMODE:-disable}" \
    REDIS_URL="${REDIS_URL-redis://127.0.0.1:6379}" \
    DATABASE_MAX_CONNECTIONS="${DATABASE_MAX_CONNECTIONS:-32}" \
    TEMPONEST_REDIS_KEY_PREFIX="tnload$$" \
    TEMPONEST_PORTS="$port" BIND_ADDRESS=127.0.0.1 \
    RATE_LIMIT_ENABLED="${RATE_LIMIT_ENABLED:-false}" \
    RATE_LIMIT_PER_MINUTE="${RATE_LIMIT_PER_MINUTE:-100000000}" RATE_LIMIT_PER_HOUR="${RATE_LIMIT_PER_HOUR:-1000000000}" \
    TEMPONEST_LOGIN_PER_MINUTE=1000000 TEMPONEST_REGISTER_PER_HOUR=1000000 \
    RUST_LOG="${SERVER_RUST_LOG:-warn}" \
    WEBHOOKS_ALLOWED_NETWORKS=127.0.0.0/8 \
    "$bin" serve >>"$log" 2>&1 &
  server_pid=$!
}

# Prints the milliseconds from now until /health/ready answers 200 (fails after 60 s).
wait_ready() {
  local start now
  start=$(date +%s%N)
  for _ in $(seq 1 6000); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "$host/health/ready" 2>/dev/null)" = 200 ]; then
      now=$(date +%s%N)
      echo $(((now - start) / 1000000))
      return 0
    fi
    kill -0 "$server_pid" 2>/dev/null || { echo "run.sh: server exited; see $log" >&2; return 1; }
    sleep 0.01
  done
  echo "run.sh: server not ready after 60 s; see $log" >&2
  return 1
}

stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}

receiver_pid=""
cleanup() {
  stop_server
  if [ -n "$receiver_pid" ] && kill -0 "$receiver_pid" 2>/dev/null; then
    kill -TERM "$receiver_pid"
    wait "$receiver_pid" 2>/dev/null || true
  fi
  if [ -z "${KEEP_DB:-}" ]; then
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

password="load-test Password 1234!"
# Registers a fresh account (password above) and prints "access_token email".
fresh_account() {
  local email="wrk-$(cat /proc/sys/kernel/random/uuid)@example.test" token
  token=$(sign_up "$host" "$email" "$password")
  echo "$token" "$email"
}

# Stops the run when registering or logging in the fresh account failed.
check_token() {
  case "$1" in "" | null) echo "run.sh: could not register and log in a fresh account" >&2; exit 1 ;; esac
}

# Creates an echo agent (a fresh name: names are unique per tenant) in the tenant of the
# access token $1 and prints its id (nothing if that failed).
create_agent() {
  local out
  out=$(curl -sf -H "Authorization: Bearer $1" -H 'content-type: application/json' \
    -d "{\"name\":\"wrk-$(cat /proc/sys/kernel/random/uuid)\",\"model\":\"echo-1\",\"provider\":\"echo\"}" \
    "$host/agents/") || true
  [ -z "$out" ] || jq -r .id <<<"$out" 2>/dev/null || true
}

# Stops the run when creating an agent failed.
check_agent() {
  case "$1" in "" | null) echo "run.sh: could not create an agent" >&2; exit 1 ;; esac
}

psql_db() { psql -X -q -h 127.0.0.1 -U postgres -d "$db" -P pager=off "$@"; }

# The load's events as they were committed, from their deliveries (an application event
# published without an idempotency key has no outbox row; a delivery carries its event's
# created_at): event_id, created_at (now() of the committing transaction) and fanned_out (when
# its deliveries were created: the same transaction for POST /events, a dispatcher round for
# events written to the outbox).
events_sql="(select event_id, min(event_created_at) as created_at, min(created_at) as fanned_out
   from webhooks.deliveries where event_type = 'load.test' group by event_id)"

# The commit-to-receipt latency (ms: receipt - the event's created_at, joined on webhook-id =
# event_id) of the deliveries in the temp table recv whose events match the SQL condition $1
# on o.created_at, as one query: count, p50, p95, p99 and max.
latency_sql() {
  cat <<SQL
with j as (
  select (r.received_unix_ns::numeric / 1e9 - extract(epoch from o.created_at)) * 1000 as ms
    from recv r join $events_sql o on o.event_id = r.webhook_id::uuid
   where $1)
select count(*) as joined,
       round(percentile_cont(0.50) within group (order by ms)::numeric, 2) as p50,
       round(percentile_cont(0.95) within group (order by ms)::numeric, 2) as p95,
       round(percentile_cont(0.99) within group (order by ms)::numeric, 2) as p99,
       round(max(ms), 2) as max
  from j;
SQL
}

# webhooks_bench wrk|fixed EVENTS ENDPOINTS [RPS]: starts a webhook-receiver, registers
# ENDPOINTS endpoints (/e/1 .. /e/K on it) subscribed to load.test in a fresh tenant, publishes
# EVENTS events through POST /events (wrk at full speed, or webhook-publisher at RPS), waits
# until the receiver has (published events) x ENDPOINTS requests, then reports.
webhooks_bench() {
  local how="$1" events="$2" endpoints="$3" rps="${4:-}"
  local dir="$root/load_tests"
  local rbin="$dir/target/release/webhook-receiver" pbin="$dir/target/release/webhook-publisher"
  if [ ! -x "$rbin" ] || [ ! -x "$pbin" ]; then
    (cd "$dir" && cargo build --release --bin webhook-receiver --bin webhook-publisher)
  fi
  local rport=$((port + 800))
  while port_in_use "$rport"; do rport=$((rport + 1)); done
  local receiver="http://127.0.0.1:$rport"
  "$rbin" "$rport" 2>>"$log" &
  receiver_pid=$!
  for _ in $(seq 1 500); do curl -sf -o /dev/null "$receiver/count" && break; sleep 0.01; done

  read -r TOKEN _ < <(fresh_account); check_token "$TOKEN"
  local i
  for i in $(seq 1 "$endpoints"); do
    curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
      -d "{\"name\":\"bench-$i\",\"url\":\"$receiver/e/$i\",\"events\":[\"load.test\"],\"retry_config\":{\"max_retries\":3,\"retry_delay_seconds\":1}}" \
      "$host/webhooks/" || { echo "run.sh: could not create webhook endpoint $i" >&2; exit 1; }
  done
  echo "webhooks-bench: $events events x $endpoints endpoint(s), receiver $receiver," \
    "per_endpoint_concurrency=${TEMPONEST_WEBHOOKS__PER_ENDPOINT_CONCURRENCY:-16 (default)}," \
    "per_tenant_concurrency=${TEMPONEST_WEBHOOKS__PER_TENANT_CONCURRENCY:-64 (default)}," \
    "publisher=$how${rps:+ at $rps/s}, statistics=${WEBHOOKS_STATS:-fresh}"

  # Planner statistics of the queue tables during the burst. fresh: none (autovacuum off for
  # them, as on a young database whose autovacuum is off or behind the burst); analysed: an
  # ANALYZE of them every second while the burst drains (autovacuum keeping up).
  local analyzer_pid=""
  case "${WEBHOOKS_STATS:-fresh}" in
    fresh)
      psql_db -c "alter table platform.outbox set (autovacuum_enabled = false);
                  alter table webhooks.deliveries set (autovacuum_enabled = false);
                  alter table webhooks.attempts set (autovacuum_enabled = false);" >/dev/null
      ;;
    analysed)
      (while :; do
         psql_db -c "analyze platform.outbox, webhooks.deliveries, webhooks.attempts" >/dev/null 2>&1 || true
         sleep 1
       done) &
      analyzer_pid=$!
      ;;
    *) echo "run.sh: WEBHOOKS_STATS must be fresh or analysed" >&2; exit 2 ;;
  esac

  case "$how" in
    wrk)
      # wrk's threads stop at their quota, but wrk itself only exits after -d: watch the
      # deliveries and interrupt it (SIGINT: it still prints its summary) once EVENTS are in.
      EVENTS="$events" THREADS=2 wrk --latency -t2 -c16 -d300s --timeout 10s \
        -s "$dir/wrk/publish-event.lua" -H "Authorization: Bearer $TOKEN" "$host/events" &
      local wrk_pid=$!
      while kill -0 "$wrk_pid" 2>/dev/null; do
        [ "$(psql_db -At -c "select count(distinct event_id) from webhooks.deliveries where event_type = 'load.test'")" -ge "$events" ] && break
        sleep 0.1
      done
      sleep 0.2
      kill -INT "$wrk_pid" 2>/dev/null || true
      wait "$wrk_pid" || true
      ;;
    fixed)
      "$pbin" --host "$host" --token "$TOKEN" --rps "$rps" -n "$events"
      ;;
    sql)
      # Straight into the outbox in one transaction (no HTTP publishing on the CPU): measures
      # the dispatcher and the sender alone. The NOTIFY is what a publishing service sends.
      psql_db -c "insert into platform.outbox (event_id, tenant_id, event_type, payload)
                  select gen_random_uuid(), (select tenant_id from webhooks.endpoints limit 1),
                         'load.test', jsonb_build_object('thread', 0, 'seq', g)
                  from generate_series(1, $events) g;
                  select pg_notify('temponest_outbox', '');" >/dev/null
      ;;
  esac

  local published expected received=0 deadline
  if [ "$how" = sql ]; then
    # Not fanned out yet: count them where they were written.
    published=$(psql_db -At -c "select count(*) from platform.outbox where event_type = 'load.test'")
  else
    published=$(psql_db -At -c "select count(distinct event_id) from webhooks.deliveries where event_type = 'load.test'")
  fi
  expected=$((published * endpoints))
  deadline=$(($(date +%s) + ${WEBHOOKS_BENCH_TIMEOUT:-300}))
  while :; do
    received=$(curl -sf "$receiver/count" || echo 0)
    [ "$received" -ge "$expected" ] && break
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "webhooks-bench: TIMEOUT: $received of $expected deliveries received" >&2
      break
    fi
    sleep 0.1
  done
  [ -n "$analyzer_pid" ] && { kill "$analyzer_pid" 2>/dev/null; wait "$analyzer_pid" 2>/dev/null || true; }
  echo "webhooks-bench: published $published, expected deliveries $expected, received $received"
  psql_db -At -c "select 'statistics at the end: ' || string_agg(relname || ' reltuples=' || reltuples::bigint, ', ' order by relname)
                  from pg_class where oid in ('platform.outbox'::regclass, 'webhooks.deliveries'::regclass)"

  local csv
  csv=$(mktemp --suffix=.csv)
  curl -sf "$receiver/dump" >"$csv"
  # Latency = receipt (receiver's clock) - the event's created_at: now() of the publishing
  # transaction (its start; POST /events is a single statement, committed right after), so
  # this is "event committed" -> "request head received by the endpoint".
  psql_db <<SQL
create temp table recv (webhook_id text, received_unix_ns bigint);
\copy recv from '$csv' with (format csv)
\echo publish rate (events created_at span):
select count(*) as events,
       round(extract(epoch from max(created_at) - min(created_at)), 3) as publish_secs,
       round(count(*) / nullif(extract(epoch from max(created_at) - min(created_at)), 0)) as events_per_s
  from $events_sql e;
\echo dispatcher: events fanned out per second (fanned_out - first created_at):
select count(*) as events,
       round(extract(epoch from max(fanned_out) - min(created_at)), 3) as dispatch_secs,
       round(count(*) / nullif(extract(epoch from max(fanned_out) - min(created_at)), 0)) as events_per_s
  from $events_sql e;
\echo deliveries/s (received / (last receipt - first event created_at)):
with first as (select extract(epoch from min(created_at)) as t0 from $events_sql e)
select count(*) as received,
       round(max(received_unix_ns)::numeric / 1e9 - (select t0 from first), 3) as secs,
       round(count(*) / nullif(max(received_unix_ns)::numeric / 1e9 - (select t0 from first), 0)) as deliveries_per_s
  from recv;
\echo commit-to-receipt latency, ms (receipt - event created_at, joined on webhook-id = event_id):
$(latency_sql true)
\echo the same without the first ${WARMUP_SECS:-1} s of publishing (pools and HTTP connections warming up):
$(latency_sql "o.created_at >= (select min(created_at) from $events_sql e)
                         + interval '${WARMUP_SECS:-1} seconds'")
\echo webhooks.deliveries by status:
select status, count(*) from webhooks.deliveries group by 1 order by 1;
\echo webhooks.attempts by outcome:
select coalesce(error_class, 'http ' || response_status) as outcome, count(*) from webhooks.attempts group by 1 order by 1;
SQL
  rm -f "$csv"
}

if [ "$measurement" = startup ]; then
  # Start-up to ready, first on a database that does not exist yet (create + migrate), then
  # three restarts on the existing one; then idle RSS after 5 s of quiet.
  start_server
  echo "ready_ms fresh_db=$(wait_ready)"
  stop_server
  for i in 1 2 3; do
    start_server
    echo "ready_ms existing_db run $i=$(wait_ready)"
    [ "$i" = 3 ] || stop_server
  done
  sleep 5
  echo "idle_rss_kib=$(ps -o rss= -p "$server_pid" | tr -d ' ')"
  exit 0
fi

start_server
echo "run.sh: server pid $server_pid on $host, database $db, log $log" >&2
echo "run.sh: ready after $(wait_ready) ms" >&2
export TEMPONEST_HOST="$host" SERVER_PID="$server_pid" SERVER_LOG="$log"

case "$measurement" in
  goose)
    loader="$root/load_tests/target/release/temponest-load"
    [ -x "$loader" ] || (cd "$root/load_tests" && cargo build --release)
    "$loader" "$@" --host "$host"
    ;;
  wrk-health)
    [ $# -gt 0 ] || set -- -t2 -c64 -d20s
    wrk --latency "$@" "$host/health"
    ;;
  wrk-me)
    read -r TOKEN _ < <(fresh_account); check_token "$TOKEN"
    [ $# -gt 0 ] || set -- -t2 -c64 -d20s
    wrk --latency -H "Authorization: Bearer $TOKEN" "$@" "$host/auth/me"
    ;;
  wrk-login)
    read -r token email < <(fresh_account); check_token "$token"
    script=$(mktemp --suffix=.lua)
    cat >"$script" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"$email","password":"$password"}'
EOF
    c="${LOGIN_CONCURRENCY:-2}"
    [ $# -gt 0 ] || set -- -t2 "-c$c" -d20s --timeout 10s
    wrk --latency -s "$script" "$@" "$host/auth/login"
    rm -f "$script"
    ;;
  wrk-agent)
    read -r TOKEN _ < <(fresh_account); check_token "$TOKEN"
    agent=$(create_agent "$TOKEN"); check_agent "$agent"
    [ $# -gt 0 ] || set -- -t2 -c64 -d20s
    wrk --latency -H "Authorization: Bearer $TOKEN" "$@" "$host/agents/$agent"
    ;;
  wrk-agents-list)
    read -r TOKEN _ < <(fresh_account); check_token "$TOKEN"
    for _ in $(seq 1 20); do
      agent=$(create_agent "$TOKEN"); check_agent "$agent"
    done
    [ $# -gt 0 ] || set -- -t2 -c64 -d20s
    wrk --latency -H "Authorization: Bearer $TOKEN" "$@" "$host/agents/?limit=20"
    ;;
  wrk-agent-create)
    read -r TOKEN _ < <(fresh_account); check_token "$TOKEN"
    [ $# -gt 0 ] || set -- -t2 -c32 -d20s
    wrk --latency -s "$root/load_tests/wrk/agent-create.lua" -H "Authorization: Bearer $TOKEN" "$@" "$host/agents/"
    ;;
  wrk-execute)
    read -r TOKEN _ < <(fresh_account); check_token "$TOKEN"
    agent=$(create_agent "$TOKEN"); check_agent "$agent"
    [ $# -gt 0 ] || set -- -t2 -c32 -d20s
    wrk --latency -s "$root/load_tests/wrk/execute.lua" -H "Authorization: Bearer $TOKEN" "$@" "$host/agents/$agent/execute"
    ;;
  wrk-agent-cold)
    # 400,000 agents inserted with SQL into a fresh tenant, ids shuffled; three 8 s runs over
    # disjoint slices, so every request is a cache miss (one indexed row from Postgres).
    read -r TOKEN _ < <(fresh_account); check_token "$TOKEN"
    tenant=$(curl -sf "$host/auth/me" -H "Authorization: Bearer $TOKEN" | jq -r .tenant_id)
    psql -q -h 127.0.0.1 -U postgres -d "$db" -c "insert into agents.agents (id, tenant_id, name, model, provider)
      select gen_random_uuid(), '$tenant', 'cold-' || g, 'echo-1', 'echo' from generate_series(1, 400000) g"
    psql -q -h 127.0.0.1 -U postgres -d "$db" -c "vacuum analyze agents.agents"
    ids=$(mktemp)
    psql -At -h 127.0.0.1 -U postgres -d "$db" -c "select id from agents.agents where tenant_id = '$tenant' order by random()" >"$ids"
    [ $# -gt 0 ] || set -- -t2 -c64 -d8s
    for offset in 0 130000 260000; do
      IDS="$ids" OFFSET=$offset THREADS=2 wrk --latency -s "$root/load_tests/wrk/agent-cold.lua" \
        -H "Authorization: Bearer $TOKEN" "$@" "$host"
    done
    rm -f "$ids"
    ;;
  oha-health)
    [ $# -gt 0 ] || set -- -c 64 -z 20s
    oha --no-tui "$@" "$host/health"
    ;;
  oha-me)
    read -r TOKEN _ < <(fresh_account); check_token "$TOKEN"
    [ $# -gt 0 ] || set -- -c 64 -z 20s
    oha --no-tui -H "Authorization: Bearer $TOKEN" "$@" "$host/auth/me"
    ;;
  oha-login)
    read -r token email < <(fresh_account); check_token "$token"
    c="${LOGIN_CONCURRENCY:-2}"
    [ $# -gt 0 ] || set -- -c "$c" -z 20s -t 10s
    oha --no-tui -m POST -T application/json -d "{\"email\":\"$email\",\"password\":\"$password\"}" "$@" "$host/auth/login"
    ;;
  webhooks-bench)
    webhooks_bench wrk "${1:-20000}" "${2:-1}"
    ;;
  webhooks-sql)
    webhooks_bench sql "${1:-20000}" "${2:-1}"
    ;;
  webhooks-latency)
    webhooks_bench fixed "${2:-5000}" "${3:-1}" "${1:?usage: run.sh webhooks-latency RPS [EVENTS] [ENDPOINTS]}"
    ;;
  exec)
    read -r TOKEN _ < <(fresh_account); check_token "$TOKEN"
    AGENT_ID=$(create_agent "$TOKEN"); check_agent "$AGENT_ID"
    LOAD_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db"
    export TOKEN AGENT_ID LOAD_DATABASE_URL
    "$@"
    ;;
  *)
    echo "run.sh: unknown measurement $measurement" >&2
    exit 2
    ;;
esac

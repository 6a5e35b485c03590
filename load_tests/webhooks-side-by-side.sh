#!/usr/bin/env bash
# Webhook commit-to-receipt, the platform against a bare relay on the same machine, in one run
# (issue 19):
#
#   (cd load_tests && cargo build --release --bin reference --bin webhook-receiver --bin webhook-publisher)
#   load_tests/run.sh exec load_tests/webhooks-side-by-side.sh [ROUNDS] [RPS] [EVENTS]
#
# run.sh starts `temponest serve` on a fresh database (TEMPONEST_HOST, TOKEN,
# LOAD_DATABASE_URL exported). This script starts a webhook-receiver, registers one endpoint
# on it in TOKEN's tenant, and starts `reference --deliver-to` (load_tests/src/bin/reference.rs:
# insert the event with a synchronous commit, answer 202, POST it to the receiver) on the same
# database. Then, for ROUNDS rounds (default 10), alternating which side goes first, it
# publishes EVENTS events (default 10000) at RPS per second (default 500) with
# webhook-publisher to each side's POST /events, waits until the receiver has them all, and
# computes commit-to-receipt (receipt - created_at of the event: its delivery's
# event_created_at for the platform, load_reference.events for the reference) without the first WARMUP_SECS
# (default 1) of each run. It prints each run's p50 / p95 / p99 / max in ms and, per side,
# the medians and how many runs had p99 < 2 ms.
#
# STAGES=1 also prints, after each platform run, where its time went (see stages() below).
#
# Both sides share the machine with the publisher, the receiver and Postgres. The queue
# tables keep no planner statistics (autovacuum off for them, as run.sh webhooks-latency).
set -euo pipefail
: "${TEMPONEST_HOST:?run through load_tests/run.sh exec}" "${TOKEN:?}" "${LOAD_DATABASE_URL:?}"
rounds="${1:-10}"
rps="${2:-500}"
events="${3:-10000}"
warmup="${WARMUP_SECS:-1}"
root="$(cd "$(dirname "$0")/.." && pwd)"
bins="$root/load_tests/target/release"
for b in reference webhook-receiver webhook-publisher; do
  [ -x "$bins/$b" ] || { echo "webhooks-side-by-side: build it first: (cd load_tests && cargo build --release --bin $b)" >&2; exit 1; }
done

free_port() {
  local port=$1
  while ss -ltn "sport = :$port" | grep -q LISTEN; do port=$((port + 1)); done
  echo "$port"
}
rport=$(free_port 19900)
receiver="http://127.0.0.1:$rport"
"$bins/webhook-receiver" "$rport" 2>/dev/null &
receiver_pid=$!
ref_pid=""
work=$(mktemp -d)
trap 'kill $receiver_pid $ref_pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 500); do curl -sf -o /dev/null "$receiver/count" && break; sleep 0.01; done

port=$(free_port 19300)
ref="http://127.0.0.1:$port"
DATABASE_URL="$LOAD_DATABASE_URL" DATABASE_MAX_CONNECTIONS="${DATABASE_MAX_CONNECTIONS:-32}" "$bins/reference" --port "$port" --deliver-to "$receiver/e/reference" 2>/dev/null &
ref_pid=$!
for _ in $(seq 1 500); do curl -sf -o /dev/null "$ref/health" && break; sleep 0.01; done
curl -sf -o /dev/null "$ref/health" || { echo "webhooks-side-by-side: the reference did not start" >&2; exit 1; }

curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d "{\"name\":\"side-by-side\",\"url\":\"$receiver/e/platform\",\"events\":[\"load.test\"],\"retry_config\":{\"max_retries\":3,\"retry_delay_seconds\":1}}" \
  "$TEMPONEST_HOST/webhooks/" || { echo "webhooks-side-by-side: could not create the endpoint" >&2; exit 1; }
psql -X -q -d "$LOAD_DATABASE_URL" -c "alter table platform.outbox set (autovacuum_enabled = false);
  alter table webhooks.deliveries set (autovacuum_enabled = false);
  alter table webhooks.attempts set (autovacuum_enabled = false);
  alter table load_reference.events set (autovacuum_enabled = false);" >/dev/null

# run SIDE: one run; appends "p50 p95 p99 max" (ms) to $work/SIDE.
run() {
  local side=$1 host table csv received
  case "$side" in
    # An event published without an idempotency key has no outbox row: its delivery carries
    # the event's created_at (now() of the publishing transaction).
    platform) host=$TEMPONEST_HOST table="(select event_id, event_created_at as created_at from webhooks.deliveries)" ;;
    reference) host=$ref table=load_reference.events ;;
  esac
  curl -sf -X POST -o /dev/null "$receiver/reset"
  "$bins/webhook-publisher" --host "$host" --token "$TOKEN" --rps "$rps" -n "$events" >"$work/publisher.$side"
  for _ in $(seq 1 3000); do
    received=$(curl -sf "$receiver/count" || echo 0)
    [ "$received" -ge "$events" ] && break
    sleep 0.1
  done
  [ "$received" -ge "$events" ] || { echo "webhooks-side-by-side: $side: $received of $events received" >&2; exit 1; }
  csv="$work/recv.csv"
  curl -sf "$receiver/dump" >"$csv"
  psql -X -q -At -F ' ' -d "$LOAD_DATABASE_URL" >>"$work/$side" <<SQL
create temp table recv (webhook_id text, received_unix_ns bigint);
\copy recv from '$csv' with (format csv)
with e as (
  select e.created_at, r.received_unix_ns
    from recv r join $table e on e.event_id = r.webhook_id::uuid),
j as (
  select (received_unix_ns::numeric / 1e9 - extract(epoch from created_at)) * 1000 as ms
    from e where created_at >= (select min(created_at) from e) + interval '$warmup seconds')
select round(percentile_cont(0.50) within group (order by ms)::numeric, 2),
       round(percentile_cont(0.95) within group (order by ms)::numeric, 2),
       round(percentile_cont(0.99) within group (order by ms)::numeric, 2),
       round(max(ms), 2)
  from j;
SQL
  printf '  %-9s p50 %6s  p95 %6s  p99 %6s  max %7s ms   (%s)\n' "$side" $(tail -1 "$work/$side") \
    "$(grep -o 'POST /events response time.*' "$work/publisher.$side")"
  if [ "${STAGES:-0}" = 1 ] && [ "$side" = platform ]; then stages "$csv"; fi
}

# stages CSV: where the platform's commit-to-receipt goes (STAGES=1). From the event's
# created_at (now() of the publishing statement) to its first attempt's started_at (the
# statement, its commit, the hand-off to the sender, the attempt task), then to receipt. With
# SERVER_RUST_LOG=warn,sqlx::query=trace, also the publishing statement's latency as sqlx
# measured it (sent to result, commit included), from the server's log.
staged=0 logged=0
stages() {
  local csv=$1 recorded=0
  # The recorder writes attempts in batches (after up to 25 ms): wait for this run's.
  staged=$((staged + events))
  for _ in $(seq 1 300); do
    recorded=$(psql -X -q -At -d "$LOAD_DATABASE_URL" -c "select count(*) from webhooks.attempts")
    [ "$recorded" -ge "$staged" ] && break
    sleep 0.1
  done
  [ "$recorded" -ge "$staged" ] ||
    echo "    (only $recorded of $staged attempts recorded after 30 s: the split covers those)"
  psql -X -q -At -F ' ' -d "$LOAD_DATABASE_URL" <<SQL | awk '{printf "    %-18s p50 %6.3f  p99 %6.3f ms\n", $1, $2, $3}'
create temp table recv (webhook_id text, received_unix_ns bigint);
\copy recv from '$csv' with (format csv)
with e as (
  select d.event_created_at as c, a.started_at as s,
         to_timestamp(r.received_unix_ns::numeric / 1e9) as r
    from recv r join webhooks.deliveries d on d.event_id = r.webhook_id::uuid
    join webhooks.attempts a on a.delivery_id = d.id and a.attempt = 1),
j as (
  select extract(epoch from s - c) * 1000 as to_attempt, extract(epoch from r - s) * 1000 as to_receipt
    from e where c >= (select min(c) from e) + interval '$warmup seconds')
select 'created->attempt', percentile_cont(0.5) within group (order by to_attempt),
       percentile_cont(0.99) within group (order by to_attempt) from j
union all
select 'attempt->receipt', percentile_cont(0.5) within group (order by to_receipt),
       percentile_cont(0.99) within group (order by to_receipt) from j;
SQL
  # This run's statements: the log's lines since the last run's.
  local lines
  lines=$(wc -l <"${SERVER_LOG:?run through load_tests/run.sh exec}")
  tail -n "+$((logged + 1))" "$SERVER_LOG" | head -n "$((lines - logged))" >"$work/log.run"
  logged=$lines
  if grep -q '"with event as' "$work/log.run"; then
    grep '"with event as' "$work/log.run" | jq -r .elapsed_secs | tail -n "$((events * 9 / 10))" | sort -n |
      awk '{v[NR] = $1 * 1000} END { printf "    %-18s p50 %6.3f  p99 %6.3f ms (sqlx, last %d)\n", "publish statement", v[int(NR * 0.5)], v[int(NR * 0.99)], NR }'
  fi
}

echo "webhooks-side-by-side: $rounds rounds of $events events at $rps/s, one endpoint, receiver $receiver"
for round in $(seq 1 "$rounds"); do
  echo "round $round"
  if [ $((round % 2)) = 1 ]; then run platform; run reference; else run reference; run platform; fi
done

# median COLUMN FILE
median() { cut -d' ' -f"$1" "$2" | sort -n | awk '{v[NR] = $1} END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
echo "medians over $rounds runs (ms), and runs with p99 < 2 ms:"
for side in platform reference; do
  printf '  %-9s p50 %6s  p95 %6s  p99 %6s  max %7s   p99 < 2 ms in %s of %s; p99 range %s-%s\n' "$side" \
    "$(median 1 "$work/$side")" "$(median 2 "$work/$side")" "$(median 3 "$work/$side")" "$(median 4 "$work/$side")" \
    "$(awk '$3 < 2' "$work/$side" | wc -l)" "$rounds" \
    "$(cut -d' ' -f3 "$work/$side" | sort -n | head -1)" "$(cut -d' ' -f3 "$work/$side" | sort -n | tail -1)"
done

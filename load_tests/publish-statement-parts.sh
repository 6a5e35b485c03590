#!/usr/bin/env bash
# What the statement behind POST /events costs, part by part, against the bare relay's insert
# (issue 19):
#
#   load_tests/publish-statement-parts.sh [ROUNDS] [SECONDS]
#
# Creates a scratch database, migrates it with TEMPONEST_BIN (default target/release/temponest),
# adds one endpoint subscribed to every event type with one signing secret, then for ROUNDS
# rounds (default 3) runs `pgbench -M prepared -c1 -T SECONDS` (default 4) back to back on:
#
#   relay       the reference relay's insert (load_tests/src/bin/reference.rs --deliver-to)
#   delivery    one delivery row inserted with literal values: its four index entries and the
#               endpoint foreign key, nothing else
#   fan-out     the publishing statement of an unkeyed event up to its counts: event decoded
#               from JSON, endpoints matched, deliveries inserted and leased, notification
#   publish     the whole statement: also the leased deliveries' endpoints and signing secrets
#
# and prints each mean latency in ms (statement and synchronous commit, one round trip). The
# publishing statement is taken from .sqlx/, so it is the one the binary runs; its parameters
# are replaced by literals.
set -euo pipefail
rounds="${1:-3}"
seconds="${2:-4}"
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${TEMPONEST_BIN:-$root/target/release/temponest}"
db="temponest_parts_$$"
url="postgres://postgres@127.0.0.1:5432/$db?sslmode=disable"
work=$(mktemp -d)
trap 'rm -rf "$work"; dropdb -h 127.0.0.1 -U postgres --if-exists "$db"' EXIT
createdb -h 127.0.0.1 -U postgres "$db"
DATABASE_URL="$url" "$bin" migrate >/dev/null
endpoint=11111111-1111-1111-1111-111111111111 tenant=22222222-2222-2222-2222-222222222222
lessee=33333333-3333-3333-3333-333333333333
psql -X -q -d "$url" <<SQL
insert into webhooks.endpoints (id, tenant_id, name, url, events)
  values ('$endpoint', '$tenant', 'parts', 'http://127.0.0.1:9/e', array['*']);
insert into webhooks.secrets (id, endpoint_id, secret) values (gen_random_uuid(), '$endpoint', '\\x00');
create schema load_reference;
create table load_reference.events (
  event_id uuid primary key, created_at timestamptz not null default now(), payload jsonb not null);
alter table webhooks.deliveries set (autovacuum_enabled = false);
SQL

cat >"$work/relay.sql" <<'SQL'
insert into load_reference.events (event_id, payload) values (gen_random_uuid(), '{"n":1}') returning event_id;
SQL
cat >"$work/delivery.sql" <<SQL
insert into webhooks.deliveries (id, tenant_id, endpoint_id, event_id, event_type, payload,
    event_created_at, leased_by, lease_until)
  values (gen_random_uuid(), '$tenant', '$endpoint', gen_random_uuid(), 'load.test', '{"n":1}',
    now(), '$lessee', now() + interval '30 s')
  on conflict (endpoint_id, event_id) do nothing
  returning id, tenant_id, endpoint_id, event_id, event_type, payload, event_created_at;
SQL
statement=$(grep -l 'select 0::bigint as id' "$root"/.sqlx/query-*.json | xargs -r grep -l 'with event as' |
  head -1 | xargs -r jq -r .query)
[ -n "$statement" ] || { echo "publish-statement-parts: the publishing statement is not in .sqlx/" >&2; exit 1; }
event="jsonb_build_object('event_id', gen_random_uuid(), 'tenant_id', '$tenant', 'event_type', 'load.test', 'payload', jsonb_build_object('n', 1))"
publish=$(sed -e "s/\$1::text::jsonb/$event/" -e "s/\$2::uuid/'$lessee'::uuid/" -e 's/\$3/100/g' \
  -e 's/\$4/30/g' -e "s/\$5/'webhooks_parts'/" -e 's/\$6/100/g' -e 's/\$7::text/null::text/g' <<<"$statement")
grep -q '\$[0-9]' <<<"$publish" && { echo "publish-statement-parts: a parameter was left in the statement" >&2; exit 1; }
printf '%s;\n' "$publish" >"$work/publish.sql"
printf '%s\nselect (select count(*) from processed), (select count(*) from ins), (select count(*) from woken)\n  from (select 1 from commit_mode) one;\n' \
  "${publish%%select (select count(*) from processed)*}" >"$work/fan-out.sql"

mean() { pgbench -h 127.0.0.1 -U postgres -n -M prepared -c1 -T "$seconds" -f "$1" "$db" 2>&1 | awk '/latency average/ {print $4}'; }
echo "publish-statement-parts: mean latency (ms) per statement, $rounds rounds of ${seconds}s each"
printf '%-8s %8s %8s %8s %8s\n' round relay delivery fan-out publish
for round in $(seq 1 "$rounds"); do
  printf '%-8s %8s %8s %8s %8s\n' "$round" "$(mean "$work/relay.sql")" "$(mean "$work/delivery.sql")" \
    "$(mean "$work/fan-out.sql")" "$(mean "$work/publish.sql")"
done

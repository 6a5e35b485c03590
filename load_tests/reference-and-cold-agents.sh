# Sourced by side-by-side.sh and cpu-per-miss.sh (run through run.sh exec, so TEMPONEST_HOST,
# TOKEN and LOAD_DATABASE_URL are set; `root` and `name` are set by the caller):
#
# - starts the bare reference (load_tests/src/bin/reference.rs) on the load database, with
#   the same pool size run.sh gives the platform, and waits for it: `ref` is its URL,
#   `ref_pid` its process; `work` is a temporary folder; an EXIT trap stops the reference and
#   removes the folder;
# - inserts 400,000 agents into TOKEN's tenant and writes their ids, shuffled, to `ids`.
#   Each platform miss run reads a slice of its own (never read before by anyone), so every
#   platform request misses both cache tiers.
reference="$root/load_tests/target/release/reference"
[ -x "$reference" ] || { echo "$name: build it first: (cd load_tests && cargo build --release --bin reference)" >&2; exit 1; }

port=19300
while ss -ltn "sport = :$port" | grep -q LISTEN; do port=$((port + 1)); done
ref="http://127.0.0.1:$port"
DATABASE_URL="$LOAD_DATABASE_URL" DATABASE_MAX_CONNECTIONS="${DATABASE_MAX_CONNECTIONS:-32}" "$reference" --port "$port" 2>/dev/null &
ref_pid=$!
work=$(mktemp -d)
trap 'kill $ref_pid 2>/dev/null; wait $ref_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 500); do curl -sf -o /dev/null "$ref/health" && break; sleep 0.01; done
curl -sf -o /dev/null "$ref/health" || { echo "$name: the reference did not start" >&2; exit 1; }

tenant=$(curl -sf "$TEMPONEST_HOST/auth/me" -H "Authorization: Bearer $TOKEN" | jq -r .tenant_id)
psql -q -d "$LOAD_DATABASE_URL" -c "insert into agents.agents (id, tenant_id, name, model, provider)
  select gen_random_uuid(), '$tenant', 'cold-' || g, 'echo-1', 'echo' from generate_series(1, 400000) g"
psql -q -d "$LOAD_DATABASE_URL" -c "vacuum analyze agents.agents"
ids="$work/ids"
psql -At -d "$LOAD_DATABASE_URL" -c "select id from agents.agents where tenant_id = '$tenant' order by random()" >"$ids"

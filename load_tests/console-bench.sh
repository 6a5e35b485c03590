#!/usr/bin/env bash
# The operator console's time to first render of the overview (`GET /console/`) with 10,000
# executions in the tenant, for docs/performance.md.
#
#   load_tests/console-bench.sh [EXECUTIONS]      # default 10000
#
# Starts `temponest serve` (release build: BIN, default target/release/temponest) on
# 127.0.0.1:$PORT against a database of its own, registers a tenant with one echo agent and
# seeds EXECUTIONS executions with one SQL statement (documented below: realistic rows — 92%
# completed, 8% failed, tokens, cost, run times of 50 ms to 2 s — created at random times over
# the last 23 h (all inside the dashboard's 24 hourly buckets), each with its cost record, so
# the dashboard's aggregates and the hourly cost roll-up have real work), signs in to the console (curl cookie jar) and times the overview:
#
#   cold   the tenant's dashboard figures are not cached: the first request after start-up,
#          then COLD_ROUNDS more, each after the 30 s dashboard cache lifetime has passed
#          (its entry expires in the process and in Redis alike);
#   warm   ROUNDS requests back to back (the figures cached; the recent executions and the
#          agent names are read on every request).
#
# Each request is timed by curl: time_starttransfer (the first byte: the server's work) and
# time_total; p50 and p99 are printed. With chromedriver on the PATH (Debian: chromium,
# chromium-driver) BROWSER_ROUNDS page loads in headless Chromium follow, reporting its
# first-contentful-paint (`performance.getEntriesByType('paint')`) and the navigation's
# responseStart. Needs curl, jq, psql and python3. Everything stays on 127.0.0.1; every loop is
# bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
. load_tests/start-serve.sh

EXECUTIONS=${1:-10000}
BIN=${BIN:-target/release/temponest}
PORT=${PORT:-19006}
DB=${DB:-temponest_console_bench}
SERVER=${SERVER:-postgres://postgres@127.0.0.1:5432}
ROUNDS=${ROUNDS:-200}
COLD_ROUNDS=${COLD_ROUNDS:-5}
BROWSER_ROUNDS=${BROWSER_ROUNDS:-20}
DRIVER_PORT=${DRIVER_PORT:-19515}
WORK=$(mktemp -d)
BASE="http://127.0.0.1:$PORT"
DRIVER_PID=
trap 'kill "$PID" $DRIVER_PID 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT

echo "== machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) before the run"
start_serve RATE_LIMIT_ENABLED=false TEMPONEST_WEBHOOKS__RUN_ENGINE=false \
  TEMPONEST_CONSOLE_API_URL="$BASE"

json='content-type: application/json'
EMAIL=bench@example.com
PASSWORD='correct horse battery staple'
TOKEN=$(sign_up "$BASE" "$EMAIL" "$PASSWORD")
AGENT=$(curl -sf -X POST "$BASE/agents/" -H "Authorization: Bearer $TOKEN" -H "$json" \
  -d '{"name":"bench","model":"echo-1","provider":"echo"}' | jq -r .id)

# The seed: one statement, executions and their cost records together (the cost roll-up's
# triggers run as they would for real calls).
start=$(date +%s.%N)
psql "$SERVER/$DB" -v ON_ERROR_STOP=1 -q -v agent="$AGENT" -v n="$EXECUTIONS" <<'SQL'
with agent as (select id, tenant_id from agents.agents where id = :'agent'),
seed as (
    select g, gen_random_uuid() as id, random() as r,
           now() - random() * interval '23 hours' as created,
           (50 + random() * 1950) * interval '1 millisecond' as took
    from generate_series(1, :n) g),
executions as (
    insert into agents.executions
        (id, tenant_id, agent_id, status, outcome, user_message, response, error,
         prompt_tokens, completion_tokens, cost_nanos, provider, model,
         created_at, started_at, completed_at, heartbeat_at)
    select s.id, a.tenant_id, a.id,
           case when s.r < 0.92 then 'completed' else 'failed' end,
           case when s.r < 0.92 then 'completed' when s.r < 0.97 then 'failed' else 'timed_out' end,
           'summarise ticket #' || s.g || ' for the support queue',
           case when s.r < 0.92 then 'Echo: summarise ticket #' || s.g end,
           case when s.r >= 0.92 then 'the provider answered 503' end,
           200 + s.g % 800, 20 + s.g % 300, 1000 * (200 + s.g % 800) + 4000 * (20 + s.g % 300),
           'echo', 'echo-1', s.created, s.created + interval '3 milliseconds',
           s.created + s.took, s.created + s.took
    from seed s cross join agent a
    returning id, tenant_id, agent_id, status, prompt_tokens, completion_tokens, cost_nanos,
              provider, model, started_at, completed_at)
insert into agents.cost_records
    (id, tenant_id, agent_id, execution_id, provider, model, prompt_tokens, completion_tokens,
     cost_nanos, unpriced, usage_estimated, price_source, duration_ms, status, streamed,
     created_at)
select gen_random_uuid(), tenant_id, agent_id, id, provider, model, prompt_tokens,
       completion_tokens, cost_nanos, false, false, 'bench',
       (extract(epoch from completed_at - started_at) * 1000)::int,
       case status when 'completed' then 'success' else 'failed' end, false, completed_at
from executions;
analyze agents.executions;
analyze agents.cost_records;
SQL
seeded=$(date +%s.%N)
count=$(psql "$SERVER/$DB" -Atc "select count(*) from agents.executions")
echo "== seeded $count executions (with their cost records) in $(python3 -c "print(f'{$seeded - $start:.1f}')") s"

# Sign in to the console: the sealed session cookie goes to the jar.
curl -sf -o /dev/null -c "$WORK/jar" -X POST "$BASE/console/sign-in" \
  --data-urlencode "email=$EMAIL" --data-urlencode "password=$PASSWORD"
grep -q tn_console "$WORK/jar" || { echo "console sign-in failed"; exit 1; }

overview() {
  curl -s -o "$WORK/page.html" -b "$WORK/jar" -w '%{http_code} %{time_starttransfer} %{time_total}\n' \
    "$BASE/console/"
}
check() {
  grep -q 'id="executions-total">'"$count"'<' "$WORK/page.html" \
    || { echo "the overview does not show $count executions"; head -c 2000 "$WORK/page.html"; exit 1; }
}
summary() { # label, file of "status starttransfer total" lines
  python3 - "$1" "$2" <<'PY'
import sys
label, path = sys.argv[1], sys.argv[2]
rows = [l.split() for l in open(path) if l.strip()]
bad = [r for r in rows if r[0] != "200"]
def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]
first = [float(r[1]) * 1000 for r in rows]
total = [float(r[2]) * 1000 for r in rows]
print(f"{label}: {len(rows)} requests ({len(bad)} not 200); first byte p50 {pct(first, 50):.1f} ms, "
      f"p99 {pct(first, 99):.1f} ms; complete p50 {pct(total, 50):.1f} ms, p99 {pct(total, 99):.1f} ms")
PY
}

overview >"$WORK/first"; check
echo "== first request after start-up (nothing cached): $(awk '{printf "first byte %.1f ms, complete %.1f ms", $2*1000, $3*1000}' "$WORK/first")"
: >"$WORK/cold"
for _ in $(seq 1 "$COLD_ROUNDS"); do
  sleep 31 # the dashboard entry's lifetime (30 s) passes: the next request computes it
  overview >>"$WORK/cold"; check
done
summary "cold (figures recomputed)" "$WORK/cold"
: >"$WORK/warm"
for _ in $(seq 1 "$ROUNDS"); do overview >>"$WORK/warm"; done
check
summary "warm (figures cached 30 s)" "$WORK/warm"
echo "== page size: $(wc -c <"$WORK/page.html") bytes of HTML"

if command -v chromedriver >/dev/null && [ "$BROWSER_ROUNDS" -gt 0 ]; then
  chromedriver --port="$DRIVER_PORT" >"$WORK/driver.log" 2>&1 &
  DRIVER_PID=$!
  for _ in $(seq 1 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$DRIVER_PORT/status" && break
    sleep 0.1
  done
  wd="http://127.0.0.1:$DRIVER_PORT"
  SESSION=$(curl -sf -X POST "$wd/session" -H "$json" -d '{"capabilities":{"alwaysMatch":{"goog:chromeOptions":{"binary":"/usr/bin/chromium","args":["--headless=new","--no-sandbox","--disable-dev-shm-usage","--disable-gpu","--window-size=1280,900"]}}}}' | jq -r .value.sessionId)
  go() { curl -sf -o /dev/null -X POST "$wd/session/$SESSION/url" -H "$json" -d "{\"url\":\"$1\"}"; }
  go "$BASE/console/sign-in"
  cookie=$(awk '$6 == "tn_console" {print $7}' "$WORK/jar")
  curl -sf -o /dev/null -X POST "$wd/session/$SESSION/cookie" -H "$json" \
    -d "{\"cookie\":{\"name\":\"tn_console\",\"value\":\"$cookie\",\"path\":\"/console\",\"httpOnly\":true}}"
  : >"$WORK/paint"
  for _ in $(seq 1 "$BROWSER_ROUNDS"); do
    go "$BASE/console/"
    curl -sf -X POST "$wd/session/$SESSION/execute/sync" -H "$json" -d '{"script":"const p = performance.getEntriesByType(\"paint\").find(e => e.name === \"first-contentful-paint\"); const n = performance.getEntriesByType(\"navigation\")[0]; return [document.title, p ? p.startTime : -1, n.responseStart, n.domContentLoadedEventEnd];","args":[]}' \
      | jq -r '.value | @tsv' >>"$WORK/paint"
  done
  curl -sf -o /dev/null -X DELETE "$wd/session/$SESSION"
  python3 - "$WORK/paint" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
ok = [r for r in rows if r[0].startswith("Overview") and float(r[1]) >= 0]
def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]
fcp = [float(r[1]) for r in ok]
first = [float(r[2]) for r in ok]
dcl = [float(r[3]) for r in ok]
print(f"chromium: {len(ok)} of {len(rows)} loads measured; first-contentful-paint p50 {pct(fcp, 50):.0f} ms, "
      f"p99 {pct(fcp, 99):.0f} ms; responseStart p50 {pct(first, 50):.0f} ms; "
      f"DOMContentLoaded p50 {pct(dcl, 50):.0f} ms")
PY
fi
echo "== load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"

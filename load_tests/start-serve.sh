# Sourced by the load-test scripts: start_serve by the stand-alone benches and demos
# (knowledge-bench.sh, knowledge-demo.sh, console-bench.sh), sign_up by them and by run.sh and
# chaos/run.sh, which start their servers their own way.
#
# `start_serve [VAR=value ...]` starts "$BIN serve" on 127.0.0.1:$PORT against a fresh
# database $DB on $SERVER (dropped first), with the given extra variables, logging to
# $WORK/server.log, sets PID, and waits until /health/ready answers (at most 60 s).
start_serve() {
  psql "$SERVER/postgres" -qc "drop database if exists $DB" >/dev/null
  env DATABASE_URL="$SERVER/$DB" REDIS_URL=redis://127.0.0.1:6379 \
    TEMPONEST_REDIS_KEY_PREFIX="$DB-$$" TEMPONEST_PORTS="$PORT" BIND_ADDRESS=127.0.0.1 \
    RUST_LOG=warn "$@" "$BIN" serve >"$WORK/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 600); do
    curl -sf -o /dev/null "http://127.0.0.1:$PORT/health/ready" && return 0
    kill -0 "$PID" 2>/dev/null || { cat "$WORK/server.log"; exit 1; }
    sleep 0.1
  done
  echo "start_serve: not ready after 60 s; see $WORK/server.log" >&2
  exit 1
}

# `sign_up URL EMAIL PASSWORD` registers an account at the server URL, logs it in and prints
# its access token ("null" or nothing when either was refused).
sign_up() {
  local body="{\"email\":\"$2\",\"password\":\"$3\"}"
  curl -sf -o /dev/null -H 'content-type: application/json' -d "$body" "$1/auth/register"
  curl -sf -H 'content-type: application/json' -d "$body" "$1/auth/login" | jq -r .access_token
}

#!/usr/bin/env bash
# Fuzzes the whole API from its own OpenAPI document with schemathesis (PyPI), against a
# throw-away `temponest serve`:
#
#   pip install schemathesis
#   load_tests/run.sh exec load_tests/fuzz-api.sh [MAX_EXAMPLES] [CHECKS]
#
# run.sh starts the server on a fresh database (TEMPONEST_HOST, TOKEN exported). This script
# creates an API key with every scope of TOKEN's tenant and runs `st run` with it against
# /openapi.json: examples, boundary values, random data and stateful sequences (create, read,
# update, delete) for every operation, MAX_EXAMPLES (default 30) per operation. CHECKS
# (default not_a_server_error) is passed to `--checks`; `all` adds the conformance checks.
#
# Excluded: the operations that would revoke the run's own credentials (/api-keys, logout,
# sessions, users), which would turn the rest of the run into 401s.
#
# With CHECKS=all, schemathesis also reports "accepts requests without authentication" for
# every operation: it removes only the documented `Authorization` header, while this run
# authenticates with `X-API-Key` (SPEC §3 accepts both), so those reports are not findings.
set -euo pipefail
: "${TEMPONEST_HOST:?run through load_tests/run.sh exec}" "${TOKEN:?}"
examples="${1:-30}"
checks="${2:-not_a_server_error}"
command -v st >/dev/null || { echo "fuzz-api: install schemathesis first: pip install schemathesis" >&2; exit 1; }

scopes='["agents:read","agents:write","agents:execute","schedules:read","schedules:write","webhooks:read","webhooks:manage","costs:read","costs:manage","users:read","knowledge:read","knowledge:write"]'
key=$(curl -sf -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d "{\"name\":\"fuzz\",\"scopes\":$scopes}" "$TEMPONEST_HOST/api-keys" | jq -r .key)
case "$key" in sk_*) ;; *) echo "fuzz-api: could not create an API key" >&2; exit 1 ;; esac

report=$(mktemp -d)
echo "fuzz-api: NDJSON report in $report (st exits non-zero when it found failures)"
st run "$TEMPONEST_HOST/openapi.json" -H "X-API-Key: $key" \
  --exclude-path-regex '^/(api-keys|auth/logout|auth/sessions|users)' \
  --checks "$checks" --max-examples "$examples" --workers 2 \
  --report ndjson --report-dir "$report"

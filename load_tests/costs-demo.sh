#!/usr/bin/env bash
# Costs, budgets and the dashboard end to end against a running platform (issue 13):
#   WEBHOOKS_ALLOWED_NETWORKS=127.0.0.0/8 load_tests/run.sh exec load_tests/costs-demo.sh
# (or with TEMPONEST_HOST and TOKEN/AGENT_ID of your own `temponest serve`). A receiver on
# this machine subscribes to budget.alert and cost.threshold.exceeded; the tenant prices its
# echo model, runs three executions, reads the summary and the dashboard, sets a budget just
# above one call's worst case with a 1% alert threshold, sees the next call allowed and the
# one after refused with 402, and the receiver gets budget.alert.
set -euo pipefail
: "${TEMPONEST_HOST:?}" "${TOKEN:?}" "${AGENT_ID:?}"
auth=(-H "Authorization: Bearer $TOKEN" -H 'content-type: application/json')
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$dir/receiver.py" <<'PY'
import http.server, sys, pathlib
out = pathlib.Path(sys.argv[2])
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        with out.open("ab") as f:
            f.write(body + b"\n")
        self.send_response(204); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
python3 "$dir/receiver.py" "$port" "$dir/received.jsonl" &
receiver=$!
trap 'kill $receiver 2>/dev/null; rm -rf "$dir"' EXIT

say() { printf '\n$ %s\n' "$*"; }
say "subscribe http://127.0.0.1:$port to budget.alert and cost.threshold.exceeded"
curl -s "${auth[@]}" -d "{\"name\":\"budget-demo\",\"url\":\"http://127.0.0.1:$port/hook\",\"events\":[\"budget.alert\",\"cost.threshold.exceeded\"]}" \
  "$TEMPONEST_HOST/webhooks/" | jq -c '{id, url, events}'
say "PUT /costs/prices: echo-1 at \$10 / Mtok in and out (echo is free otherwise)"
curl -s -X PUT "${auth[@]}" -d '{"model":"echo-1","input_usd_per_mtok":10,"output_usd_per_mtok":10}' \
  "$TEMPONEST_HOST/costs/prices" | jq -c .
for n in 1 2 3; do
  say "POST /agents/$AGENT_ID/execute ($n)"
  curl -s "${auth[@]}" -d "{\"user_message\":\"hello number $n\"}" \
    "$TEMPONEST_HOST/agents/$AGENT_ID/execute" | jq -c '{status, tokens_used, cost_usd}'
done
say "GET /costs/summary"
curl -s "${auth[@]}" "$TEMPONEST_HOST/costs/summary" | jq -c .
say "GET /dashboard/metrics"
curl -s "${auth[@]}" "$TEMPONEST_HOST/dashboard/metrics" | jq -c "{executions_total, status_distribution, duration_ms, top_agents_by_cost}"
# One call reserves at most (its prompt estimate + 1,024 output tokens) × $10 / Mtok ≈ $0.0103;
# the three calls above spent 3 × $0.00007.
say "POST /costs/budget: daily limit \$0.01055 (room for one more call's worst case), alert at 1%"
curl -s "${auth[@]}" -d '{"daily_limit_usd":0.01055,"alert_threshold":0.01}' \
  "$TEMPONEST_HOST/costs/budget" | jq -c .
say "POST /agents/$AGENT_ID/execute (fits: \$0.00021 spent + \$0.0103 worst case; settling it crosses 1%)"
curl -s -w ' HTTP %{http_code}\n' "${auth[@]}" -d '{"user_message":"one more"}' \
  "$TEMPONEST_HOST/agents/$AGENT_ID/execute" | sed 's/^\(.\{160\}\).*\( HTTP.*\)$/\1…\2/'
say "POST /agents/$AGENT_ID/execute (refused before the provider is called)"
curl -s -w ' HTTP %{http_code}\n' "${auth[@]}" -d '{"user_message":"and another"}' \
  "$TEMPONEST_HOST/agents/$AGENT_ID/execute"
say "GET /costs/budget/status"
curl -s "${auth[@]}" "$TEMPONEST_HOST/costs/budget/status" | jq -c .
say "the receiver's deliveries"
for _ in $(seq 1 300); do [ -s "$dir/received.jsonl" ] && break; sleep 0.1; done
jq -c '{type, data}' "$dir/received.jsonl"

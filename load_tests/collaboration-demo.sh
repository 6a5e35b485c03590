#!/usr/bin/env bash
# The four collaboration patterns end to end with curl against a release `temponest serve`
# (issue 15): sequential and parallel over echo agents, iterative over echo agents (identical
# answers converge at once), hierarchical over agents on a local OpenAI-compatible model server
# (a few lines of Python below: a plan for the coordinator, an answer per subtask, a synthesis).
#   load_tests/collaboration-demo.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ "${1:-}" != "--inner" ]; then
  dir=$(mktemp -d)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  cat >"$dir/model.py" <<'PY'
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        last = body["messages"][-1]["content"]
        if last.startswith("You coordinate a team"):
            text = json.dumps({"subtasks": [{"description": "list the facts"},
                                            {"description": "write the summary"}]})
        else:
            text = "done: " + " ".join(last.split()[:8])
        out = {"id": "x", "object": "chat.completion", "model": body["model"],
               "choices": [{"index": 0, "finish_reason": "stop",
                            "message": {"role": "assistant", "content": text}}],
               "usage": {"prompt_tokens": 20, "completion_tokens": 8, "total_tokens": 28}}
        raw = json.dumps(out).encode()
        self.send_response(200); self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(raw))); self.end_headers(); self.wfile.write(raw)
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
  python3 "$dir/model.py" "$port" &
  model=$!
  trap 'kill $model 2>/dev/null; rm -rf "$dir"' EXIT
  export TEMPONEST_PROVIDERS__LOCAL__KIND=openai
  export TEMPONEST_PROVIDERS__LOCAL__BASE_URL="http://127.0.0.1:$port/v1"
  "$root/load_tests/run.sh" exec "$0" --inner
  exit
fi
: "${TEMPONEST_HOST:?}" "${TOKEN:?}"
auth=(-H "Authorization: Bearer $TOKEN" -H 'content-type: application/json')
agent() {
  curl -s "${auth[@]}" -d "{\"name\":\"$1\",\"model\":\"$2\",\"provider\":\"$3\",\"description\":\"$4\"}" \
    "$TEMPONEST_HOST/agents/" | jq -r .id
}
e1=$(agent writer echo-1 echo "drafts text"); e2=$(agent editor echo-1 echo "edits text")
boss=$(agent boss local-1 local "plans and synthesises")
w1=$(agent researcher local-1 local "finds facts"); w2=$(agent author local-1 local "writes summaries")
show='{pattern, status, outcome, steps: [.results[] | {agent_id: .agent_id[0:8], input: .input[0:40], output: .output[0:48]}], total_cost_usd}'
run() {
  printf '\n$ POST /collaboration/execute %s\n' "$1"
  curl -s "${auth[@]}" -d "$2" "$TEMPONEST_HOST/collaboration/execute" | jq -c "$show"
}
run sequential "{\"pattern\":\"sequential\",\"agent_ids\":[\"$e1\",\"$e2\"],\"initial_message\":\"draft a haiku\"}"
run parallel "{\"pattern\":\"parallel\",\"agent_ids\":[\"$e1\",\"$e2\"],\"messages\":[\"one\",\"two\"]}"
run iterative "{\"pattern\":\"iterative\",\"agent_ids\":[\"$e1\",\"$e2\"],\"initial_message\":\"polish this\",\"config\":{\"max_iterations\":3,\"convergence_threshold\":0.9}}"
run hierarchical "{\"pattern\":\"hierarchical\",\"coordinator_id\":\"$boss\",\"worker_ids\":[\"$w1\",\"$w2\"],\"task\":\"summarise the report\",\"config\":{\"delegation_strategy\":\"round_robin\"}}"
printf '\n$ GET /collaboration/sessions/\n'
curl -s "${auth[@]}" "$TEMPONEST_HOST/collaboration/sessions/" | jq -c '[.[] | {pattern, status, outcome}]'

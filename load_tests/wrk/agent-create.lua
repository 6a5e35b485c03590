-- POST /agents/ with a name unique per request: a uuid per wrk run, the wrk thread's number and
-- a counter (names are unique per tenant; a repeat would be a 409). Used by `run.sh
-- wrk-agent-create` and `wrk-matrix.sh agent-create`; pass the token with
-- -H "Authorization: Bearer $TOKEN".
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

-- setup() runs in wrk's main Lua state, once per thread, before the run.
local run_uuid, threads = nil, 0
function setup(thread)
  if not run_uuid then
    local f = assert(io.open("/proc/sys/kernel/random/uuid"))
    run_uuid = f:read("*l")
    f:close()
  end
  threads = threads + 1
  -- globals of the thread's own Lua state
  thread:set("run_id", run_uuid)
  thread:set("thread_id", threads)
end

-- request() runs in each thread's state, with the globals set above.
local counter = 0
function request()
  counter = counter + 1
  local body = string.format('{"name":"wrk-%s-%d-%d","model":"echo-1","provider":"echo"}',
    run_id, thread_id, counter)
  return wrk.format(nil, nil, nil, body)
end

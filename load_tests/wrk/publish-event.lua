-- POST /events {"event_type":"load.test",...} until this thread has had its share of EVENTS
-- (env; split evenly over THREADS, env, default 2) answered, then stops the thread. Requests
-- still in flight at that moment may also be published, so run.sh counts the published events
-- in platform.outbox rather than trusting this count. Used by `run.sh webhooks-bench`; pass
-- the token with -H "Authorization: Bearer $TOKEN". done() prints the status counts. wrk itself
-- keeps running until -d (a stopped thread does not end it): run.sh interrupts it.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  local events = tonumber(os.getenv("EVENTS") or "20000")
  local nthreads = tonumber(os.getenv("THREADS") or "2")
  quota = math.floor(events / nthreads)
  if tid < events % nthreads then quota = quota + 1 end
  sent, answered, accepted, other = 0, 0, 0, 0
end

function request()
  sent = sent + 1
  return wrk.format(nil, nil, nil,
    string.format('{"event_type":"load.test","payload":{"thread":%d,"seq":%d}}', tid, sent))
end

function response(status, headers, body)
  answered = answered + 1
  if status == 202 then accepted = accepted + 1 else other = other + 1 end
  if answered >= quota then wrk.thread:stop() end
end

function done(summary, latency, requests)
  local a, o = 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("accepted")
    o = o + t:get("other")
  end
  io.write(string.format("wrk: %d answered 202, %d other statuses\n", a, o))
end

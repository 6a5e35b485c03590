-- GET /agents/{id} over the ids in the file named by IDS (one per line), each id read once:
-- every request is a cache miss. Thread t of N reads ids t, t+N, t+2N, ... starting at OFFSET,
-- so consecutive runs with different OFFSETs stay cold.
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
function init(args)
  ids = {}
  for line in io.lines(os.getenv("IDS")) do ids[#ids + 1] = line end
  n = 0
  nthreads = tonumber(os.getenv("THREADS") or "2")
  offset = tonumber(os.getenv("OFFSET") or "0")
end
function request()
  n = n + 1
  local i = ((offset + n * nthreads + tid) % #ids) + 1
  return wrk.format("GET", "/agents/" .. ids[i])
end

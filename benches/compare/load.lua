-- wrk script of load.sh. Every route is requested through it, so wrk's own
-- cost per request is the same for all of them: `request()` returns a
-- request formatted in advance.
--
--   wrk ... -s load.lua URL                        -- a plain GET
--   wrk ... -s load.lua URL -- CREDENTIALS THREADS -- GETs with credentials
--
-- CREDENTIALS holds one `Authorization` value a line. Thread k (of THREADS)
-- takes lines k, k + THREADS, ..., and sends each once, in turn; if the
-- run outlasts them it starts over, and the repeats are refused (they
-- show up as non-2xx responses, which load.sh reports).

local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function init(args)
  requests = {}
  local file, threads = args[1], tonumber(args[2] or "1")
  if file then
    local n = 0
    for line in io.lines(file) do
      if n % threads == id then
        requests[#requests + 1] = wrk.format(nil, nil, { Authorization = line })
      end
      n = n + 1
    end
  else
    requests[1] = wrk.format()
  end
  i = 0
end

function request()
  i = i % #requests + 1
  return requests[i]
end

-- One line for load.sh: requests, seconds, p99 in microseconds, responses
-- with a status over 399, socket errors.
function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format("result %d %.3f %d %d %d\n", summary.requests,
    summary.duration / 1e6, latency:percentile(99.0), e.status,
    e.connect + e.read + e.write + e.timeout))
end

-- wrk script: POST one JSON body per line of a file, in turn (or GET the path
-- when BODIES_FILE is "-"), and print the results as one JSON line (latencies
-- in microseconds).
--
--   wrk -t1 -c8 -d5s -s post_reviews.lua URL -- BODIES_FILE PATH [HEADER: VALUE ...]

local requests = {}
local next_request = 1

function init(args)
  local bodies, path = args[1], args[2]
  local headers = { ["Content-Type"] = "application/json" }
  for i = 3, #args do
    local name, value = args[i]:match("^([^:]+):%s*(.*)$")
    headers[name] = value
  end
  if bodies == "-" then
    headers["Content-Type"] = nil
    requests[1] = wrk.format("GET", path, headers)
    return
  end
  for body in io.lines(bodies) do
    requests[#requests + 1] = wrk.format("POST", path, headers, body)
  end
end

function request()
  local chosen = requests[next_request]
  next_request = next_request % #requests + 1
  return chosen
end

function done(summary, latency, _)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, errors.connect, errors.read, errors.write, errors.status, errors.timeout))
end

-- wrk script: POST real Jira payloads, each one distinct (trackbridge stores a
-- body once), and print the figures as one JSON line at the end.
-- The body template is the file named by the first argument; "__N__" in it
-- is replaced by a counter unique across threads.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("offset", #threads * 100000000)
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(args[1], "rb"))
  template = file:read("*a")
  file:close()
  local at = template:find("__N__", 1, true)
  before, after = template:sub(1, at - 1), template:sub(at + 5)
  -- One connection per delivery, as Jira's sender does: the same for every
  -- worker model (the sync worker closes after each answer anyway).
  headers = { ["Content-Type"] = "application/json", ["Connection"] = "close" }
end

function request()
  counter = counter + 1
  return wrk.format("POST", nil, headers, before .. (offset + counter) .. after)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d,'
    .. ' "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end

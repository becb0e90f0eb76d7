-- wrk script shared by every server: POST one fixed body and print a JSON summary when done.
--
-- Read from the environment (written per run by bench/load.py):
--   BENCH_BODY_FILE     the request body
--   BENCH_HEADERS_FILE  optional, one "Name: value" header per line
--   BENCH_ERROR_PATTERN optional Lua pattern; a 2xx body matching it counts as an error
--                       (for GraphQL: a non-empty "errors" list)
-- The last line printed is "BENCH_JSON {...}", parsed by bench/report.py.

local function read_file(path)
  local file = assert(io.open(path, "rb"), "cannot open " .. tostring(path))
  local content = file:read("*a")
  file:close()
  return content
end

wrk.method = "POST"
wrk.body = read_file(os.getenv("BENCH_BODY_FILE"))
wrk.headers["Content-Type"] = "application/json"
local headers_file = os.getenv("BENCH_HEADERS_FILE")
if headers_file and headers_file ~= "" then
  for line in read_file(headers_file):gmatch("[^\r\n]+") do
    local name, value = line:match("^%s*([^:]+):%s*(.-)%s*$")
    if name then wrk.headers[name] = value end
  end
end

local error_pattern = os.getenv("BENCH_ERROR_PATTERN")
if error_pattern == "" then error_pattern = nil end

-- Per-thread counters: each wrk thread runs its own copy of this script.
non_2xx = 0
body_errors = 0

function response(status, headers, body)
  if status < 200 or status > 299 then
    non_2xx = non_2xx + 1
  elseif error_pattern and body and body:find(error_pattern) then
    body_errors = body_errors + 1
  end
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local bad_status, bad_body = 0, 0
  for _, thread in ipairs(threads) do
    bad_status = bad_status + (thread:get("non_2xx") or 0)
    bad_body = bad_body + (thread:get("body_errors") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, '
      .. '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "mean": %.1f, "max": %d}, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d, "status": %d, '
      .. '"non_2xx": %d, "body": %d}}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max,
    e.connect, e.read, e.write, e.timeout, e.status, bad_status, bad_body
  ))
end

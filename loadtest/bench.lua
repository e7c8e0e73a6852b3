-- wrk script for loadtest/bench.sh: POSTs bodies read from $BENCH_BODIES (one JSON body per line, made by
-- eventrouter.loadtest.bench.BenchEvents) to $BENCH_PATH, with the Authorization header $BENCH_AUTH, cycling through
-- the bodies. The same script and bodies load the bare baseline and the router. At the end it prints one line,
-- "BENCH_JSON {...}", with the request count, duration, errors and wrk's (closed-loop) latency percentiles.
local bodies_file = os.getenv("BENCH_BODIES")
local path = os.getenv("BENCH_PATH") or "/v1/track"
local auth = os.getenv("BENCH_AUTH") or ""
local prepared = {}
local count = 0
local next_index = 0

function init(args)
  local headers = { ["Content-Type"] = "application/json", ["Authorization"] = auth }
  for line in io.lines(bodies_file) do
    count = count + 1
    prepared[count] = wrk.format("POST", path, headers, line)
  end
  math.randomseed(os.time() + count + math.floor(os.clock() * 1000000))
  next_index = math.random(count) - 1
end

function request()
  next_index = next_index % count + 1
  return prepared[next_index]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"durationUs":%d,"bytes":%d,"connectErrors":%d,"readErrors":%d,"writeErrors":%d,' ..
    '"statusErrors":%d,"timeouts":%d,"p50Ms":%.3f,"p99Ms":%.3f,"maxMs":%.3f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end

-- wrk script of the load harness (bench/cmd/loadbench): replays the requests of a file,
-- one line per tenant, and checks the status and the body length of every answer.
--
--   wrk -t1 -c32 -d10s -s check.lua http://127.0.0.1:PORT -- REQUESTS STATUS LEN[,LEN...]
--
-- REQUESTS lines are METHOD<TAB>PATH<TAB>TOKEN<TAB>BODY (BODY may be empty). The summary
-- is one line starting with WRKJSON.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  want_status = tonumber(args[2])
  want_len = {}
  for l in string.gmatch(args[3], "%d+") do
    want_len[tonumber(l)] = true
  end
  reqs = {}
  for line in io.lines(args[1]) do
    local method, path, token, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    local headers = { ["X-Auth-Token"] = token }
    if body == "" then
      body = nil
    else
      headers["Content-Type"] = "application/json"
    end
    table.insert(reqs, wrk.format(method, path, headers, body))
  end
  idx = math.random(#reqs) - 1
  bad_status = 0
  bad_length = 0
end

function request()
  idx = idx % #reqs + 1
  return reqs[idx]
end

function response(status, headers, body)
  if status ~= want_status then
    bad_status = bad_status + 1
  elseif not want_len[#body] then
    bad_length = bad_length + 1
  end
end

function done(summary, latency, requests)
  local bs, bl = 0, 0
  for _, t in ipairs(threads) do
    bs = bs + t:get("bad_status")
    bl = bl + t:get("bad_length")
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"status_errors":%d,"timeouts":%d,"bad_status":%d,"bad_length":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, bs, bl, latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end

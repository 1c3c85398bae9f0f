-- wrk script of tests/soak.sh: many tenants, each with its own token, calling a mix of
-- reads, writes and calls that must be refused. Argument: the tokens file written by
-- tests/soak (lines "tenant token own-private own-shared foreign-private").
local callers = {}
local counts = {c2xx = 0, c3xx = 0, c4xx = 0, c5xx = 0}

function init(args)
  for line in io.lines(args[1]) do
    local t, tok, own, shared, foreign = line:match("^(%S+) (%S+) (%S+) (%S+) (%S+)$")
    if t then
      callers[#callers + 1] = {tok = tok, own = own, shared = shared, foreign = foreign}
    end
  end
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
end

function request()
  local c = callers[math.random(#callers)]
  local r = math.random(100)
  local method, path, tok = "GET", nil, c.tok
  if r <= 35 then path = "/v2/images?limit=20"
  elseif r <= 50 then path = "/v2/images/" .. c.own
  elseif r <= 60 then path = "/v2/images/" .. c.foreign -- another tenant's: 404
  elseif r <= 67 then path = "/v2/images/" .. c.shared .. "/members"
  elseif r <= 72 then path = "/v2/images/00001000-0000-4000-8000-000000000001"
  elseif r <= 75 then path = "/versions"
  elseif r <= 82 then method = "PUT"; path = "/v2/images/" .. c.own .. "/tags/soak"
  elseif r <= 88 then method = "DELETE"; path = "/v2/images/" .. c.own .. "/tags/soak"
  elseif r <= 92 then path = "/v2/images?visibility=shared&member_status=all"
  elseif r <= 95 then path = "/v2/images/" .. c.own .. "/file"
  elseif r <= 97 then path = "/v2/images/..%2f" .. c.foreign -- refused: 400
  else path = "/v2/images"; tok = "not-a-token" -- refused: 401
  end
  return wrk.format(method, path, {["X-Auth-Token"] = tok})
end

function response(status, headers, body)
  if status >= 500 then c5xx = (c5xx or 0) + 1
  elseif status >= 400 then c4xx = (c4xx or 0) + 1
  elseif status >= 300 then c3xx = (c3xx or 0) + 1
  else c2xx = (c2xx or 0) + 1 end
end

local threads = {}
function setup(thread) threads[#threads + 1] = thread end

function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    for k, _ in pairs(counts) do counts[k] = counts[k] + (t:get(k) or 0) end
  end
  io.write(string.format("wrk statuses: 2xx=%d 3xx=%d 4xx=%d 5xx=%d\n", counts.c2xx, counts.c3xx, counts.c4xx, counts.c5xx))
  io.write(string.format("wrk errors: connect=%d read=%d write=%d timeout=%d status=%d\n",
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout, summary.errors.status))
end

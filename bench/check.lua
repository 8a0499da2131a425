-- wrk script: POSTs the body in $BENCH_BODY_FILE and checks every response.
-- A response counts as good only with a 2xx status and a body containing every "|"-separated
-- string of $BENCH_EXPECT.
-- done() prints one JSON line prefixed "BENCH_RESULT " for the runner.

local threads = {}

local function read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  return text
end

local function split(text)
  local parts = {}
  for part in string.gmatch(text or "", "[^|]+") do table.insert(parts, part) end
  return parts
end

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.body = read(os.getenv("BENCH_BODY_FILE"))
  wrk.headers["Content-Type"] = "application/json"
  expect = split(os.getenv("BENCH_EXPECT"))
  bad_status, bad_body, sample = 0, 0, ""
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    bad_status = bad_status + 1
    if sample == "" then sample = status .. " " .. string.sub(body or "", 1, 300) end
  else
    for _, want in ipairs(expect) do
      if not string.find(body or "", want, 1, true) then
        bad_body = bad_body + 1
        if sample == "" then sample = "missing '" .. want .. "' in: " .. string.sub(body or "", -300) end
        break
      end
    end
  end
end

local function json_string(text)
  text = string.gsub(text, "[%c\"\\]", function(c)
    if c == "\"" or c == "\\" then return "\\" .. c end
    return string.format("\\u%04x", string.byte(c))
  end)
  return "\"" .. text .. "\""
end

function done(summary, latency, requests)
  local bs, bb, first = 0, 0, ""
  for _, thread in ipairs(threads) do
    bs = bs + thread:get("bad_status")
    bb = bb + thread:get("bad_body")
    if first == "" then first = thread:get("sample") end
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT {\"requests\":%d,\"duration_us\":%d,\"bytes\":%d,\"connect_errors\":%d,\"read_errors\":%d," ..
    "\"write_errors\":%d,\"timeouts\":%d,\"bad_status\":%d,\"bad_body\":%d,\"p50_us\":%d,\"p90_us\":%d," ..
    "\"p99_us\":%d,\"max_us\":%d,\"sample\":%s}\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.timeout, bs, bb,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, json_string(first)))
end

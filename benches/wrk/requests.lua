-- wrk script: hands out the requests of a file, one line per request, each
-- line "METHOD<TAB>path<TAB>bearer token or empty<TAB>JSON body or empty".
-- Thread k of n takes lines k, k+n, k+2n, ... so no two requests share a
-- line; a thread that reaches its last line starts again and counts the
-- wrap (a phase whose requests must all be distinct should show 0 wraps).
-- Counts the statuses per thread and prints one RESULT line at the end.
--
--   wrk -t2 -c64 -d10s --latency -s requests.lua http://host:port -- FILE THREADS

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local lines = {}
local next_line = 1
statuses = {}
wraps = 0

local function split(line)
  local fields = {}
  for field in (line .. "\t"):gmatch("([^\t]*)\t") do
    table.insert(fields, field)
  end
  return fields
end

local function load(file, nthreads, mine)
  local index = 0
  for line in io.lines(file) do
    if nthreads == nil or index % nthreads == mine then
      local f = split(line)
      local headers = {}
      if f[3] ~= nil and f[3] ~= "" then
        headers["Authorization"] = "Bearer " .. f[3]
      end
      local body = nil
      if f[4] ~= nil and f[4] ~= "" then
        body = f[4]
        headers["Content-Type"] = "application/json"
      end
      table.insert(lines, wrk.format(f[1], f[2], headers, body))
    end
    index = index + 1
  end
end

function init(args)
  load(args[1], tonumber(args[2]), tid)
  if #lines == 0 then
    -- Fewer lines than threads (one GET /healthz): every thread sends them all.
    load(args[1], nil, nil)
  end
  if #lines == 0 then
    error("no requests in " .. args[1])
  end
end

function request()
  local req = lines[next_line]
  next_line = next_line + 1
  if next_line > #lines then
    next_line = 1
    wraps = wraps + 1
  end
  return req
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total, wrapped = {}, 0
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      total[status] = (total[status] or 0) + n
    end
    wrapped = wrapped + thread:get("wraps")
  end
  local keys = {}
  for status in pairs(total) do table.insert(keys, status) end
  table.sort(keys)
  local parts = {}
  for _, status in ipairs(keys) do
    table.insert(parts, status .. ":" .. total[status])
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p95_us=%d p99_us=%d statuses=%s wraps=%d errors=%d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    table.concat(parts, ","), wrapped,
    e.connect + e.read + e.write + e.timeout))
end

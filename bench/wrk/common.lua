-- Shared part of the wrk scripts: unique JSON-RPC ids, response checks, and one machine-readable
-- result line. Loaded by the era scripts with dofile(); not a wrk script by itself.
--
-- Environment (all optional):
--   BENCH_TOOL     tool name (default "echo"; "<upstream>__echo" on a prefixed federated endpoint)
--   BENCH_MESSAGE  the echo message (default "hello")
--   BENCH_AUTHORIZATION  an Authorization header value (e.g. "Bearer bst_..."); none when unset
--
-- A response counts as good when its status is 200 and its body contains the echoed text
-- content (or, after M.expect(), every one of the given strings). Everything else is counted:
-- non-200 statuses, and 200 replies that carry a JSON-RPC error or a tool error (bad_body). The
-- first bad reply is kept for the report.

local M = {}

M.tool = os.getenv("BENCH_TOOL") or "echo"
M.message = os.getenv("BENCH_MESSAGE") or "hello"
M.authorization = os.getenv("BENCH_AUTHORIZATION") or ""

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"' end
    if c == "\\" then return "\\\\" end
    return string.format("\\u%04x", c:byte())
  end) .. '"'
end
M.json_string = json_string

-- What a good reply must contain (the echoed text, as the server serialises it); scripts for
-- other methods replace it with M.expect.
local expected = { '"text":' .. json_string(M.message) }
function M.expect(strings) expected = strings end

local function has_all(body)
  for _, s in ipairs(expected) do
    if not string.find(body, s, 1, true) then return false end
  end
  return true
end

local threads = {}
local thread_count = 0

-- Runs in the main Lua state once per wrk thread, before the threads start.
function setup(thread)
  thread:set("tid", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

-- Runs in each thread's Lua state.
function init(args)
  counter = 0
  non200 = 0
  bad_body = 0
  first_bad = ""
end

-- Builds the body for one call with an id unique within this run (thread id and counter): a
-- 2025 session must not see an id twice, and both eras pay the same cost for it.
function M.request_with(headers, body_for_id)
  if M.authorization ~= "" then headers["Authorization"] = M.authorization end
  return function()
    counter = counter + 1
    local id = '"t' .. tid .. '-' .. counter .. '"'
    return wrk.format("POST", nil, headers, body_for_id(id))
  end
end

-- The headers every call sends (JSON in, JSON or SSE back, the protocol version), plus the
-- era's own: the 2025 session id, or the 2026 Mcp-Method / Mcp-Name.
function M.headers(version, extra)
  local h = {
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json, text/event-stream",
    ["MCP-Protocol-Version"] = version,
  }
  for k, v in pairs(extra or {}) do h[k] = v end
  return h
end

-- The stateless 2026-07-28 form: no session; version and capabilities in params._meta.
M.version_2026 = "2026-07-28"
M.meta_2026 = '"_meta":{"io.modelcontextprotocol/protocolVersion":"' .. M.version_2026 .. '"' ..
              ',"io.modelcontextprotocol/clientCapabilities":{}}'

-- The wrk `request` for one method with fixed params (a JSON object's text); only the id varies,
-- so everything after it is built once.
function M.request_for(headers, method, params)
  local tail = ',"method":"' .. method .. '","params":' .. params .. '}'
  return M.request_with(headers, function(id)
    return '{"jsonrpc":"2.0","id":' .. id .. tail
  end)
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
    if first_bad == "" then first_bad = "HTTP " .. status .. ": " .. string.sub(body or "", 1, 300) end
  elseif body == nil or not has_all(body) or string.find(body, '"isError":true', 1, true) then
    bad_body = bad_body + 1
    if first_bad == "" then first_bad = "HTTP 200 without the expected content: " .. string.sub(body or "", 1, 300) end
  end
end

-- Runs in the main Lua state after the test; prints one line the runner parses.
function done(summary, latency, requests)
  local total_non200, total_bad, first = 0, 0, ""
  for _, t in ipairs(threads) do
    total_non200 = total_non200 + (t:get("non200") or 0)
    total_bad = total_bad + (t:get("bad_body") or 0)
    local fb = t:get("first_bad") or ""
    if first == "" and fb ~= "" then first = fb end
  end
  local seconds = summary.duration / 1e6
  local e = summary.errors
  local fields = {
    string.format('"requests":%d', summary.requests),
    string.format('"duration_s":%.3f', seconds),
    string.format('"rps":%.1f', seconds > 0 and summary.requests / seconds or 0),
    string.format('"p50_us":%d', latency:percentile(50)),
    string.format('"p90_us":%d', latency:percentile(90)),
    string.format('"p99_us":%d', latency:percentile(99)),
    string.format('"mean_us":%.1f', latency.mean),
    string.format('"max_us":%d', latency.max),
    string.format('"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d,"non200":%d,"bad_body":%d}',
                  e.connect, e.read, e.write, e.timeout, e.status, total_non200, total_bad),
    '"first_bad":' .. json_string(first),
  }
  io.write("BENCH_RESULT {" .. table.concat(fields, ",") .. "}\n")
end

return M

-- wrk: tools/call inside a 2025-era session. wrk cannot run the initialize handshake itself, so
-- the caller does it (bench/run.sh uses curl: initialize, then notifications/initialized) and
-- passes the session here. Usage:
--   BENCH_SESSION_ID=... wrk -c 32 -d 10s -s bench/wrk/tools_call_2025.lua http://127.0.0.1:PORT/mcp/echo
-- Environment: BENCH_SESSION_ID (required), BENCH_PROTOCOL_VERSION (the negotiated version,
-- default 2025-11-25), BENCH_TOOL, BENCH_MESSAGE (see common.lua).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "common.lua")

local session = os.getenv("BENCH_SESSION_ID")
if session == nil or session == "" then
  error("BENCH_SESSION_ID is not set: run initialize first and pass the Mcp-Session-Id")
end
local headers = common.headers(os.getenv("BENCH_PROTOCOL_VERSION") or "2025-11-25",
                               { ["Mcp-Session-Id"] = session })
local params = '{"name":' .. common.json_string(common.tool) ..
               ',"arguments":{"message":' .. common.json_string(common.message) .. '}}'

request = common.request_for(headers, "tools/call", params)

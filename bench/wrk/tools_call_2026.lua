-- wrk: tools/call in the stateless 2026-07-28 form (no session; version and capabilities in
-- params._meta; Mcp-Method and Mcp-Name headers). Usage:
--   wrk -c 32 -d 10s -s bench/wrk/tools_call_2026.lua http://127.0.0.1:PORT/mcp/echo
-- Environment: BENCH_TOOL, BENCH_MESSAGE (see common.lua).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "common.lua")

local headers = common.headers(common.version_2026,
                               { ["Mcp-Method"] = "tools/call", ["Mcp-Name"] = common.tool })
local params = '{"name":' .. common.json_string(common.tool) ..
               ',"arguments":{"message":' .. common.json_string(common.message) .. '}' ..
               ',' .. common.meta_2026 .. '}'

request = common.request_for(headers, "tools/call", params)

-- wrk: tools/list on a federated endpoint in the stateless 2026-07-28 form (no session; version
-- and capabilities in params._meta; Mcp-Method header). Usage:
--   BENCH_EXPECT_TOOLS=u0__echo,u1__echo wrk -c 1 -d 10s -s bench/wrk/tools_list_2026.lua http://127.0.0.1:PORT/mcp
-- Environment: BENCH_EXPECT_TOOLS, the comma-separated tool names every reply must list (one per
-- upstream: a reply that lost an upstream counts as bad), and BENCH_AUTHORIZATION (common.lua).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "common.lua")

local headers = common.headers(common.version_2026, { ["Mcp-Method"] = "tools/list" })
local params = "{" .. common.meta_2026 .. "}"

local expected = {}
for name in string.gmatch(os.getenv("BENCH_EXPECT_TOOLS") or "", "[^,]+") do
  table.insert(expected, '"name":' .. common.json_string(name))
end
if #expected == 0 then error("tools_list_2026.lua: BENCH_EXPECT_TOOLS is empty") end
common.expect(expected)

request = common.request_for(headers, "tools/list", params)

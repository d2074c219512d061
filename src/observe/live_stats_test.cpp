#include "observe/live_stats.hpp"

#include <gtest/gtest.h>

#include "core/error_shape.hpp"

using namespace bastion::observe;
using namespace std::chrono_literals;

namespace {
CallOutcome call(std::string_view upstream, std::string_view tool, std::string_view status, double latency,
                 LiveStats::Clock::time_point at, std::string_view message = "") {
  CallOutcome c;
  c.upstream = upstream;
  c.tool = tool;
  c.status = status;
  c.latency_seconds = latency;
  c.at = at;
  c.wall = std::chrono::system_clock::now();
  c.error_message = message;
  c.error_code = status == "error" ? -32000 : 0;
  return c;
}
}  // namespace

TEST(MessageShape, CollapsesNumbersAndIds) {
  EXPECT_EQ(message_shape("timeout after 5012 ms"), "timeout after # ms");
  EXPECT_EQ(message_shape("timeout after 4999 ms"), "timeout after # ms");
  EXPECT_EQ(message_shape("id 0190ab12-3c4d failed\n"), "id <id> failed");
  EXPECT_EQ(message_shape(std::string(500, 'x')).size(), 200u);
}

// The live patterns use the store analysis's and the dataset export's normaliser, so a failure
// keeps one shape whichever source `analyze` reads: case, quoted values and ids do not split it.
TEST(MessageShape, IsTheSharedNormaliser) {
  for (std::string_view m : {"Timeout after 5000 ms", "request 3f2a9c1e-1b2c-4d5e-8f90-123456789abc failed",
                             "Upstream 'api' said \"no\"", "  a \n\t b  ", "code e42"}) {
    EXPECT_EQ(message_shape(m), bastion::core::normalize_error_message(m)) << m;
  }
  LiveStats stats(60s);
  auto now = LiveStats::Clock::now();
  stats.observe(call("demo", "fetch", "error", 0.01, now, "Upstream 'api' failed for request 3f2a9c1e-1b2c-4d5e-8f90-123456789abc"));
  stats.observe(call("demo", "fetch", "error", 0.01, now, "upstream \"billing\" failed for request 0190ab12-3c4d-7e8f-9a0b-1c2d3e4f5a6b"));
  auto patterns = stats.patterns(std::chrono::system_clock::now() - 1h);
  ASSERT_EQ(patterns.size(), 1u);
  EXPECT_EQ(patterns[0].count, 2u);
  EXPECT_EQ(patterns[0].message_shape, "upstream <str> failed for request <id>");
}

TEST(LiveStats, WindowsPerUpstreamAndToolAndPatterns) {
  LiveStats stats(60s);
  auto now = LiveStats::Clock::now();
  for (int i = 0; i < 90; ++i) stats.observe(call("demo", "echo", "ok", 0.001, now));
  for (int i = 0; i < 10; ++i) stats.observe(call("demo", "slow", "ok", 2.0, now));
  for (int i = 0; i < 5; ++i) stats.observe(call("demo", "fail", "error", 0.002, now, "boom " + std::to_string(i)));
  stats.observe(call("demo", "slow", "timeout", 30.0, now));
  stats.observe(call("demo", "echo", "denied", 0, now));  // not the upstream's doing
  auto up = stats.upstream_window("demo", now, 60s);
  EXPECT_EQ(up.count, 106u);
  EXPECT_EQ(up.errors, 6u);
  auto tools = stats.tools(now, 60s);
  ASSERT_EQ(tools.size(), 3u);
  for (const auto& t : tools) {
    if (t.tool == "slow") {
      EXPECT_EQ(t.timeouts, 1u);
      EXPECT_NEAR(t.window.p50, 2.0, 2.0 * WindowedStats::kMaxRelativeError);
    }
  }
  auto patterns = stats.patterns(std::chrono::system_clock::now() - 1h);
  ASSERT_EQ(patterns.size(), 2u);
  EXPECT_EQ(patterns[0].tool, "fail");
  EXPECT_EQ(patterns[0].count, 5u);
  EXPECT_EQ(patterns[0].message_shape, "boom #");
  EXPECT_EQ(patterns[0].error_code, "-32000");
  // Older than the window: gone from the summaries.
  EXPECT_EQ(stats.upstream_window("demo", now + 120s, 60s).count, 0u);
  EXPECT_TRUE(stats.tools(now + 120s, 60s).empty());
}

// Bad requests are the caller's doing: they leave the upstream's and the tool's error rates
// alone (so they never fire the error_rate trigger), yet still form error patterns.
TEST(LiveStats, CallerFaultsAreNotTheUpstreamsErrors) {
  LiveStats stats(60s);
  auto now = LiveStats::Clock::now();
  auto failing = [&](int code, std::string_view message) {
    auto c = call("demo", "echo", "error", 0.001, now, message);
    c.error_code = code;
    return c;
  };
  for (int i = 0; i < 20; ++i) stats.observe(call("demo", "echo", "ok", 0.001, now));
  for (int code : {-32700, -32600, -32601, -32602, -32002, -32004, -32020, -32022, -32800}) {
    stats.observe(failing(code, "bad request"));
  }
  auto up = stats.upstream_window("demo", now, 60s);
  EXPECT_EQ(up.count, 29u);
  EXPECT_EQ(up.errors, 0u);
  ASSERT_EQ(stats.tools(now, 60s).size(), 1u);
  EXPECT_EQ(stats.tools(now, 60s)[0].window.errors, 0u);
  // The upstream's own failures still count: internal and server errors, timeouts, unavailable.
  stats.observe(failing(-32603, "internal"));
  stats.observe(failing(-32000, "server error"));
  stats.observe(failing(0, "tool said isError"));
  stats.observe(call("demo", "echo", "timeout", 30.0, now));
  stats.observe(call("demo", "echo", "unavailable", 0.001, now));
  EXPECT_EQ(stats.upstream_window("demo", now, 60s).errors, 5u);
  EXPECT_EQ(stats.patterns(std::chrono::system_clock::now() - 1h).size(), 9u + 5u);
}

TEST(LiveStats, BoundsToolsAndPatterns) {
  LiveStats stats(10s);
  auto now = LiveStats::Clock::now();
  for (std::size_t i = 0; i < LiveStats::kMaxTools + 10; ++i) {
    stats.observe(call("u", "tool" + std::to_string(i), "ok", 0.001, now));
  }
  EXPECT_EQ(stats.tools(now, 10s).size(), LiveStats::kMaxTools + 1);  // + "(other)"
  for (std::size_t i = 0; i < LiveStats::kMaxPatterns + 5; ++i) {
    stats.observe(call("u", "t", "error", 0.001, now, "e" + std::string(i % 26 + 1, 'q') + std::string(i / 26, 'z')));
  }
  EXPECT_EQ(stats.patterns(std::chrono::system_clock::now() - 1h).size(), LiveStats::kMaxPatterns);
  EXPECT_EQ(stats.pattern_overflow(), 5u);
}

#include "observe/live_stats.hpp"

#include <gtest/gtest.h>

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
  EXPECT_EQ(message_shape("id 0190ab12-3c4d failed\n"), "id # failed ");
  EXPECT_EQ(message_shape(std::string(500, 'x')).size(), 160u);
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

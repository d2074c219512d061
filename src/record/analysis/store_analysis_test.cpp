#include "record/analysis/store_analysis.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "record/sqlite_store.hpp"
#include "record/test_records.hpp"
#include "record/time_format.hpp"

namespace bastion::record {
namespace {
using testing::TempDir;

const Clock::time_point kNow = Clock::time_point{std::chrono::milliseconds{1'795'887'107'000}};

// Nearest-rank percentile of exact values, the figure the histogram approximates.
double exact_percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

class Rows {
 public:
  Interaction& add(std::string agent, std::optional<std::string> tool, double latency_ms,
                   std::string status = "ok",
                   Clock::time_point at = kNow - std::chrono::minutes(30)) {
    // Odd rows of make_record leave the optional columns empty; ids stay unique.
    Interaction r = testing::make_record(next_ * 2 + 1, at);
    r.timestamp = at + std::chrono::milliseconds(next_);
    ++next_;
    r.agent_type = std::move(agent);
    r.tool = std::move(tool);
    r.method = r.tool ? "tools/call" : "tools/list";
    r.latency_ms = latency_ms;
    r.status = std::move(status);
    rows_.push_back(std::move(r));
    return rows_.back();
  }
  std::vector<Interaction>& rows() { return rows_; }

 private:
  int next_ = 0;
  std::vector<Interaction> rows_;
};

TEST(StoreAnalysis, NamesTheSlowToolAndTheErrorPatternWithinTheStatedAccuracy) {
  TempDir dir;
  SqliteStore store(dir.file("i.db"));
  ASSERT_TRUE(store.open().ok);

  Rows rows;
  std::map<std::string, std::vector<double>> latencies;
  for (int i = 0; i < 200; ++i) {
    double ms = 0.5 + i * 0.37;
    rows.add("demo", "echo", ms);
    latencies["echo"].push_back(ms);
  }
  for (int i = 0; i < 100; ++i) {
    double ms = 4000 + i * 31.3;  // 4.0 .. 7.1 s
    rows.add("demo", "slow", ms);
    latencies["slow"].push_back(ms);
  }
  // 20 errors with one shape, 5 of the caller's with another, 2 timeouts, 13 fine.
  for (int i = 0; i < 20; ++i) {
    auto& r = rows.add("demo", "fail", 12 + i, "error");
    r.error_code = -32000;
    r.error_message = "Upstream failed after " + std::to_string(100 + i) +
                      " ms (request 7f3a9c2e-" + std::to_string(1000 + i) +
                      "-4abc-9def-0123456789ab)";
    r.input_hash = std::string(64, static_cast<char>('a' + i % 5));
  }
  for (int i = 0; i < 5; ++i) {
    auto& r = rows.add("demo", "fail", 3, "error");
    r.error_code = -32602;
    r.error_message = "Invalid params: missing \"code\"";
  }
  for (int i = 0; i < 2; ++i) rows.add("demo", "fail", 30'000, "timeout");
  for (int i = 0; i < 13; ++i) rows.add("demo", "fail", 10);
  // Refused by the gateway: counts as an error, not as latency.
  rows.add("demo", "echo", 0, "denied");
  // Non-tool methods, and another agent.
  for (int i = 0; i < 10; ++i) rows.add("demo", std::nullopt, 2);
  for (int i = 0; i < 10; ++i) rows.add("other", "lookup", 50 + i);
  // Outside the window: neither the very slow call before it nor the one at `until`.
  rows.add("demo", "echo", 1e6, "ok", kNow - std::chrono::hours(2));
  rows.add("demo", "echo", 1e6, "ok", kNow);
  ASSERT_TRUE(store.write(rows.rows()).ok);

  auto a = analyze_store(store, kNow - std::chrono::hours(1), kNow);
  ASSERT_TRUE(a.status.ok) << a.status.error;
  EXPECT_EQ(a.rows, rows.rows().size() - 2);
  EXPECT_EQ(a.overflow_rows, 0u);
  const auto& in = a.input;
  EXPECT_EQ(in.source, "store");
  EXPECT_DOUBLE_EQ(in.window_seconds, 3600);

  std::map<std::string, observe::LatencyStats> tools;
  for (const auto& t : in.tools) tools[t.upstream + "/" + t.tool] = t.stats;
  ASSERT_EQ(tools.size(), 5u);  // demo/echo, demo/slow, demo/fail, demo/"", other/lookup
  for (std::string name : {"echo", "slow"}) {
    const auto& s = tools.at("demo/" + name);
    for (double q : {0.5, 0.95, 0.99}) {
      double exact = exact_percentile(latencies[name], q);
      double got = q == 0.5 ? s.p50_ms : q == 0.95 ? s.p95_ms : s.p99_ms;
      EXPECT_NEAR(got, exact, exact * 0.01) << name << " q=" << q;
    }
  }
  // The denied call is the gateway's refusal, not the agent's: not counted (it is a pattern below).
  EXPECT_EQ(tools.at("demo/echo").count, 200u);
  EXPECT_EQ(tools.at("demo/echo").errors, 0u);
  EXPECT_DOUBLE_EQ(tools.at("demo/slow").max_ms, 4000 + 99 * 31.3);
  EXPECT_EQ(tools.at("demo/fail").count, 40u);
  EXPECT_EQ(tools.at("demo/fail").errors, 22u);  // the 5 invalid-params calls are the caller's fault
  EXPECT_EQ(tools.at("demo/fail").timeouts, 2u);
  EXPECT_EQ(tools.at("demo/").count, 10u);

  // Whole-agent figures: one merged histogram over every demo row.
  ASSERT_EQ(in.agents.size(), 2u);
  EXPECT_EQ(in.agents[0].upstream, "demo");
  EXPECT_EQ(in.agents[0].stats.count, 350u);
  EXPECT_EQ(in.agents[0].stats.errors, 22u);

  // Error patterns, most frequent first, digits and ids collapsed.
  ASSERT_EQ(in.errors.size(), 4u);  // two error shapes, timeout, denied
  const auto& top = in.errors[0];
  EXPECT_EQ(top.upstream, "demo");
  EXPECT_EQ(top.tool, "fail");
  EXPECT_EQ(top.status, "error");
  EXPECT_EQ(top.error_code, "-32000");
  EXPECT_EQ(top.message_shape, "upstream failed after # ms (request <id>)");
  EXPECT_EQ(top.count, 20u);
  EXPECT_EQ(top.example_input_hashes.size(), 3u);
  EXPECT_EQ(top.first_seen, format_timestamp(rows.rows()[300].timestamp));
  EXPECT_EQ(top.last_seen, format_timestamp(rows.rows()[319].timestamp));
  EXPECT_EQ(in.errors[1].count, 5u);
  EXPECT_EQ(in.errors[1].message_shape, "invalid params: missing <str>");

  // Through the analyzer: the report names them.
  auto report = observe::analyze(in);
  ASSERT_TRUE(report.slowest_tool);
  // demo__fail has the two 30 s timeouts, but only in its p99: its p95 is 31 ms.
  EXPECT_EQ(report.slowest_tool->tool, "slow");
  EXPECT_TRUE(report.slowest_tool->above_latency);
  ASSERT_FALSE(report.error_patterns.empty());
  EXPECT_EQ(report.error_patterns[0].message_shape, "upstream failed after # ms (request <id>)");
  EXPECT_TRUE(report.slowest_agent && report.slowest_agent->merged);
}

TEST(StoreAnalysis, EmptyStoreGivesNoData) {
  TempDir dir;
  SqliteStore store(dir.file("i.db"));
  auto a = analyze_store(store, kNow - std::chrono::hours(1), kNow);
  ASSERT_TRUE(a.status.ok) << a.status.error;
  EXPECT_EQ(a.rows, 0u);
  EXPECT_TRUE(a.input.tools.empty());
  EXPECT_FALSE(observe::analyze(a.input).has_data);
}

TEST(StoreAnalysis, GroupTablesAreBoundedAndSayWhatWasLeftOut) {
  TempDir dir;
  SqliteStore store(dir.file("i.db"));
  ASSERT_TRUE(store.open().ok);
  Rows rows;
  for (int i = 0; i < 10; ++i) {
    auto& r = rows.add("demo", "t" + std::to_string(i), 5, "error");
    r.error_message = "distinct shape " + std::string(1, static_cast<char>('a' + i));
  }
  ASSERT_TRUE(store.write(rows.rows()).ok);
  StoreAnalysisLimits limits;
  limits.max_tool_groups = 3;  // t0 and the demo agent, then t1; the rest are left out
  limits.max_error_patterns = 4;
  auto a = analyze_store(store, kNow - std::chrono::hours(1), kNow, limits);
  ASSERT_TRUE(a.status.ok);
  EXPECT_EQ(a.input.tools.size(), 2u);
  EXPECT_EQ(a.input.agents.size(), 1u);
  EXPECT_EQ(a.input.agents[0].stats.count, 10u);  // the agent group keeps counting
  EXPECT_EQ(a.input.errors.size(), 4u);
  EXPECT_EQ(a.overflow_rows, 8u + 6u);
  ASSERT_EQ(a.input.notes.size(), 2u);
  EXPECT_NE(a.input.notes[0].find("limit of 3"), std::string::npos) << a.input.notes[0];
  EXPECT_NE(a.input.notes[1].find("6 failed rows"), std::string::npos) << a.input.notes[1];
}

// As in the live windows: errors the caller caused are served calls in the error rate, and still
// error patterns.
TEST(StoreAnalysis, CallerFaultsLeaveTheErrorRateAlone) {
  TempDir dir;
  SqliteStore store(dir.file("i.db"));
  ASSERT_TRUE(store.open().ok);
  Rows rows;
  for (int i = 0; i < 10; ++i) rows.add("demo", "echo", 5);
  for (int i = 0; i < 5; ++i) {
    auto& r = rows.add("demo", "echo", 1, "error");
    r.error_code = -32602;
    r.error_message = "unknown tool: ech0";
  }
  auto& internal = rows.add("demo", "echo", 5, "error");
  internal.error_code = -32603;
  internal.error_message = "internal error";
  ASSERT_TRUE(store.write(rows.rows()).ok);
  auto a = analyze_store(store, kNow - std::chrono::hours(1), kNow);
  ASSERT_TRUE(a.status.ok) << a.status.error;
  ASSERT_EQ(a.input.agents.size(), 1u);
  EXPECT_EQ(a.input.agents[0].stats.count, 16u);
  EXPECT_EQ(a.input.agents[0].stats.errors, 1u);
  EXPECT_EQ(a.input.errors.size(), 2u);
}

TEST(StoreAnalysis, AStoreThatCannotOpenIsAnError) {
  TempDir dir;
  SqliteOptions options;
  options.create_parent_dir = false;
  SqliteStore store(dir.file("missing/dir/i.db"), options);
  auto a = analyze_store(store, kNow - std::chrono::hours(1), kNow);
  EXPECT_FALSE(a.status.ok);
  EXPECT_NE(a.status.error.find("cannot open the store"), std::string::npos) << a.status.error;
}

}  // namespace
}  // namespace bastion::record

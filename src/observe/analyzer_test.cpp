#include "observe/analyzer.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <limits>

namespace bastion::observe {
namespace {

LatencyStats stats(std::uint64_t count, double p50, double p95, double p99,
                   std::uint64_t errors = 0, std::uint64_t timeouts = 0) {
  LatencyStats s;
  s.count = count;
  s.errors = errors;
  s.timeouts = timeouts;
  s.p50_ms = p50;
  s.p95_ms = p95;
  s.p99_ms = p99;
  s.mean_ms = p50;
  s.max_ms = p99 * 1.1;
  return s;
}

AnalysisInput sample_input() {
  AnalysisInput in;
  in.source = "store";
  in.window_seconds = 3600;
  in.tools = {
      {"demo", "echo", stats(100, 2, 5, 9)},
      {"demo", "slow", stats(40, 1200, 6100, 7000)},
      {"demo", "", stats(10, 1, 3, 4)},
      {"other", "lookup", stats(50, 80, 200, 300, 10, 2)},
  };
  in.errors = {
      {"other",
       "lookup",
       "error",
       "-32000",
       "upstream said no #",
       7,
       "2026-01-01T00:00:00.000Z",
       "2026-01-01T00:30:00.000Z",
       {"aa", "bb"}},
      {"other",
       "lookup",
       "timeout",
       "",
       "",
       2,
       "2026-01-01T00:10:00.000Z",
       "2026-01-01T00:20:00.000Z",
       {}},
      {"other",
       "lookup",
       "error",
       "-32001",
       "other #",
       1,
       "2026-01-01T00:05:00.000Z",
       "2026-01-01T00:05:00.000Z",
       {}},
  };
  return in;
}

TEST(Analyzer, EmptyInputGivesAValidNoDataReport) {
  AnalysisInput in;
  in.source = "store";
  auto r = analyze(in);
  EXPECT_FALSE(r.has_data);
  EXPECT_EQ(r.calls, 0u);
  EXPECT_FALSE(r.slowest_agent);
  EXPECT_FALSE(r.slowest_tool);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].severity, Severity::info);
  EXPECT_EQ(r.findings[0].message, "no data in the last 1 h");
  auto j = to_json(r);
  EXPECT_EQ(j.at("version").as_int64(), 1);
  EXPECT_TRUE(j.at("slowest_tool").is_null());
  EXPECT_FALSE(j.at("has_data").as_bool());
  EXPECT_NE(to_text(r).find("no data in the last 1 h"), std::string::npos);
}

TEST(Analyzer, NamesTheSlowestToolAndAgent) {
  auto r = analyze(sample_input());
  ASSERT_TRUE(r.slowest_tool);
  EXPECT_EQ(r.slowest_tool->upstream, "demo");
  EXPECT_EQ(r.slowest_tool->tool, "slow");
  EXPECT_TRUE(r.slowest_tool->above_latency);
  ASSERT_TRUE(r.slowest_agent);
  EXPECT_EQ(r.slowest_agent->upstream, "demo");
  // Combined from the tools: counts summed, percentiles the largest per-tool value (upper bound).
  EXPECT_FALSE(r.slowest_agent->merged);
  EXPECT_EQ(r.slowest_agent->stats.count, 150u);
  EXPECT_EQ(r.slowest_agent->tools, 3u);
  EXPECT_DOUBLE_EQ(r.slowest_agent->stats.p95_ms, 6100);
  EXPECT_DOUBLE_EQ(r.slowest_agent->stats.mean_ms, (100 * 2 + 40 * 1200 + 10 * 1) / 150.0);
  EXPECT_EQ(r.calls, 200u);
  EXPECT_EQ(r.errors, 10u);
  EXPECT_EQ(r.timeouts, 2u);
  // Tools by p95.
  ASSERT_EQ(r.tools.size(), 4u);
  EXPECT_EQ(r.tools[0].tool, "slow");
  EXPECT_EQ(r.tools[1].tool, "lookup");
  // The first finding is the latency one, in the words an operator reads.
  ASSERT_FALSE(r.findings.empty());
  EXPECT_EQ(r.findings[0].kind, "error_rate");  // other__lookup fails 20%: also a warning
  bool latency_seen = false;
  for (const auto& f : r.findings) {
    if (f.kind == "latency") {
      latency_seen = true;
      EXPECT_EQ(f.severity, Severity::warning);
      EXPECT_EQ(f.subject, "demo__slow");
      EXPECT_EQ(f.message,
                "tool demo__slow p95 6.1 s exceeds the 5 s latency trigger (p50 1.2 s, p99 7 s, "
                "40 calls)");
    }
  }
  EXPECT_TRUE(latency_seen);
}

TEST(Analyzer, GivenAgentFiguresAreUsedAsMerged) {
  auto in = sample_input();
  in.agents = {{"demo", stats(150, 3, 4200, 6500)}};
  auto r = analyze(in);
  ASSERT_TRUE(r.slowest_agent);
  // "other" has p95 200, demo's merged p95 is 4200: still the slowest, and below the trigger.
  EXPECT_EQ(r.slowest_agent->upstream, "demo");
  EXPECT_TRUE(r.slowest_agent->merged);
  EXPECT_DOUBLE_EQ(r.slowest_agent->stats.p95_ms, 4200);
  EXPECT_FALSE(r.slowest_agent->above_latency);
  EXPECT_EQ(to_json(r).at("slowest_agent").at("percentiles").as_string(), "merged");
}

TEST(Analyzer, ErrorRatesAreFlaggedAndPatternsRankedByCount) {
  auto r = analyze(sample_input());
  ASSERT_EQ(r.error_rates.size(), 1u);
  EXPECT_EQ(r.error_rates[0].tool, "lookup");
  EXPECT_DOUBLE_EQ(r.error_rates[0].error_rate, 0.2);
  EXPECT_TRUE(r.error_rates[0].above_error_rate);
  ASSERT_EQ(r.error_patterns.size(), 3u);
  EXPECT_EQ(r.error_patterns[0].count, 7u);
  EXPECT_EQ(r.error_patterns[1].count, 2u);
  EXPECT_EQ(r.error_patterns[2].count, 1u);
  const Finding* f = nullptr;
  for (const auto& x : r.findings) {
    if (x.kind == "error_rate") f = &x;
  }
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, Severity::warning);
  EXPECT_EQ(f->message,
            "tool other__lookup fails 20% of calls (10 of 50, 2 timeouts), above the 5% error-rate "
            "trigger; most often error -32000 \"upstream said no #\"");
}

TEST(Analyzer, MostCallsFailingIsCritical) {
  AnalysisInput in;
  in.tools = {{"demo", "fail", stats(10, 1, 2, 3, 6)}};
  auto r = analyze(in);
  ASSERT_FALSE(r.findings.empty());
  EXPECT_EQ(r.findings[0].severity, Severity::critical);
  EXPECT_EQ(r.findings[0].kind, "error_rate");
}

TEST(Analyzer, SlowMedianIsCriticalAndSortsFirst) {
  AnalysisInput in;
  in.tools = {{"a", "x", stats(10, 100, 5500, 6000)}, {"b", "y", stats(10, 7000, 9000, 9500)}};
  auto r = analyze(in);
  ASSERT_GE(r.findings.size(), 2u);
  EXPECT_EQ(r.findings[0].severity, Severity::critical);
  EXPECT_EQ(r.findings[0].subject, "b__y");
  EXPECT_EQ(r.findings[0].message,
            "tool b__y p50 7 s and p95 9 s exceed the 5 s latency trigger (10 calls)");
  EXPECT_EQ(r.findings[1].severity, Severity::warning);
  EXPECT_EQ(r.findings[1].subject, "a__x");
}

TEST(Analyzer, NothingAboveTheTriggersSaysWhatIsSlowest) {
  AnalysisInput in;
  in.tools = {{"demo", "echo", stats(5, 1, 12, 20)}};
  auto r = analyze(in);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].severity, Severity::info);
  EXPECT_EQ(r.findings[0].message,
            "no tool above the 5 s latency trigger; slowest is demo__echo (p50 1 ms, p95 12 ms, "
            "p99 20 ms), slowest agent demo (p95 12 ms)");
}

TEST(Analyzer, MemoryTrendIsALeastSquaresSlopeAndForecastsTheTrigger) {
  AnalysisInput in;
  in.thresholds.memory_bytes = 1000.0 * 1024 * 1024;
  ReplicaMemory m;
  m.upstream = "demo";
  m.replica = 1;
  m.rss_bytes = 700.0 * 1024 * 1024;
  // 1 MiB/s with noise that cancels out in the fit.
  for (int i = -60; i <= 0; i += 10) {
    double noise = (i / 10) % 2 == 0 ? 4096 : -4096;
    m.history.push_back({static_cast<double>(i), m.rss_bytes + i * 1024.0 * 1024 + noise});
  }
  in.memory = {m};
  auto r = analyze(in);
  ASSERT_EQ(r.memory.size(), 1u);
  const auto& p = r.memory[0];
  EXPECT_NEAR(p.fraction, 0.7, 1e-12);
  ASSERT_TRUE(p.slope_bytes_per_second);
  EXPECT_NEAR(*p.slope_bytes_per_second, 1024.0 * 1024, 200);
  EXPECT_EQ(p.samples, 7u);
  ASSERT_TRUE(p.forecast_seconds);
  EXPECT_EQ(p.forecast_source, "trend");
  EXPECT_NEAR(*p.forecast_seconds, 300, 0.1);
  ASSERT_FALSE(r.findings.empty());
  EXPECT_EQ(r.findings[0].kind, "memory");
  EXPECT_EQ(r.findings[0].severity, Severity::warning);
  EXPECT_EQ(r.findings[0].subject, "demo/1");
  EXPECT_NE(r.findings[0].message.find("in about 5 min"), std::string::npos)
      << r.findings[0].message;

  // A predictor's forecast wins; over the trigger is critical.
  in.memory[0].forecast_seconds_to_threshold = 42;
  in.memory[0].rss_bytes = 1100.0 * 1024 * 1024;
  r = analyze(in);
  EXPECT_EQ(r.memory[0].forecast_source, "input");
  EXPECT_DOUBLE_EQ(*r.memory[0].forecast_seconds, 42);
  EXPECT_TRUE(r.memory[0].above_threshold);
  EXPECT_EQ(r.findings[0].severity, Severity::critical);
  EXPECT_EQ(r.findings[0].message,
            "replica demo/1 RSS 1.1 GiB is at 110% of the 1000 MiB memory trigger, rising 1 MiB/s");

  // One sample: no slope, no forecast, no finding below 80%.
  in.memory[0] = ReplicaMemory{"demo", 0, 100, {{0, 100}}, std::nullopt};
  r = analyze(in);
  EXPECT_FALSE(r.memory[0].slope_bytes_per_second);
  EXPECT_FALSE(r.memory[0].forecast_seconds);
}

TEST(Analyzer, QueueingFlagsSaturationAndMissingReplicas) {
  AnalysisInput in;
  in.queues = {
      {"busy", 9, 2, 2, 2}, {"hurt", 1, 3, 2, 4}, {"down", 3, 1, 0, 1}, {"calm", 1, 2, 2, 4}};
  auto r = analyze(in);
  ASSERT_EQ(r.queues.size(), 4u);
  EXPECT_TRUE(r.queues[0].saturated);
  EXPECT_FALSE(r.queues[0].degraded);
  EXPECT_DOUBLE_EQ(*r.queues[0].in_flight_per_replica, 4.5);
  EXPECT_TRUE(r.queues[1].degraded);
  EXPECT_FALSE(r.queues[1].saturated);
  EXPECT_TRUE(r.queues[2].saturated);
  EXPECT_FALSE(r.queues[2].in_flight_per_replica);
  EXPECT_FALSE(r.queues[3].saturated || r.queues[3].degraded);
  ASSERT_GE(r.findings.size(), 3u);
  EXPECT_EQ(r.findings[0].severity, Severity::critical);
  EXPECT_EQ(r.findings[0].message, "upstream down has no replica up (0 of 1) with 3 calls waiting");
  EXPECT_EQ(r.findings[1].subject, "busy");
  EXPECT_EQ(r.findings[1].message,
            "upstream busy has 9 calls in flight on 2 live replicas (4.5 per replica, trigger 4), "
            "already at max_replicas 2");
  EXPECT_EQ(r.findings[2].message, "upstream hurt has 2 of 3 replicas up");
}

TEST(Analyzer, JsonRoundTripsAndIsStable) {
  auto in = sample_input();
  in.memory = {ReplicaMemory{"demo", 0, 5e8, {{-10, 4e8}, {0, 5e8}}, std::nullopt}};
  in.queues = {{"demo", 2, 1, 1, 4}};
  in.notes = {"gateway not reachable"};
  auto r = analyze(in);
  auto j = to_json(r);
  // Serialisable text, and parsing it back gives the same document.
  auto text = boost::json::serialize(j);
  auto back = report_from_json(boost::json::parse(text));
  ASSERT_TRUE(back);
  EXPECT_EQ(boost::json::serialize(to_json(*back)), text);
  EXPECT_EQ(to_text(*back), to_text(r));
  for (auto key : {"version",
                   "source",
                   "window_seconds",
                   "has_data",
                   "thresholds",
                   "totals",
                   "findings",
                   "slowest_agent",
                   "slowest_tool",
                   "agents",
                   "agents_omitted",
                   "tools",
                   "tools_omitted",
                   "error_rates",
                   "error_rates_omitted",
                   "error_patterns",
                   "error_patterns_omitted",
                   "memory",
                   "queues",
                   "notes"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j.at("slowest_tool").at("name").as_string(), "demo__slow");
  EXPECT_EQ(j.at("error_patterns").at(0).at("message_shape").as_string(), "upstream said no #");
  EXPECT_FALSE(report_from_json(boost::json::parse(R"({"version":2,"findings":[],"totals":{}})")));
  EXPECT_FALSE(report_from_json(boost::json::parse("[]")));
}

TEST(Analyzer, NonFiniteFiguresDoNotBreakTheJson) {
  AnalysisInput in;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  in.tools = {{"demo", "x", stats(3, nan, std::numeric_limits<double>::infinity(), nan)}};
  in.memory = {ReplicaMemory{"demo", 0, nan, {{nan, 1}, {0, nan}}, nan}};
  auto r = analyze(in);
  // Boost.JSON would write NaN as null and infinity as 1e99999: neither may appear.
  auto doc = boost::json::parse(boost::json::serialize(to_json(r)));
  const auto& tool = doc.at("tools").at(0).as_object();
  for (auto key : {"p50_ms", "p95_ms", "p99_ms", "mean_ms", "max_ms"}) {
    ASSERT_TRUE(tool.at(key).is_double()) << key;
    EXPECT_EQ(tool.at(key).as_double(), 0.0) << key;
  }
  const auto& memory = doc.at("memory").at(0).as_object();
  EXPECT_EQ(memory.at("rss_bytes").as_double(), 0.0);
  EXPECT_TRUE(memory.at("slope_bytes_per_second").is_null());  // no two usable samples
  EXPECT_TRUE(memory.at("forecast_seconds_to_threshold").is_null());
}

TEST(Analyzer, ListsAreCappedWithAnOmittedCount) {
  AnalysisInput in;
  for (int i = 0; i < 30; ++i) {
    in.tools.push_back({"demo", "t" + std::to_string(i), stats(1, i, i, i, 1)});
    in.errors.push_back({"demo", "t" + std::to_string(i), "error", "", "x", 1, "", "", {}});
  }
  auto r = analyze(in);
  EXPECT_EQ(r.tools.size(), kMaxListed);
  EXPECT_EQ(r.tools_omitted, 10u);
  EXPECT_EQ(r.error_patterns_omitted, 10u);
  EXPECT_EQ(r.error_rates_omitted, 10u);
  EXPECT_EQ(r.tools[0].tool, "t29");
  EXPECT_LE(r.findings.size(), kMaxFindings);
  EXPECT_EQ(r.calls, 30u);  // totals count everything, not only what is listed
}

TEST(Analyzer, TextReportLeadsWithFindings) {
  auto text = to_text(analyze(sample_input()));
  auto findings = text.find("Findings");
  auto slow = text.find("WARNING   tool demo__slow p95 6.1 s exceeds the 5 s latency trigger");
  ASSERT_NE(findings, std::string::npos) << text;
  ASSERT_NE(slow, std::string::npos) << text;
  EXPECT_LT(findings, slow);
  EXPECT_NE(
      text.find(
          "Slowest tool:  demo__slow  p50 1.2 s, p95 6.1 s, p99 7 s over 40 calls  ABOVE 5 s"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("Error patterns (by count)"), std::string::npos);
}

}  // namespace
}  // namespace bastion::observe

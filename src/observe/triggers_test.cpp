#include "observe/triggers.hpp"

#include <gtest/gtest.h>

using namespace bastion;
using namespace bastion::observe;
using namespace std::chrono_literals;

namespace {
core::UpstreamMonitoring settings() {
  core::UpstreamMonitoring m;
  m.triggers.memory_bytes = 1000;
  m.triggers.latency = 1000ms;
  m.triggers.error_rate = 0.05;
  m.triggers.window = 60s;
  m.triggers.horizon = 10s;
  m.triggers.min_samples = 4;
  m.triggers.min_calls = 10;
  m.triggers.cooldown = 30s;
  return m;
}

UpstreamObservation one_replica(double now, double rss, long pid = 100) {
  UpstreamObservation o;
  o.now = now;
  o.replicas = {{0, pid, true, rss}};
  o.replicas_up = o.base_replicas = o.replica_count = 1;
  return o;
}

bool has(const std::vector<Condition>& cs, const std::string& name) {
  for (const auto& c : cs) {
    if (c.name == name) return true;
  }
  return false;
}
}  // namespace

TEST(UpstreamTriggers, RestartsAReplicaOverTheMemoryThreshold) {
  UpstreamTriggers triggers(settings());
  EXPECT_TRUE(triggers.evaluate(one_replica(0, 500)).empty());
  auto d = triggers.evaluate(one_replica(1, 1200));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].kind, ActionKind::restart_replica);
  EXPECT_EQ(d[0].slot, 0u);
  EXPECT_EQ(d[0].reason, "memory");
  EXPECT_TRUE(has(triggers.conditions(), "memory"));
  // Still high (the restart has not happened yet): the cool-down holds the next one back, the
  // condition still shows.
  EXPECT_TRUE(triggers.evaluate(one_replica(2, 1200)).empty());
  EXPECT_TRUE(has(triggers.conditions(), "memory"));
  // A new process with low memory: quiet.
  EXPECT_TRUE(triggers.evaluate(one_replica(3, 100, 101)).empty());
  EXPECT_TRUE(triggers.conditions().empty());
}

TEST(UpstreamTriggers, ForecastRestartsBeforeTheThreshold) {
  UpstreamTriggers triggers(settings());
  // 50 bytes/s from 300: crosses 1000 at t = 14. Horizon 10 s: acts once the crossing is <= 10 s away.
  std::optional<double> acted_at;
  for (int t = 0; t <= 13; ++t) {
    auto d = triggers.evaluate(one_replica(t, 300 + 50.0 * t));
    if (!d.empty() && !acted_at) {
      acted_at = t;
      EXPECT_EQ(d[0].reason, "memory_forecast");
      ASSERT_TRUE(triggers.forecast().memory[0].seconds_to_threshold);
      EXPECT_NEAR(*triggers.forecast().memory[0].seconds_to_threshold, 14 - t, 1e-6);
      EXPECT_NEAR(*triggers.forecast().memory[0].slope_bytes_per_second, 50, 1e-9);
    }
  }
  ASSERT_TRUE(acted_at);
  EXPECT_EQ(*acted_at, 4);  // min_samples points (t = 0..3) first, then 14 - 4 = 10 s <= horizon
}

TEST(UpstreamTriggers, NoForecastWithoutEnoughSamplesOrWhenDisabled) {
  auto s = settings();
  s.triggers.min_samples = 50;
  UpstreamTriggers few(s);
  for (int t = 0; t < 10; ++t) EXPECT_TRUE(few.evaluate(one_replica(t, 300 + 60.0 * t)).empty());
  s = settings();
  s.triggers.predict = false;
  UpstreamTriggers off(s);
  for (int t = 0; t < 10; ++t) EXPECT_TRUE(off.evaluate(one_replica(t, 300 + 60.0 * t)).empty());
  EXPECT_TRUE(off.forecast().memory[0].seconds_to_threshold);  // still shown
}

TEST(UpstreamTriggers, NoisyFlatMemoryDoesNotAct) {
  UpstreamTriggers triggers(settings());
  for (int t = 0; t < 40; ++t) {
    EXPECT_TRUE(triggers.evaluate(one_replica(t, t % 2 ? 600 : 400)).empty()) << t;
  }
}

TEST(UpstreamTriggers, ErrorRateRestartsEveryReplicaOncePerCooldown) {
  UpstreamTriggers triggers(settings());
  UpstreamObservation o;
  o.now = 0;
  o.replicas = {{0, 10, true, 1}, {1, 11, true, 1}};
  o.replicas_up = o.replica_count = o.base_replicas = 2;
  o.window.count = 9;  // under min_calls: ignored
  o.window.errors = 9;
  o.window.error_rate = 1.0;
  EXPECT_TRUE(triggers.evaluate(o).empty());
  o.window.count = 100;
  o.window.errors = 6;
  o.window.error_rate = 0.06;
  auto d = triggers.evaluate(o);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].reason, "error_rate");
  EXPECT_EQ(d[1].slot, 1u);
  o.now = 10;
  EXPECT_TRUE(triggers.evaluate(o).empty());
  EXPECT_TRUE(has(triggers.conditions(), "error_rate"));
  o.now = 31;
  EXPECT_EQ(triggers.evaluate(o).size(), 2u);
  o.window.error_rate = 0.01;
  o.now = 70;
  EXPECT_TRUE(triggers.evaluate(o).empty());
  EXPECT_TRUE(triggers.conditions().empty());
}

TEST(UpstreamTriggers, LatencyScalesOutUpToTheMaximumThenInWhenIdle) {
  auto s = settings();
  s.actions.max_replicas = 3;
  s.actions.scale_in_after = 60s;
  s.triggers.predict = false;
  UpstreamTriggers triggers(s);
  UpstreamObservation o;
  o.replicas_up = o.replica_count = o.base_replicas = 1;
  o.window.count = 50;
  o.window.p95 = 2.0;
  auto d = triggers.evaluate(o);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].kind, ActionKind::scale_out);
  EXPECT_EQ(d[0].reason, "latency");
  o.replicas_up = o.replica_count = 2;
  o.now = 5;
  EXPECT_TRUE(triggers.evaluate(o).empty());  // cool-down
  o.now = 31;
  EXPECT_EQ(triggers.evaluate(o).size(), 1u);
  o.replicas_up = o.replica_count = 3;
  o.now = 62;
  EXPECT_TRUE(triggers.evaluate(o).empty());  // at max_replicas
  o.window.p95 = 0.1;
  o.now = 100;
  EXPECT_TRUE(triggers.evaluate(o).empty());  // idle, but not for 60 s yet
  o.now = 123;
  d = triggers.evaluate(o);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].kind, ActionKind::scale_in);
  o.replicas_up = o.replica_count = 1;
  o.now = 500;
  EXPECT_TRUE(triggers.evaluate(o).empty());  // back at the configured count
}

TEST(UpstreamTriggers, QueueingScalesOutAndUnsupervisedUpstreamsOnlyAlert) {
  auto s = settings();
  s.actions.max_replicas = 2;
  UpstreamTriggers triggers(s);
  UpstreamObservation o;
  o.replicas_up = o.replica_count = o.base_replicas = 1;
  o.in_flight = 4;
  auto d = triggers.evaluate(o);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].reason, "queueing");
  UpstreamTriggers remote(s);
  o.supervised = false;
  o.window.count = 100;
  o.window.error_rate = 0.5;
  EXPECT_TRUE(remote.evaluate(o).empty());
  EXPECT_TRUE(has(remote.conditions(), "error_rate"));
  EXPECT_TRUE(has(remote.conditions(), "queueing"));
}

TEST(UpstreamTriggers, ZeroThresholdsSwitchTriggersOff) {
  auto s = settings();
  s.triggers.memory_bytes = 0;
  s.triggers.error_rate = 0;
  s.triggers.latency = 0ms;
  UpstreamTriggers triggers(s);
  UpstreamObservation o = one_replica(0, 1e12);
  o.window.count = 100;
  o.window.error_rate = 1;
  o.window.p95 = 100;
  EXPECT_TRUE(triggers.evaluate(o).empty());
  EXPECT_TRUE(triggers.conditions().empty());
}

#include "observe/metrics.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <thread>

#include "observe/prometheus_text.hpp"

namespace bastion::observe {
namespace {

const FamilySnapshot* find(const std::vector<FamilySnapshot>& families, std::string_view name) {
  for (const auto& f : families) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

double overflow_count(const Registry& registry, std::string_view family) {
  const auto families = registry.collect();
  const auto* overflow = find(families, kLabelOverflowMetric);
  if (overflow == nullptr) return -1;
  for (const auto& s : overflow->samples) {
    if (s.label_values == std::vector<std::string>{std::string(family)}) return s.value;
  }
  return 0;
}

TEST(MetricNames, Validation) {
  EXPECT_TRUE(valid_metric_name("bastion_http_requests_total"));
  EXPECT_TRUE(valid_metric_name(":colon:ok_9"));
  EXPECT_TRUE(valid_metric_name("_x"));
  EXPECT_FALSE(valid_metric_name(""));
  EXPECT_FALSE(valid_metric_name("9lives"));
  EXPECT_FALSE(valid_metric_name("has-dash"));
  EXPECT_FALSE(valid_metric_name("has space"));
  EXPECT_FALSE(valid_metric_name("ünicode"));

  EXPECT_TRUE(valid_label_name("upstream"));
  EXPECT_TRUE(valid_label_name("_private"));
  EXPECT_FALSE(valid_label_name("__reserved"));
  EXPECT_FALSE(valid_label_name("with:colon"));
  EXPECT_FALSE(valid_label_name("1st"));
  EXPECT_FALSE(valid_label_name(""));
}

TEST(Registry, RejectsInvalidRegistrations) {
  Registry r;
  EXPECT_THROW(r.counter("bad-name", "h"), std::invalid_argument);
  EXPECT_THROW(r.counter("ok_total", "h", {"__name"}), std::invalid_argument);
  EXPECT_THROW(r.counter("ok_total", "h", {"a", "a"}), std::invalid_argument);
  EXPECT_THROW(r.histogram("lat_seconds", "h", {"le"}), std::invalid_argument);
  EXPECT_THROW(r.histogram("lat_seconds", "h", {}, {1.0, 0.5}), std::invalid_argument);
  EXPECT_THROW(r.histogram("lat_seconds", "h", {}, {1.0, 1.0}), std::invalid_argument);
  EXPECT_THROW(r.histogram("lat_seconds", "h", {}, {NAN}), std::invalid_argument);
  EXPECT_EQ(r.family_count(), 1u);  // only the built-in overflow counter
}

TEST(Registry, SameRegistrationReturnsSameFamilyAndClashesThrow) {
  Registry r;
  auto& a = r.counter("requests_total", "h", {"code"});
  auto& b = r.counter("requests_total", "other help is fine", {"code"});
  EXPECT_EQ(&a, &b);
  EXPECT_THROW(r.counter("requests_total", "h", {"listener"}), std::invalid_argument);
  EXPECT_THROW(r.gauge("requests_total", "h", {"code"}), std::invalid_argument);

  auto& h = r.histogram("latency_seconds", "h", {}, {0.1, 1.0});
  EXPECT_EQ(&h, &r.histogram("latency_seconds", "h", {}, {0.1, 1.0, INFINITY}));
  EXPECT_THROW(r.histogram("latency_seconds", "h", {}, {0.2, 1.0}), std::invalid_argument);
  // The histogram owns latency_seconds_count/_sum/_bucket.
  EXPECT_THROW(r.gauge("latency_seconds_count", "h"), std::invalid_argument);
  r.gauge("depth_sum", "h");
  EXPECT_THROW(r.histogram("depth", "h"), std::invalid_argument);
}

TEST(Registry, LabelCountMismatchThrows) {
  Registry r;
  auto& f = r.counter("calls_total", "h", {"a", "b"});
  EXPECT_THROW(f.labels({"x"}), std::invalid_argument);
  EXPECT_THROW(f.get(), std::invalid_argument);
  EXPECT_NO_THROW(f.labels({"x", "y"}));
}

TEST(Counter, IntegerAndFractionalIncrements) {
  Registry r;
  auto& c = r.counter("bytes_total", "h").get();
  c.inc();
  c.inc(41);
  c.add(0.5);
  c.add(-3);   // ignored
  c.add(NAN);  // ignored
  EXPECT_DOUBLE_EQ(c.value(), 42.5);
}

TEST(Gauge, SetIncDec) {
  Gauge g;
  g.set(10);
  g.inc();
  g.dec(2.5);
  EXPECT_DOUBLE_EQ(g.value(), 8.5);
}

TEST(Registry, ChildrenAreStableAndShared) {
  Registry r;
  auto& f = r.counter("calls_total", "h", {"tool"});
  auto& a1 = f.labels({"echo"});
  f.labels({"other"});
  auto& a2 = f.labels(std::vector<std::string>{"echo"});
  EXPECT_EQ(&a1, &a2);
  EXPECT_EQ(f.size(), 2u);
}

TEST(Registry, ConcurrentIncrementsAreExact) {
  Registry r;
  auto& c = r.counter("hits_total", "h", {"t"}).labels({"x"});
  auto& h = r.histogram("lat_seconds", "h", {}, {0.5}).get();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        h.observe(i % 2 == 0 ? 0.25 : 1.0);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 40000);
  EXPECT_EQ(h.count(), 40000u);
  EXPECT_EQ(h.cumulative_counts(), (std::vector<std::uint64_t>{20000, 40000}));
  EXPECT_DOUBLE_EQ(h.sum(), 20000 * 0.25 + 20000 * 1.0);
}

// What the gateway does: I/O threads count, create label sets and (re)register callbacks while
// the admin listener scrapes. Run under ThreadSanitizer too (label tsan).
TEST(Registry, ScrapesWhileOtherThreadsCountAndRegister) {
  Registry r;
  auto& calls = r.counter("calls_total", "h", {"tool"});
  auto& latency = r.histogram("lat_seconds", "h", {"tool"}, {0.5});
  constexpr int kWriters = 2;
  constexpr int kRounds = 2000;
  std::atomic<int> writers_left{kWriters};
  std::atomic<int> late_calls{0};  // callbacks run after remove_callback returned: must stay 0
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      const std::string callback = "queue_depth_" + std::to_string(w);
      for (int i = 0; i < kRounds; ++i) {
        const std::string tool = "tool" + std::to_string(i % 20);
        calls.labels({tool}).inc();
        latency.labels({tool}).observe(i % 2 == 0 ? 0.25 : 1.0);
        if (i % 100 == 0) {
          auto alive = std::make_shared<std::atomic<bool>>(true);
          r.callback_gauge(callback, "h", [alive, &late_calls] {
            if (!alive->load()) late_calls.fetch_add(1);
            return 1.0;
          });
          std::this_thread::yield();
          EXPECT_TRUE(r.remove_callback(callback));
          alive->store(false);
        }
      }
      writers_left.fetch_sub(1);
    });
  }
  // The scraper: a counter never goes down between two scrapes, and every scrape renders.
  double last_total = 0;
  int scrapes = 0;
  for (int guard = 0; guard < 1'000'000 && (writers_left.load() > 0 || scrapes == 0); ++guard) {
    const auto families = r.collect();
    const auto* f = find(families, "calls_total");
    ASSERT_NE(f, nullptr);
    double total = 0;
    for (const auto& s : f->samples) total += s.value;
    EXPECT_GE(total, last_total);
    last_total = total;
    EXPECT_FALSE(render(families).empty());
    ++scrapes;
  }
  for (auto& t : threads) t.join();
  EXPECT_GT(scrapes, 0);
  EXPECT_EQ(late_calls.load(), 0);
  double total = 0;
  for (int i = 0; i < 20; ++i) total += calls.labels({"tool" + std::to_string(i)}).value();
  EXPECT_EQ(total, kWriters * kRounds);
  EXPECT_EQ(latency.labels({"tool0"}).count(), static_cast<std::uint64_t>(kWriters * kRounds / 20));
}

TEST(Histogram, BucketMathIsCumulativeAndInclusive) {
  auto bounds = std::make_shared<const std::vector<double>>(std::vector<double>{0.1, 0.5, 1.0});
  Histogram h(bounds);
  for (double v : {0.05, 0.1, 0.1000001, 0.5, 0.7, 1.0, 1.5, 100.0, -1.0}) h.observe(v);
  h.observe(NAN);  // ignored
  // le is inclusive: 0.1 belongs to le="0.1"; -1 to the first bucket.
  EXPECT_EQ(h.cumulative_counts(), (std::vector<std::uint64_t>{3, 5, 7, 9}));
  EXPECT_EQ(h.count(), 9u);
  EXPECT_NEAR(h.sum(), 0.05 + 0.1 + 0.1000001 + 0.5 + 0.7 + 1.0 + 1.5 + 100.0 - 1.0, 1e-12);
}

TEST(Histogram, DefaultBuckets) {
  const auto& b = default_latency_buckets();
  ASSERT_FALSE(b.empty());
  EXPECT_DOUBLE_EQ(b.front(), 0.0005);
  EXPECT_DOUBLE_EQ(b.back(), 30.0);
  EXPECT_TRUE(std::is_sorted(b.begin(), b.end()));
  Registry r;
  EXPECT_EQ(r.histogram("d_seconds", "h").bounds(), b);
}

TEST(Registry, OverflowChildBeyondCap) {
  Registry r(RegistryOptions{.max_children_per_family = 3});
  auto& f = r.counter("calls_total", "h", {"upstream", "tool"});
  f.labels({"u", "a"}).inc();
  f.labels({"u", "b"}).inc();
  f.labels({"u", "c"}).inc();
  auto& o1 = f.labels({"u", "d"});
  auto& o2 = f.labels({"v", "e"});
  EXPECT_EQ(&o1, &o2);
  o1.inc();
  o2.inc();
  f.labels({"u", "a"}).inc();  // existing children still resolve to themselves
  EXPECT_EQ(f.size(), 4u);
  EXPECT_EQ(overflow_count(r, "calls_total"), 2);

  const auto families = r.collect();
  const auto* calls = find(families, "calls_total");
  ASSERT_NE(calls, nullptr);
  ASSERT_EQ(calls->samples.size(), 4u);
  EXPECT_EQ(calls->samples[0].label_values, (std::vector<std::string>{"_other", "_other"}));
  EXPECT_EQ(calls->samples[0].value, 2);
  EXPECT_EQ(calls->samples[1].value, 2);  // u,a

  // The overflow counter itself shows up in the exposition.
  EXPECT_NE(render(r).find("bastion_metrics_label_overflow_total{family=\"calls_total\"} 2\n"), std::string::npos);
}

TEST(Registry, LabelValuesAreMadeValidUtf8AndBounded) {
  Registry r(RegistryOptions{.max_label_value_bytes = 8});
  auto& f = r.gauge("g", "h", {"v"});
  f.labels({"ok\xff"}).set(1);              // invalid byte
  f.labels({"\xC0\xAF"}).set(2);            // overlong '/'
  f.labels({"\xED\xA0\x80"}).set(3);        // surrogate
  f.labels({"h\xC3\xA9llo w\xC3\xB6rld"}).set(4);  // valid, cut at a character boundary
  const auto families = r.collect();
  const auto* g = find(families, "g");
  ASSERT_NE(g, nullptr);
  std::vector<std::string> values;
  for (const auto& s : g->samples) values.push_back(s.label_values[0]);
  EXPECT_NE(std::find(values.begin(), values.end(), "ok\xEF\xBF\xBD"), values.end());
  EXPECT_NE(std::find(values.begin(), values.end(), "\xEF\xBF\xBD\xEF\xBF\xBD"), values.end());
  EXPECT_NE(std::find(values.begin(), values.end(), "h\xC3\xA9llo w"), values.end());
  // Surrogate: three replacement characters do not fit in 8 bytes, so two remain and the overlong
  // '/' maps to the same value: one shared series.
  EXPECT_EQ(g->samples.size(), 3u);
}

TEST(Registry, CallbacksRunAtCollectAndCanBeRemoved) {
  Registry r(RegistryOptions{.max_children_per_family = 2});
  int calls = 0;
  r.callback_gauge("bastion_upstream_up", "h", {"upstream"}, [&calls] {
    ++calls;
    return std::vector<CallbackSample>{{{"b"}, 1}, {{"a"}, 0}, {{"a"}, 5}, {{"too", "many"}, 9}, {{"c"}, 1}};
  });
  r.callback_counter("thrown_total", "h", {}, []() -> std::vector<CallbackSample> { throw std::runtime_error("x"); });
  auto families = r.collect();
  EXPECT_EQ(calls, 1);
  const auto* up = find(families, "bastion_upstream_up");
  ASSERT_NE(up, nullptr);
  EXPECT_EQ(up->type, MetricType::gauge);
  ASSERT_EQ(up->samples.size(), 2u);  // duplicate kept first, wrong arity dropped, "c" beyond cap
  EXPECT_EQ(up->samples[0].label_values[0], "a");
  EXPECT_EQ(up->samples[0].value, 0);
  EXPECT_EQ(up->samples[1].label_values[0], "b");
  const auto* thrown = find(families, "thrown_total");
  ASSERT_NE(thrown, nullptr);
  EXPECT_TRUE(thrown->samples.empty());
  // One sample dropped per collect; the overflow family sorts first, so a scrape shows the drops of
  // the scrapes before it.
  EXPECT_EQ(overflow_count(r, "bastion_upstream_up"), 1);
  EXPECT_EQ(overflow_count(r, "bastion_upstream_up"), 2);

  // Re-registering replaces the function; removal stops it and frees the name.
  r.callback_gauge("bastion_upstream_up", "h", {"upstream"}, [] { return std::vector<CallbackSample>{{{"z"}, 3}}; });
  families = r.collect();
  up = find(families, "bastion_upstream_up");
  ASSERT_NE(up, nullptr);
  ASSERT_EQ(up->samples.size(), 1u);
  EXPECT_EQ(up->samples[0].value, 3);
  EXPECT_TRUE(r.remove_callback("bastion_upstream_up"));
  EXPECT_FALSE(r.remove_callback("bastion_upstream_up"));
  EXPECT_FALSE(r.remove_callback(kLabelOverflowMetric));  // not a callback family
  EXPECT_EQ(find(r.collect(), "bastion_upstream_up"), nullptr);
  EXPECT_NO_THROW(r.gauge("bastion_upstream_up", "h", {"upstream"}));
}

TEST(Registry, UnlabelledCallback) {
  Registry r;
  double depth = 3;
  r.callback_gauge("queue_depth", "h", [&depth] { return depth; });
  depth = 11;
  const auto families = r.collect();
  const auto* q = find(families, "queue_depth");
  ASSERT_NE(q, nullptr);
  ASSERT_EQ(q->samples.size(), 1u);
  EXPECT_EQ(q->samples[0].value, 11);
}

}  // namespace
}  // namespace bastion::observe

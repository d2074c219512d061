// Hot-path cost of the metrics registry and the cost of a scrape.
#include <benchmark/benchmark.h>

#include "observe/live_stats.hpp"

#include <string>

#include "observe/metrics.hpp"
#include "observe/prometheus_text.hpp"

namespace bastion::observe {
namespace {

void BM_CounterInc(benchmark::State& state) {
  Registry registry;
  auto& counter = registry.counter("bench_total", "h", {"upstream"}).labels({"a"});
  for (auto _ : state) counter.inc();
  benchmark::DoNotOptimize(counter.value());
}
BENCHMARK(BM_CounterInc)->Threads(1)->Threads(2);

void BM_GaugeSet(benchmark::State& state) {
  Registry registry;
  auto& gauge = registry.gauge("bench_gauge", "h").get();
  double v = 0;
  for (auto _ : state) gauge.set(v += 1);
  benchmark::DoNotOptimize(gauge.value());
}
BENCHMARK(BM_GaugeSet);

void BM_HistogramObserve(benchmark::State& state) {
  Registry registry;
  auto& histogram = registry.histogram("bench_seconds", "h", {"upstream"}).labels({"a"});
  double v = 0.0001;
  for (auto _ : state) {
    histogram.observe(v);
    v = v > 40 ? 0.0001 : v * 1.7;
  }
  benchmark::DoNotOptimize(histogram.count());
}
BENCHMARK(BM_HistogramObserve)->Threads(1)->Threads(2);

// The rare path: finding a child by labels (what callers should cache).
void BM_LabelLookup(benchmark::State& state) {
  Registry registry;
  auto& family = registry.counter("bench_total", "h", {"upstream", "tool"});
  for (int i = 0; i < 100; ++i) family.labels({"up" + std::to_string(i % 10), "tool" + std::to_string(i)});
  for (auto _ : state) benchmark::DoNotOptimize(&family.labels({"up3", "tool53"}));
}
BENCHMARK(BM_LabelLookup);

// A scrape of 1000 series: 400 counters, 400 gauges and 200 histograms (15 buckets each).
void BM_Render1000Series(benchmark::State& state) {
  Registry registry;
  auto& calls = registry.counter("bench_tool_calls_total", "h", {"upstream", "tool"});
  auto& up = registry.gauge("bench_upstream_memory_bytes", "h", {"upstream", "replica"});
  auto& latency = registry.histogram("bench_tool_call_duration_seconds", "h", {"upstream", "tool"});
  for (int i = 0; i < 400; ++i) {
    calls.labels({"up" + std::to_string(i % 20), "tool" + std::to_string(i)}).inc(static_cast<std::uint64_t>(i));
    up.labels({"up" + std::to_string(i % 20), std::to_string(i)}).set(1.5e6 * i);
  }
  for (int i = 0; i < 200; ++i) {
    auto& h = latency.labels({"up" + std::to_string(i % 20), "tool" + std::to_string(i)});
    for (int k = 0; k < 10; ++k) h.observe(0.0003 * (k + 1) * (i + 1));
  }
  std::size_t bytes = 0;
  for (auto _ : state) {
    const auto text = render(registry);
    bytes = text.size();
    benchmark::DoNotOptimize(text.data());
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_Render1000Series)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace bastion::observe

// What every call adds for the triggers and the analyzer: the live windows and error patterns.
static void BM_LiveStatsObserve(benchmark::State& state) {
  static bastion::observe::LiveStats live(std::chrono::seconds(300));
  bastion::observe::CallOutcome call;
  call.upstream = "demo";
  call.tool = "echo";
  call.status = "ok";
  call.latency_seconds = 0.0012;
  for (auto _ : state) {
    call.at = std::chrono::steady_clock::now();
    live.observe(call);
  }
}
BENCHMARK(BM_LiveStatsObserve)->Threads(1)->Threads(2);

BENCHMARK_MAIN();

// What recording costs per row: the hashes made on the request path, and the SQLite insert made
// on the writer thread (batches of 500, one transaction each, as the recorder writes them).
#include <benchmark/benchmark.h>

#include <boost/json.hpp>
#include <filesystem>
#include <vector>

#include "record/canonical_json.hpp"
#include "record/sqlite_store.hpp"
#include "record/test_records.hpp"
#include "record/uuid.hpp"

namespace bastion::record {
namespace {

void BM_CanonicalHashArguments(benchmark::State& state) {
  const auto args = boost::json::parse(R"({"message":"hello","options":{"b":2,"a":[1,2.5,"x"]}})");
  for (auto _ : state) benchmark::DoNotOptimize(canonical_hash(args));
}
BENCHMARK(BM_CanonicalHashArguments);

void BM_CanonicalHashEchoResult(benchmark::State& state) {
  const auto result = boost::json::parse(R"({"content":[{"type":"text","text":"hello"}],"isError":false})");
  for (auto _ : state) benchmark::DoNotOptimize(canonical_hash(result));
}
BENCHMARK(BM_CanonicalHashEchoResult);

void BM_UuidV7(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(make_uuid_v7());
}
BENCHMARK(BM_UuidV7);

void BM_SqliteInsertPerRow(benchmark::State& state) {
  const auto dir = std::filesystem::temp_directory_path() / ("bastion-bench-" + make_uuid_v7());
  std::filesystem::create_directories(dir);
  {
    SqliteStore store((dir / "bench.db").string());
    if (!store.open().ok) {
      state.SkipWithError("cannot open the SQLite store");
      return;
    }
    int next = 0;
    std::vector<Interaction> batch;
    for (auto _ : state) {
      state.PauseTiming();
      batch.clear();
      for (int i = 0; i < 500; ++i) {
        auto r = testing::make_record(next++);
        r.id = make_uuid_v7();
        batch.push_back(std::move(r));
      }
      state.ResumeTiming();
      if (!store.write(batch).ok) state.SkipWithError("write failed");
    }
    state.SetItemsProcessed(state.iterations() * 500);
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_SqliteInsertPerRow)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace bastion::record

BENCHMARK_MAIN();

#include "record/recorder.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "record/sqlite_store.hpp"
#include "record/test_records.hpp"

namespace bastion::record {
namespace {
using namespace std::chrono_literals;
using testing::make_record;
using testing::TempDir;
namespace fs = std::filesystem;

// Test-only Store wrapper: fails on demand (`down`), or holds writes until released (`hold`).
class FlakyStore final : public Store {
 public:
  explicit FlakyStore(std::unique_ptr<Store> inner) : inner_(std::move(inner)) {}
  std::atomic<bool> down{false};

  std::string_view kind() const override { return inner_->kind(); }
  StoreResult open() override {
    if (down) return {false, "flaky: down"};
    return inner_->open();
  }
  StoreResult write(std::span<const Interaction> batch) override {
    {
      std::unique_lock lock(mu_);
      ++entered_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return !held_; });
    }
    if (down) return {false, "flaky: down"};
    return inner_->write(batch);
  }
  StoreResult scan(const ScanRange& range,
                   const std::function<bool(const Interaction&)>& visit) override {
    return inner_->scan(range, visit);
  }
  std::int64_t schema_version() const override { return inner_->schema_version(); }

  void hold() {
    std::lock_guard lock(mu_);
    held_ = true;
  }
  void release() {
    std::lock_guard lock(mu_);
    held_ = false;
    cv_.notify_all();
  }
  // Waits until at least `n` writes have started.
  bool wait_entered(int n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return entered_ >= n; });
  }

 private:
  std::unique_ptr<Store> inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;
  int entered_ = 0;
};

struct Fixture {
  TempDir dir;
  std::string db = dir.file("i.db");

  RecorderConfig config(std::size_t batch = 50) const {
    RecorderConfig c;
    c.batch = batch;
    c.flush_interval = 10ms;
    c.backoff_initial = 5ms;
    c.backoff_max = 40ms;
    c.spool.dir = dir.path() / "spool";
    c.spool.segment_bytes = 64 << 10;
    c.spool.max_bytes = 64 << 20;
    return c;
  }
  // A recorder over a FlakyStore over SQLite; `flaky` stays valid while the recorder lives.
  std::unique_ptr<InteractionRecorder> make(FlakyStore*& flaky, RecorderConfig c) const {
    auto store = std::make_unique<FlakyStore>(std::make_unique<SqliteStore>(db));
    flaky = store.get();
    return std::make_unique<InteractionRecorder>(std::move(store), std::move(c));
  }
  std::vector<Interaction> rows() const {
    SqliteStore reader(db);
    std::vector<Interaction> out;
    EXPECT_TRUE(reader.open().ok);
    reader.scan({}, [&](const Interaction& r) {
      out.push_back(r);
      return true;
    });
    return out;
  }
  // Ids in insertion order.
  std::vector<std::string> ids_by_rowid() const {
    sqlite3* h = nullptr;
    sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_stmt* s = nullptr;
    std::vector<std::string> out;
    sqlite3_prepare_v2(h, "SELECT id FROM mcp_interactions ORDER BY rowid", -1, &s, nullptr);
    while (sqlite3_step(s) == SQLITE_ROW)
      out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
    sqlite3_finalize(s);
    sqlite3_close(h);
    return out;
  }
};

std::vector<Interaction> records(int from, int to) {
  std::vector<Interaction> out;
  for (int i = from; i < to; ++i) out.push_back(make_record(i));
  return out;
}

std::vector<std::string> ids(const std::vector<Interaction>& rs) {
  std::vector<std::string> out;
  for (const auto& r : rs) out.push_back(r.id);
  return out;
}

TEST(Recorder, WritesBatchesToSqlite) {
  Fixture f;
  FlakyStore* flaky = nullptr;
  auto c = f.config();
  c.flush_interval = 2s;  // a healthy store never makes the intake wait this long: no spill
  auto rec = f.make(flaky, c);
  ASSERT_TRUE(rec->start().ok);
  auto all = records(0, 1000);
  for (const auto& r : all) ASSERT_TRUE(rec->submit(r));
  ASSERT_TRUE(rec->flush(10s));
  EXPECT_EQ(f.rows(), all);
  auto st = rec->stats();
  EXPECT_EQ(st.written_total, 1000u);
  EXPECT_EQ(st.spooled_total, 0u);
  EXPECT_EQ(st.dropped_total, 0u);
  EXPECT_EQ(st.queue_depth, 0u);
  EXPECT_TRUE(st.store_up);
  EXPECT_EQ(rec->health(), RecorderHealth::ok);
  EXPECT_TRUE(rec->stop(5s));
  EXPECT_EQ(rec->health(), RecorderHealth::fail);  // not running
}

TEST(Recorder, StoreDownSpoolsThenReplaysInOrderExactlyOnce) {
  Fixture f;
  FlakyStore* flaky = nullptr;
  auto rec = f.make(flaky, f.config());
  ASSERT_TRUE(rec->start().ok);
  auto all = records(0, 600);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(rec->submit(all[i]));
  ASSERT_TRUE(rec->flush(10s));

  flaky->down = true;
  for (int i = 100; i < 400; ++i) ASSERT_TRUE(rec->submit(all[i]));
  ASSERT_TRUE(rec->drain(10s));  // all in the spool now
  auto st = rec->stats();
  EXPECT_FALSE(st.store_up);
  EXPECT_EQ(st.spooled_total, 300u);
  EXPECT_EQ(st.written_total, 100u);
  EXPECT_GT(st.spool_bytes, 0u);
  EXPECT_EQ(st.last_error, "flaky: down");
  EXPECT_EQ(rec->health(), RecorderHealth::warn);
  EXPECT_FALSE(rec->flush(50ms));  // cannot reach the store yet

  flaky->down = false;
  for (int i = 400; i < 600; ++i) ASSERT_TRUE(rec->submit(all[i]));  // queued behind the spool
  ASSERT_TRUE(rec->flush(10s));
  EXPECT_EQ(f.rows(), all);
  // The spool is replayed before anything submitted after it: insertion order is 0..99, then
  // 100..399 (whole batches, possibly swapped when the first failing direct batch was spooled
  // after a spill, see recorder.hpp), then 400..599 in order.
  auto inserted = f.ids_by_rowid();
  auto expected = ids(all);
  ASSERT_EQ(inserted.size(), 600u);
  EXPECT_TRUE(std::equal(expected.begin(), expected.begin() + 100, inserted.begin()));
  EXPECT_TRUE(
      std::is_permutation(expected.begin() + 100, expected.begin() + 400, inserted.begin() + 100));
  EXPECT_TRUE(std::equal(expected.begin() + 400, expected.end(), inserted.begin() + 400));
  st = rec->stats();
  EXPECT_TRUE(st.store_up);
  EXPECT_EQ(st.written_total, 600u);
  EXPECT_EQ(st.dropped_total, 0u);
  EXPECT_EQ(st.spool_bytes, 0u);
  EXPECT_EQ(rec->health(), RecorderHealth::ok);
  EXPECT_TRUE(rec->stop(5s));
}

TEST(Recorder, StoreDownAtStartThenRecovers) {
  Fixture f;
  FlakyStore* flaky = nullptr;
  auto rec = f.make(flaky, f.config());
  flaky->down = true;
  ASSERT_TRUE(rec->start().ok);  // not fatal
  EXPECT_FALSE(rec->stats().store_up);
  auto all = records(0, 120);
  for (const auto& r : all) ASSERT_TRUE(rec->submit(r));
  ASSERT_TRUE(rec->drain(10s));
  EXPECT_EQ(rec->stats().spooled_total, 120u);
  flaky->down = false;
  ASSERT_TRUE(rec->flush(10s));
  EXPECT_EQ(f.rows(), all);
  EXPECT_TRUE(rec->stats().store_up);
}

// The process dies while the store is down: the next run finds the spool (with a torn tail from
// the interrupted append) and writes every complete record exactly once, before new ones.
TEST(Recorder, CrashThenReplayOnNextStart) {
  Fixture f;
  auto first = records(0, 300);
  {
    FlakyStore* flaky = nullptr;
    auto rec = f.make(flaky, f.config());
    flaky->down = true;
    ASSERT_TRUE(rec->start().ok);
    for (const auto& r : first) ASSERT_TRUE(rec->submit(r));
    ASSERT_TRUE(rec->drain(10s));
    EXPECT_EQ(rec->stats().spooled_total, 300u);
  }  // destroyed without stop()
  std::vector<fs::path> segments;
  for (const auto& e : fs::directory_iterator(f.dir.path() / "spool")) {
    if (e.path().extension() == ".spool") segments.push_back(e.path());
  }
  ASSERT_FALSE(segments.empty());
  std::sort(segments.begin(), segments.end());
  std::ofstream(segments.back(), std::ios::app | std::ios::binary)
      << std::string("BSP1\x40\x00", 6);

  FlakyStore* flaky = nullptr;
  auto rec = f.make(flaky, f.config());
  ASSERT_TRUE(rec->start().ok);
  auto later = records(300, 350);
  for (const auto& r : later) ASSERT_TRUE(rec->submit(r));
  ASSERT_TRUE(rec->flush(10s));
  auto all = first;
  all.insert(all.end(), later.begin(), later.end());
  EXPECT_EQ(f.rows(), all);
  EXPECT_EQ(f.ids_by_rowid(), ids(all));  // the spool first, then the new records
  auto st = rec->stats();
  EXPECT_EQ(st.written_total, 350u);
  EXPECT_EQ(st.spool_corrupt_frames, 1u);
  EXPECT_EQ(st.dropped_total, 0u);
  EXPECT_TRUE(rec->stop(5s));
}

TEST(Recorder, ReplayedTwiceIsWrittenOnce) {
  Fixture f;
  auto all = records(0, 100);
  {
    // A spool whose records are already in the store (crash between commit and consume).
    SqliteStore store(f.db);
    ASSERT_TRUE(store.open().ok);
    ASSERT_TRUE(store.write(all).ok);
    Spool spool(f.config().spool);
    ASSERT_TRUE(spool.open().ok);
    ASSERT_TRUE(spool.append(all).ok());
  }
  FlakyStore* flaky = nullptr;
  auto rec = f.make(flaky, f.config());
  ASSERT_TRUE(rec->start().ok);
  ASSERT_TRUE(rec->flush(10s));
  EXPECT_EQ(f.rows(), all);
}

TEST(Recorder, QueueOverflowIsBoundedAndCounted) {
  Fixture f;
  auto c = f.config(10);
  c.queue_capacity = 100;
  FlakyStore* flaky = nullptr;
  auto rec = f.make(flaky, c);
  auto all = records(0, 150);
  int accepted = 0;
  for (const auto& r : all) accepted += rec->submit(r) ? 1 : 0;  // not started: nothing drains
  EXPECT_EQ(accepted, 100);
  EXPECT_EQ(rec->stats().dropped_total, 50u);
  EXPECT_EQ(rec->stats().queue_depth, 100u);
  ASSERT_TRUE(rec->start().ok);
  ASSERT_TRUE(rec->flush(10s));
  EXPECT_EQ(f.rows(), std::vector<Interaction>(all.begin(), all.begin() + 100));
  EXPECT_EQ(rec->health(), RecorderHealth::warn);  // drops since start
}

TEST(Recorder, QueueIsBoundedInBytesToo) {
  Fixture f;
  auto c = f.config(10);
  c.queue_max_bytes = 64 << 10;
  FlakyStore* flaky = nullptr;
  auto rec = f.make(flaky, c);
  auto big = make_record(0);
  big.input = std::string(20 << 10, 'x');
  int accepted = 0;
  for (int i = 0; i < 10; ++i) {
    auto r = make_record(i);
    r.input = big.input;
    accepted += rec->submit(r) ? 1 : 0;  // not started: nothing drains
  }
  EXPECT_EQ(accepted, 3);
  EXPECT_LE(rec->stats().queue_bytes, 64u << 10);
  EXPECT_EQ(rec->stats().dropped_total, 7u);
  ASSERT_TRUE(rec->start().ok);
  ASSERT_TRUE(rec->flush(10s));
  EXPECT_EQ(rec->stats().queue_bytes, 0u);
  EXPECT_EQ(f.rows().size(), 3u);
}

// A store that hangs must not block submit() nor lose records: the queue spills to the spool.
TEST(Recorder, SlowStoreSpillsToTheSpoolWithoutDropping) {
  Fixture f;
  auto c = f.config(10);
  c.queue_capacity = 100;
  FlakyStore* flaky = nullptr;
  auto rec = f.make(flaky, c);
  ASSERT_TRUE(rec->start().ok);
  flaky->hold();
  struct Release {  // even when an assertion fails, so the recorder can stop
    FlakyStore* store;
    ~Release() { store->release(); }
  } release_on_exit{flaky};
  auto all = records(0, 1000);
  for (const auto& r : all) {
    // Pace on the observable queue depth (the disk, not the store, is the limit here).
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    while (rec->stats().queue_depth >= 90 && std::chrono::steady_clock::now() < give_up)
      std::this_thread::yield();
    ASSERT_TRUE(rec->submit(r));
  }
  ASSERT_TRUE(flaky->wait_entered(1, 5s));
  // Everything but the one batch stuck in the held write ends up in the spool.
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  while (rec->stats().spooled_total < 990 && std::chrono::steady_clock::now() < give_up)
    std::this_thread::yield();
  EXPECT_EQ(rec->stats().spooled_total, 990u);
  EXPECT_EQ(rec->stats().dropped_total, 0u);
  EXPECT_EQ(rec->stats().written_total, 0u);
  flaky->release();
  ASSERT_TRUE(rec->flush(10s));
  EXPECT_EQ(f.rows(), all);
  EXPECT_EQ(rec->stats().written_total, 1000u);
  EXPECT_EQ(rec->stats().dropped_total, 0u);
}

TEST(Recorder, DropsOnlyWhenTheSpoolCapIsHit) {
  Fixture f;
  auto c = f.config(10);
  c.spool.max_bytes = 16 << 10;
  c.spool.segment_bytes = 4 << 10;
  FlakyStore* flaky = nullptr;
  auto rec = f.make(flaky, c);
  flaky->down = true;
  ASSERT_TRUE(rec->start().ok);
  for (const auto& r : records(0, 300)) ASSERT_TRUE(rec->submit(r));
  ASSERT_TRUE(rec->drain(10s));
  auto st = rec->stats();
  EXPECT_GT(st.dropped_total, 0u);
  EXPECT_GT(st.spooled_total, 0u);
  EXPECT_EQ(st.spooled_total + st.dropped_total, 300u);
  EXPECT_LE(st.spool_bytes, 16u << 10);
  EXPECT_FALSE(st.last_error.empty());  // the spool's "over its cap", or the store's own error
  // Whatever the store retries said since, the reason records are lost stays visible.
  EXPECT_NE(st.spool_error.find("over its cap"), std::string::npos) << st.spool_error;
  EXPECT_EQ(rec->health(), RecorderHealth::fail);
  flaky->down = false;
  ASSERT_TRUE(rec->flush(10s));
  EXPECT_EQ(f.rows().size(), st.spooled_total);
  EXPECT_EQ(rec->stats().dropped_total, st.dropped_total);
}

TEST(Recorder, StopFlushesTheQueueToTheStore) {
  Fixture f;
  auto c = f.config(100);
  c.flush_interval = 10s;  // only stop() makes the partial batch go
  FlakyStore* flaky = nullptr;
  auto rec = f.make(flaky, c);
  ASSERT_TRUE(rec->start().ok);
  auto all = records(0, 250);
  for (const auto& r : all) ASSERT_TRUE(rec->submit(r));
  EXPECT_TRUE(rec->stop(5s));
  EXPECT_EQ(f.rows(), all);
  EXPECT_FALSE(rec->submit(make_record(999)));
  EXPECT_EQ(rec->stats().dropped_total, 1u);
}

TEST(Recorder, StopWithTheStoreDownSpoolsWithinTheDeadline) {
  Fixture f;
  FlakyStore* flaky = nullptr;
  auto rec = f.make(flaky, f.config());
  flaky->down = true;
  ASSERT_TRUE(rec->start().ok);
  auto all = records(0, 200);
  for (const auto& r : all) ASSERT_TRUE(rec->submit(r));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(rec->stop(200ms));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  EXPECT_EQ(rec->stats().spooled_total, 200u);
  EXPECT_EQ(rec->stats().dropped_total, 0u);
  rec.reset();

  auto next = f.make(flaky, f.config());
  ASSERT_TRUE(next->start().ok);
  ASSERT_TRUE(next->flush(10s));
  EXPECT_EQ(f.rows(), all);
}

TEST(Recorder, ManyProducers) {
  Fixture f;
  FlakyStore* flaky = nullptr;
  auto rec = f.make(flaky, f.config(100));
  ASSERT_TRUE(rec->start().ok);
  std::vector<std::thread> producers;
  for (int t = 0; t < 4; ++t) {
    producers.emplace_back([&rec, t] {
      for (int i = 0; i < 500; ++i) rec->submit(make_record(t * 500 + i));
    });
  }
  for (auto& p : producers) p.join();
  ASSERT_TRUE(rec->flush(10s));
  EXPECT_EQ(f.rows(), records(0, 2000));
  EXPECT_EQ(rec->stats().dropped_total, 0u);
}

TEST(Recorder, StartRequiresASpool) {
  Fixture f;
  RecorderConfig c = f.config();
  c.spool.dir.clear();
  InteractionRecorder rec(std::make_unique<SqliteStore>(f.db), c);
  EXPECT_FALSE(rec.start().ok);
}

TEST(Recorder, DurableCallbacksFireOnceTheRowIsInTheStoreOrTheSpool) {
  Fixture f;
  FlakyStore* flaky = nullptr;
  auto c = f.config();
  c.fill_wait = std::chrono::milliseconds(0);  // store.durability: sync
  auto rec = f.make(flaky, c);
  ASSERT_TRUE(rec->start().ok);
  std::atomic<int> durable{0}, lost{0};
  auto count = [&](bool ok) { (ok ? durable : lost).fetch_add(1); };
  auto all = records(0, 300);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(rec->submit(all[i], count));
  ASSERT_TRUE(rec->drain(10s));
  EXPECT_EQ(durable.load(), 100);
  // Every acknowledged row is in the database at that moment.
  EXPECT_EQ(f.rows().size(), 100u);
  flaky->down = true;  // spooled (fsynced) counts as durable too
  for (int i = 100; i < 200; ++i) ASSERT_TRUE(rec->submit(all[i], count));
  ASSERT_TRUE(rec->drain(10s));
  EXPECT_EQ(durable.load(), 200);
  EXPECT_EQ(rec->stats().spooled_total, 100u);
  flaky->down = false;
  ASSERT_TRUE(rec->flush(10s));
  EXPECT_TRUE(rec->stop(5s));
  // After stop nothing is accepted: the callback says so at once.
  EXPECT_FALSE(rec->submit(all[250], count));
  EXPECT_EQ(lost.load(), 1);
  EXPECT_EQ(durable.load(), 200);
}

}  // namespace
}  // namespace bastion::record

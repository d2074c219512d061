#pragma once
// InteractionRecorder: takes interaction rows from request threads without ever blocking them,
// and writes them to the Store in batches from its own threads, spilling to the disk Spool
// whenever the store is down or slower than the traffic.
//
// Design (two threads, two locks):
//  * submit() only takes the queue lock, pushes into a bounded in-memory queue and returns. It
//  never
//    waits on I/O. A full queue (the disk cannot even keep up with spilling) rejects and counts a
//    drop.
//  * The intake thread cuts the queue into batches (`batch` records, or whatever arrived within
//    `flush_interval`). A batch goes straight to the store thread only when the store is up, the
//    spool holds nothing pending and the store thread is idle (it waits for that up to one
//    flush_interval, and not at all once the queue is past half its capacity or byte budget).
//    Otherwise it is appended to the spool (one fsynced frame). So the store being slow or down
//    costs disk, not memory, and nothing is dropped unless the spool is over its cap.
//  * The store thread writes direct batches; on failure the batch goes to the spool and the store
//  is
//    retried with capped exponential backoff. While the spool holds anything it replays it frame by
//    frame, oldest first, before any new batch goes direct: rows reach the store in submit order.
//    (One exception: a direct batch that fails while the intake thread is already spilling lands in
//    the spool after those newer batches. Ids are unique, so rows are still written exactly once,
//    and readers order by (timestamp, id) anyway.)
//  * At start() a spool left by a crash is replayed first, for the same reason.
//  * Exactly once: a batch may be written twice (an ambiguous failure, or a crash between the store
//    commit and the spool consume) but the store skips ids it already has.
// Records still in the in-memory queue when the process is killed are lost; everything appended to
// the spool survives.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <functional>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <string>
#include <thread>
#include <vector>

#include "record/interaction.hpp"
#include "record/spool.hpp"

namespace bastion::record {

struct RecorderConfig {
  std::size_t queue_capacity = 100'000;       // records held in memory
  std::uint64_t queue_max_bytes = 256 << 20;  // and their approximate size (payloads included)
  std::size_t batch = 500;
  std::chrono::milliseconds flush_interval{200};  // max wait to fill a batch
  // When set, the wait to fill a batch (flush_interval then only bounds the wait for a busy store
  // thread). Durable mode uses 0: a batch is whatever queued while the last commit ran, the
  // classic group commit, so a lone caller does not wait for company.
  std::optional<std::chrono::milliseconds> fill_wait;
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{30'000};
  SpoolConfig spool;  // spool.dir is required
};

struct RecorderStats {
  std::uint64_t queue_depth = 0;
  std::uint64_t queue_bytes = 0;
  std::uint64_t written_total = 0;  // rows accepted by the store (direct or replayed)
  std::uint64_t spooled_total = 0;  // rows appended to the spool
  // Rows lost: queue full, spool over cap or failing, or submitted after stop.
  std::uint64_t dropped_total = 0;
  std::uint64_t spool_bytes = 0;
  std::uint64_t spool_corrupt_frames = 0;
  bool store_up = false;
  bool running = false;
  std::string last_error;  // from the store or the spool; never holds a secret
  // Why the spool refuses writes (full disk, over its cap); empty while it takes them. Kept apart
  // from last_error, which the store's retries overwrite.
  std::string spool_error;
};

// ok: running, store up, no drops. warn: store down but spooling, a spool backlog, or drops
// since start. fail: not running, or the spool is refusing writes (over cap or I/O error) while
// records are being lost.
enum class RecorderHealth { ok, warn, fail };
std::string_view to_string(RecorderHealth health);

class InteractionRecorder {
 public:
  InteractionRecorder(std::unique_ptr<Store> store, RecorderConfig config);
  // Best effort stop(0ms): the queue is spooled (or written) before the threads exit.
  ~InteractionRecorder();
  InteractionRecorder(const InteractionRecorder&) = delete;
  InteractionRecorder& operator=(const InteractionRecorder&) = delete;

  // Opens the spool (an error here is fatal: the caller should not serve without it), tries the
  // store once (a failure is not fatal: records spool until it answers), starts the threads.
  // Records submitted before start() wait in the queue.
  StoreResult start();

  // Never blocks. false when the record was dropped (queue full, or stopping) — counted.
  bool submit(Interaction record);
  // The same, and `on_durable(true)` once the row is committed to the store or fsynced to the
  // spool (it survives a crash of this process), `on_durable(false)` if it was dropped. Called
  // from the recorder's threads (or from here when dropped at once): it must be quick.
  using DurableCallback = std::function<void(bool durable)>;
  bool submit(Interaction record, DurableCallback on_durable);

  // Waits until every record submitted before the call is in the store or the spool (or was
  // dropped). false on timeout.
  bool drain(std::chrono::milliseconds timeout);
  // Waits until, in addition, the spool is empty: everything is in the store. false on timeout.
  bool flush(std::chrono::milliseconds timeout);

  // Stops accepting, writes the queue to the store (or the spool when the store is down or busy),
  // keeps replaying the spool until `deadline`, then joins the threads. A store call already
  // running is allowed to finish (each is bounded by the store's own timeouts). Returns true when
  // everything reached the store; false when some rows remain in the spool for the next start.
  bool stop(std::chrono::milliseconds deadline);

  RecorderStats stats() const;  // any thread, any time
  RecorderHealth health() const;

 private:
  void intake_loop();
  void store_loop();
  bool write_to_store(std::vector<Interaction>& batch);  // store thread, no lock held
  void spool_batch(std::vector<Interaction>& batch);     // state_mu_ held
  void set_error(std::string error);
  void mark_store_down(const std::string& error);  // state_mu_ held
  void mark_store_up();                            // state_mu_ held
  void resolved(const std::vector<Interaction>& batch, bool durable);  // state_mu_ held
  void count_drop(std::size_t n, std::string_view why);

  std::unique_ptr<Store> store_;
  RecorderConfig config_;
  Spool spool_;

  // Queue: submit() and the intake thread only.
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Interaction> queue_;

  // Everything else the two threads share, including the spool.
  std::mutex state_mu_;
  std::condition_variable state_cv_;
  std::vector<Interaction> direct_;
  bool direct_busy_ = false;  // a batch handed to (or being written by) the store thread
  bool intake_done_ = false;
  bool store_open_ = false;
  std::chrono::steady_clock::time_point next_retry_{};
  std::chrono::milliseconds backoff_;
  std::chrono::steady_clock::time_point stop_deadline_{};

  std::atomic<bool> stopping_{false};
  std::atomic<bool> running_{false};
  std::atomic<bool> started_{false};
  std::atomic<bool> store_up_{false};
  std::atomic<bool> spool_failing_{false};
  std::atomic<std::uint64_t> in_flight_{0};  // submitted, not yet written, spooled or dropped
  // Callers waiting for their row to be durable, by row id.
  std::mutex waiters_mu_;
  std::unordered_map<std::string, DurableCallback> waiters_;
  std::atomic<std::size_t> waiter_count_{0};
  std::atomic<std::uint64_t> queue_depth_{0};
  std::atomic<std::uint64_t> queue_bytes_{0};  // written under queue_mu_
  std::atomic<std::uint64_t> written_total_{0};
  std::atomic<std::uint64_t> spooled_total_{0};
  std::atomic<std::uint64_t> dropped_total_{0};
  std::atomic<std::uint64_t> spool_bytes_{0};
  std::atomic<std::uint64_t> spool_corrupt_{0};
  std::atomic<bool> spool_pending_{false};

  mutable std::mutex error_mu_;
  std::string last_error_;
  std::string spool_error_;

  std::thread intake_;
  std::thread writer_;
};

}  // namespace bastion::record

#include "record/recorder.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <iterator>

namespace bastion::record {

using SteadyClock = std::chrono::steady_clock;

std::string_view to_string(RecorderHealth health) {
  switch (health) {
    case RecorderHealth::ok:
      return "ok";
    case RecorderHealth::warn:
      return "warn";
    case RecorderHealth::fail:
      return "fail";
  }
  return "fail";
}

InteractionRecorder::InteractionRecorder(std::unique_ptr<Store> store, RecorderConfig config)
    : store_(std::move(store)),
      config_(std::move(config)),
      spool_(config_.spool),
      backoff_(config_.backoff_initial) {
  config_.batch = std::max<std::size_t>(config_.batch, 1);
  config_.queue_capacity = std::max(config_.queue_capacity, config_.batch);
}

InteractionRecorder::~InteractionRecorder() { stop(std::chrono::milliseconds(0)); }

StoreResult InteractionRecorder::start() {
  if (started_.exchange(true)) return {false, "recorder: already started"};
  if (config_.spool.dir.empty()) return {false, "recorder: no spool directory configured"};
  auto opened = spool_.open();
  if (!opened.ok) {
    set_error(opened.error);
    return opened;
  }
  spool_bytes_ = spool_.bytes();
  spool_pending_ = spool_.has_pending();
  // The store is optional at start: until it answers, records go to the spool.
  auto r = store_->open();
  store_open_ = r.ok;
  store_up_ = r.ok;
  if (!r.ok) {
    set_error(r.error);
    spdlog::warn("recorder: {} store unavailable at start ({}); spooling to {}", store_->kind(),
                 r.error, config_.spool.dir.string());
    next_retry_ = SteadyClock::now() + backoff_;
  }
  running_ = true;
  writer_ = std::thread([this] { store_loop(); });
  intake_ = std::thread([this] { intake_loop(); });
  return {};
}

namespace {

// What a queued record costs in memory, roughly: the struct and its strings.
std::uint64_t approx_bytes(const Interaction& r) {
  std::uint64_t n = sizeof(Interaction) + r.id.size() + r.agent_type.size() + r.method.size() +
                    r.client.size() + r.status.size() + r.contradiction_level.size() +
                    r.latency_bucket.size();
  for (const auto* o : {&r.tool, &r.session_hash, &r.input_hash, &r.output_hash, &r.error_message,
                        &r.trace_id, &r.input, &r.output}) {
    if (*o) n += (*o)->size();
  }
  return n;
}

}  // namespace

bool InteractionRecorder::submit(Interaction record, DurableCallback on_durable) {
  const std::string id = record.id;
  {
    std::lock_guard lock(waiters_mu_);
    waiters_[id] = std::move(on_durable);
    waiter_count_.store(waiters_.size());
  }
  if (submit(std::move(record))) return true;
  DurableCallback callback;
  {
    std::lock_guard lock(waiters_mu_);
    if (auto it = waiters_.find(id); it != waiters_.end()) {
      callback = std::move(it->second);
      waiters_.erase(it);
    }
    waiter_count_.store(waiters_.size());
  }
  if (callback) callback(false);
  return false;
}

bool InteractionRecorder::submit(Interaction record) {
  const std::uint64_t cost = approx_bytes(record);
  const std::uint64_t half_bytes = config_.queue_max_bytes / 2;
  std::size_t size = 0;
  bool wake = false;
  {
    std::lock_guard lock(queue_mu_);
    const std::uint64_t bytes = queue_bytes_.load(std::memory_order_relaxed);
    // stopping_ is set under this lock and the intake thread's last look at the queue is under it
    // too, so a record accepted here is always picked up. One record is always accepted into an
    // empty queue, however large.
    if (stopping_ || queue_.size() >= config_.queue_capacity ||
        (!queue_.empty() && bytes + cost > config_.queue_max_bytes)) {
      size = 0;
    } else {
      in_flight_.fetch_add(1);
      queue_.push_back(std::move(record));
      size = queue_.size();
      queue_depth_.store(size, std::memory_order_relaxed);
      queue_bytes_.store(bytes + cost, std::memory_order_relaxed);
      wake = size == 1 || size == config_.batch || size == config_.queue_capacity / 2 ||
             (bytes < half_bytes && bytes + cost >= half_bytes);
    }
  }
  if (size == 0) {
    count_drop(1, stopping_ ? "recorder stopped" : "queue full");
    return false;
  }
  if (wake) queue_cv_.notify_one();
  return true;
}

void InteractionRecorder::count_drop(std::size_t n, std::string_view why) {
  auto before = dropped_total_.fetch_add(n);
  // First drop, then one line per 10000, so a flood cannot flood the log.
  if (before == 0 || before / 10'000 != (before + n) / 10'000) {
    spdlog::error("recorder: dropped {} record(s): {} ({} dropped in total)", n, why, before + n);
  }
}

void InteractionRecorder::set_error(std::string error) {
  std::lock_guard lock(error_mu_);
  last_error_ = std::move(error);
}

void InteractionRecorder::resolved(const std::vector<Interaction>& batch, bool durable) {
  in_flight_.fetch_sub(batch.size());
  state_cv_.notify_all();
  if (waiter_count_.load() == 0) return;
  std::lock_guard lock(waiters_mu_);
  for (const auto& r : batch) {
    if (auto it = waiters_.find(r.id); it != waiters_.end()) {
      it->second(durable);
      waiters_.erase(it);
    }
  }
  waiter_count_.store(waiters_.size());
}

void InteractionRecorder::mark_store_down(const std::string& error) {
  set_error(error);
  store_open_ = false;  // next attempt reconnects
  if (store_up_.exchange(false)) {
    spdlog::warn("recorder: {} store write failed ({}); spooling to {} and retrying",
                 store_->kind(), error, config_.spool.dir.string());
  }
  next_retry_ = SteadyClock::now() + backoff_;
  backoff_ = std::min(backoff_ * 2, config_.backoff_max);
}

void InteractionRecorder::mark_store_up() {
  backoff_ = config_.backoff_initial;
  if (!store_up_.exchange(true)) spdlog::info("recorder: {} store is back", store_->kind());
}

void InteractionRecorder::spool_batch(std::vector<Interaction>& batch) {
  auto r = spool_.append(batch);
  if (r.ok()) {
    spooled_total_ += batch.size();
    spool_failing_ = false;
    spool_pending_ = true;
    std::lock_guard lock(error_mu_);
    spool_error_.clear();
  } else {
    spool_failing_ = true;
    set_error(r.message);
    {
      std::lock_guard lock(error_mu_);
      spool_error_ = r.message;
    }
    count_drop(batch.size(), r.message);
  }
  spool_bytes_ = spool_.bytes();
  resolved(batch, r.ok());
  batch.clear();
}

// Store thread only, without state_mu_: opens the store if needed and writes.
bool InteractionRecorder::write_to_store(std::vector<Interaction>& batch) {
  StoreResult r;
  if (!store_open_) {
    r = store_->open();
    if (r.ok) store_open_ = true;
  }
  if (r.ok) r = store_->write(batch);
  std::lock_guard lock(state_mu_);
  if (r.ok) {
    written_total_ += batch.size();
    mark_store_up();
    return true;
  }
  mark_store_down(r.error);
  return false;
}

void InteractionRecorder::intake_loop() {
  std::vector<Interaction> batch;
  const std::size_t high_water = std::max(config_.queue_capacity / 2, config_.batch);
  const std::uint64_t high_water_bytes = config_.queue_max_bytes / 2;
  auto over_high_water = [&] {
    return queue_depth_.load() >= high_water || queue_bytes_.load() >= high_water_bytes;
  };
  while (true) {
    {
      std::unique_lock q(queue_mu_);
      queue_cv_.wait(q, [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) break;  // stopping and nothing left
      const auto fill_deadline = SteadyClock::now() + config_.fill_wait.value_or(config_.flush_interval);
      queue_cv_.wait_until(q, fill_deadline, [&] {
        return queue_.size() >= config_.batch || stopping_ ||
               queue_bytes_.load() >= high_water_bytes;
      });
      const std::size_t n = std::min(queue_.size(), config_.batch);
      batch.assign(std::make_move_iterator(queue_.begin()),
                   std::make_move_iterator(queue_.begin() + static_cast<std::ptrdiff_t>(n)));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      std::uint64_t taken = 0;
      for (const auto& r : batch) taken += approx_bytes(r);
      queue_depth_.store(queue_.size(), std::memory_order_relaxed);
      queue_bytes_.store(queue_bytes_.load(std::memory_order_relaxed) - taken,
                         std::memory_order_relaxed);
    }
    std::unique_lock s(state_mu_);
    // Prefer the store while it keeps up: wait for the store thread for up to one flush interval,
    // but spill at once when the queue passes high water. The short timed wait re-reads the queue
    // depth, which submit() updates without this lock.
    const auto spill_at = SteadyClock::now() + config_.flush_interval;
    while (direct_busy_ && !stopping_ && !over_high_water() && SteadyClock::now() < spill_at) {
      state_cv_.wait_for(s, std::chrono::milliseconds(5));
    }
    if (!direct_busy_ && store_up_ && !spool_.has_pending()) {
      direct_ = std::move(batch);
      batch.clear();
      direct_busy_ = true;
      state_cv_.notify_all();
    } else {
      spool_batch(batch);
      spool_pending_ = spool_.has_pending();
      state_cv_.notify_all();
    }
  }
  std::lock_guard s(state_mu_);
  intake_done_ = true;
  state_cv_.notify_all();
}

void InteractionRecorder::store_loop() {
  std::unique_lock s(state_mu_);
  while (true) {
    if (direct_busy_ && !direct_.empty()) {
      auto batch = std::move(direct_);
      direct_.clear();
      s.unlock();
      const bool ok = write_to_store(batch);
      s.lock();
      if (!ok) {
        spool_batch(batch);  // the store refused it: keep it on disk and retry later
      } else {
        resolved(batch, true);
      }
      direct_busy_ = false;
      state_cv_.notify_all();
      continue;
    }
    const auto now = SteadyClock::now();
    const bool past_deadline = stopping_ && now >= stop_deadline_;
    const bool pending = spool_.has_pending();
    if (intake_done_ && !direct_busy_ && (!pending || past_deadline)) break;
    if ((pending || !store_up_) && now >= next_retry_ && !past_deadline) {
      if (pending) {
        auto frame = spool_.next();  // reads one frame under the lock (bounded by the frame size)
        spool_corrupt_ = spool_.corrupt_frames();
        if (frame) {
          s.unlock();
          const bool ok = write_to_store(frame->records);
          s.lock();
          if (ok) spool_.consume(frame->end);
        }
        spool_bytes_ = spool_.bytes();
        spool_pending_ = spool_.has_pending();
        state_cv_.notify_all();
        continue;
      }
      // Nothing to replay: probe the store so store_up recovers without traffic.
      s.unlock();
      StoreResult r = store_->open();
      s.lock();
      if (r.ok) {
        store_open_ = true;
        mark_store_up();
      } else {
        mark_store_down(r.error);
      }
      state_cv_.notify_all();
      continue;
    }
    if (past_deadline || !(pending || !store_up_)) {
      state_cv_.wait(s);  // woken by a direct batch, a spooled batch, or the intake finishing
    } else {
      state_cv_.wait_until(s, stopping_ ? std::min(next_retry_, stop_deadline_) : next_retry_);
    }
  }
}

bool InteractionRecorder::drain(std::chrono::milliseconds timeout) {
  std::unique_lock s(state_mu_);
  return state_cv_.wait_for(s, timeout, [&] { return in_flight_.load() == 0; });
}

bool InteractionRecorder::flush(std::chrono::milliseconds timeout) {
  std::unique_lock s(state_mu_);
  return state_cv_.wait_for(s, timeout,
                            [&] { return in_flight_.load() == 0 && !spool_.has_pending(); });
}

bool InteractionRecorder::stop(std::chrono::milliseconds deadline) {
  if (!running_.exchange(false)) {
    if (!stopping_.exchange(true)) {
      // Never started: whatever was queued is lost.
      std::lock_guard q(queue_mu_);
      if (!queue_.empty()) count_drop(queue_.size(), "recorder never started");
      queue_.clear();
    }
    return false;
  }
  {
    std::lock_guard s(state_mu_);
    stop_deadline_ = SteadyClock::now() + deadline;
  }
  {
    std::lock_guard q(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  {
    std::lock_guard s(state_mu_);
    state_cv_.notify_all();
  }
  if (intake_.joinable()) intake_.join();
  if (writer_.joinable()) writer_.join();
  std::lock_guard s(state_mu_);
  const bool all_stored = !spool_.has_pending();
  if (!all_stored) {
    spdlog::warn(
        "recorder: stopped with {} bytes in the spool {}; they are replayed at the next start",
        spool_.bytes(), config_.spool.dir.string());
  }
  return all_stored;
}

RecorderStats InteractionRecorder::stats() const {
  RecorderStats out;
  out.queue_depth = queue_depth_.load();
  out.queue_bytes = queue_bytes_.load();
  out.written_total = written_total_.load();
  out.spooled_total = spooled_total_.load();
  out.dropped_total = dropped_total_.load();
  out.spool_bytes = spool_bytes_.load();
  out.spool_corrupt_frames = spool_corrupt_.load();
  out.store_up = store_up_.load();
  out.running = running_.load();
  std::lock_guard lock(error_mu_);
  out.last_error = last_error_;
  out.spool_error = spool_error_;
  return out;
}

RecorderHealth InteractionRecorder::health() const {
  if (!running_) return RecorderHealth::fail;
  if (spool_failing_ && !store_up_) return RecorderHealth::fail;
  if (!store_up_ || spool_failing_ || spool_pending_ || dropped_total_ > 0)
    return RecorderHealth::warn;
  return RecorderHealth::ok;
}

}  // namespace bastion::record

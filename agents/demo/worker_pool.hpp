// Threads for requests that may block (sleeps, waiting on the client). Bounded: when every
// slot is busy the request is refused instead of queued without limit.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace bastion::demo {

class WorkerPool {
 public:
  explicit WorkerPool(std::size_t max_workers);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  bool spawn(std::function<void()> work);  // false when max_workers are running
  bool wait_idle(std::chrono::milliseconds timeout);
  void join_all();

 private:
  void reap_locked();

  std::size_t max_workers_;
  std::mutex mutex_;
  std::condition_variable idle_;
  std::map<std::uint64_t, std::thread> threads_;
  std::vector<std::uint64_t> finished_;
  std::uint64_t next_id_ = 0;
  std::size_t running_ = 0;
};

}  // namespace bastion::demo

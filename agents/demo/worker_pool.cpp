#include "demo/worker_pool.hpp"

#include <exception>
#include <string>
#include <utility>

#include "demo/diag.hpp"

namespace bastion::demo {

WorkerPool::WorkerPool(std::size_t max_workers) : max_workers_(max_workers) {}

WorkerPool::~WorkerPool() { join_all(); }

void WorkerPool::reap_locked() {
  for (const std::uint64_t id : finished_) {
    auto it = threads_.find(id);
    if (it != threads_.end()) {
      // The thread only has to return from its body; it holds no lock any more.
      it->second.join();
      threads_.erase(it);
    }
  }
  finished_.clear();
}

bool WorkerPool::spawn(std::function<void()> work) {
  std::lock_guard lock(mutex_);
  reap_locked();
  if (running_ >= max_workers_) {
    return false;
  }
  const std::uint64_t id = next_id_++;
  ++running_;
  threads_.emplace(id, std::thread([this, id, work = std::move(work)] {
                     try {
                       work();
                     } catch (const std::exception& error) {
                       diag(DiagLevel::error, std::string("worker failed: ") + error.what());
                     } catch (...) {
                       diag(DiagLevel::error, "worker failed");
                     }
                     std::lock_guard done(mutex_);
                     finished_.push_back(id);
                     --running_;
                     idle_.notify_all();
                   }));
  return true;
}

bool WorkerPool::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return idle_.wait_for(lock, timeout, [this] { return running_ == 0; });
}

void WorkerPool::join_all() {
  std::map<std::uint64_t, std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    threads.swap(threads_);
    finished_.clear();
  }
  for (auto& [id, thread] : threads) {
    if (thread.joinable()) {
      thread.join();
    }
  }
}

}  // namespace bastion::demo

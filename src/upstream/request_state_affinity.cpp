#include "upstream/request_state_affinity.hpp"

#include "core/sha256.hpp"

namespace bastion::upstream {

void RequestStateAffinity::remember(std::string_view request_state, const std::shared_ptr<Link>& link) {
  auto key = core::sha256(request_state);
  if (!key || !link || capacity_ == 0) return;
  std::lock_guard lock(mutex_);
  auto [it, inserted] = owners_.insert_or_assign(*key, link);
  if (!inserted) return;  // the same state again: keeps its place
  order_.push_back(*key);
  while (order_.size() > capacity_) {
    owners_.erase(order_.front());
    order_.pop_front();
  }
}

std::shared_ptr<Link> RequestStateAffinity::owner(std::string_view request_state) const {
  auto key = core::sha256(request_state);
  if (!key) return nullptr;
  std::lock_guard lock(mutex_);
  auto it = owners_.find(*key);
  return it == owners_.end() ? nullptr : it->second.lock();
}

std::size_t RequestStateAffinity::size() const {
  std::lock_guard lock(mutex_);
  return owners_.size();
}

}  // namespace bastion::upstream

#pragma once
// MRTR (2026-07-28): a server answers `input_required` with a `requestState` sealed under its own
// key, and the client's next round carries it back. Behind several replicas of one server, that
// round must reach the replica that issued the state, or it fails verification. This remembers,
// for the most recent states, which replica issued each one. Bounded: the oldest are forgotten
// first; a forgotten or dead owner means the round goes to any replica, as without it.
// Thread-safe.
#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>

namespace bastion::upstream {

class Link;

class RequestStateAffinity {
 public:
  static constexpr std::size_t kDefaultCapacity = 8192;
  explicit RequestStateAffinity(std::size_t capacity = kDefaultCapacity) : capacity_(capacity) {}

  // `link` issued `request_state` (a result with resultType input_required carried it).
  void remember(std::string_view request_state, const std::shared_ptr<Link>& link);
  // The replica that issued `request_state`, while it lives; nullptr when unknown.
  std::shared_ptr<Link> owner(std::string_view request_state) const;
  std::size_t size() const;

 private:
  using Key = std::array<std::uint8_t, 32>;  // SHA-256 of the state: states can be kilobytes
  std::size_t capacity_;
  mutable std::mutex mutex_;
  std::map<Key, std::weak_ptr<Link>> owners_;
  std::deque<Key> order_;  // oldest first, for eviction
};

}  // namespace bastion::upstream

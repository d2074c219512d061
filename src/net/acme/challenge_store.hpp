#pragma once
// HTTP-01 challenge responses (RFC 8555 §8.3): token -> key authorization, shared between the
// ACME client (which publishes) and the HTTP listener (which answers
// GET /.well-known/acme-challenge/<token>). Thread-safe; entries expire; the map is bounded.
#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace bastion::net::acme {

inline constexpr std::string_view kChallengePathPrefix = "/.well-known/acme-challenge/";

class ChallengeStore {
 public:
  using Clock = std::chrono::steady_clock;

  explicit ChallengeStore(std::size_t max_entries = 1024,
                          Clock::duration default_ttl = std::chrono::hours(1));

  // Publishes a response. False when the token is not base64url, the key authorization is not
  // `<token>.<thumbprint>`, or the store is full of unexpired entries.
  bool put(std::string_view token, std::string_view key_authorization);
  bool put(std::string_view token, std::string_view key_authorization, Clock::duration ttl, Clock::time_point now);
  void remove(std::string_view token);

  // The key authorization for a valid, unexpired token.
  std::optional<std::string> lookup(std::string_view token) const;
  std::optional<std::string> lookup(std::string_view token, Clock::time_point now) const;

  // For the listener: the key authorization answering an HTTP request target such as
  // "/.well-known/acme-challenge/abc" (query strings are refused), or std::nullopt (reply 404).
  std::optional<std::string> answer(std::string_view target) const;

  std::size_t size() const;

  // base64url alphabet only, 1..256 characters (tokens carry at least 128 bits of entropy).
  static bool valid_token(std::string_view token);
  // The token of a challenge request target, or std::nullopt when the target is not one.
  static std::optional<std::string_view> token_from_target(std::string_view target);

 private:
  struct Entry {
    std::string key_authorization;
    Clock::time_point expires;
  };
  void prune_locked(Clock::time_point now);

  std::size_t max_entries_;
  Clock::duration default_ttl_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace bastion::net::acme

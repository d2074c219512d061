#include "net/acme/challenge_store.hpp"

#include <algorithm>

namespace bastion::net::acme {

namespace {
bool is_b64url(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}
}  // namespace

ChallengeStore::ChallengeStore(std::size_t max_entries, Clock::duration default_ttl)
    : max_entries_(max_entries), default_ttl_(default_ttl) {}

bool ChallengeStore::valid_token(std::string_view token) {
  return !token.empty() && token.size() <= 256 && std::all_of(token.begin(), token.end(), is_b64url);
}

std::optional<std::string_view> ChallengeStore::token_from_target(std::string_view target) {
  if (target.substr(0, kChallengePathPrefix.size()) != kChallengePathPrefix) return std::nullopt;
  auto token = target.substr(kChallengePathPrefix.size());
  if (!valid_token(token)) return std::nullopt;
  return token;
}

bool ChallengeStore::put(std::string_view token, std::string_view key_authorization) {
  return put(token, key_authorization, default_ttl_, Clock::now());
}

bool ChallengeStore::put(std::string_view token, std::string_view key_authorization, Clock::duration ttl,
                         Clock::time_point now) {
  if (!valid_token(token)) return false;
  // RFC 8555 §8.1: keyAuthorization = token || '.' || base64url(Thumbprint(accountKey)).
  auto dot = key_authorization.find('.');
  if (dot != token.size() || key_authorization.substr(0, dot) != token ||
      !valid_token(key_authorization.substr(dot + 1))) {
    return false;
  }
  std::lock_guard lock(mutex_);
  prune_locked(now);
  auto it = entries_.find(std::string(token));
  if (it == entries_.end() && entries_.size() >= max_entries_) return false;
  entries_[std::string(token)] = Entry{std::string(key_authorization), now + ttl};
  return true;
}

void ChallengeStore::remove(std::string_view token) {
  std::lock_guard lock(mutex_);
  entries_.erase(std::string(token));
}

std::optional<std::string> ChallengeStore::lookup(std::string_view token) const {
  return lookup(token, Clock::now());
}

std::optional<std::string> ChallengeStore::lookup(std::string_view token, Clock::time_point now) const {
  if (!valid_token(token)) return std::nullopt;
  std::lock_guard lock(mutex_);
  auto it = entries_.find(std::string(token));
  if (it == entries_.end() || it->second.expires <= now) return std::nullopt;
  return it->second.key_authorization;
}

std::optional<std::string> ChallengeStore::answer(std::string_view target) const {
  auto token = token_from_target(target);
  if (!token) return std::nullopt;
  return lookup(*token);
}

std::size_t ChallengeStore::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

void ChallengeStore::prune_locked(Clock::time_point now) {
  std::erase_if(entries_, [now](const auto& kv) { return kv.second.expires <= now; });
}

}  // namespace bastion::net::acme

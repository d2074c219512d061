#pragma once
// nginx `auth_request` semantics: before a request goes on, a GET subrequest carrying the
// original request's headers asks an external service. 2xx allows, 401/403 deny with that status,
// anything else (or no answer within the timeout) is an error (500). Allow/deny answers are cached
// briefly per credential; errors never are.
//
// Threading: check() may be awaited from coroutines on any thread of one io_context (the cache is
// behind a mutex); like every HttpClientPool user, each awaiting coroutine runs on a strand or a
// single-threaded io_context. The client must outlive every check() it started.
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/fields.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "guard/auth/principal.hpp"

namespace bastion::net::client {
class HttpClientPool;
}

namespace bastion::guard::auth {

struct AuthRequestConfig {
  std::string url;                           // e.g. http://127.0.0.1:9000/auth
  std::chrono::milliseconds timeout{2000};   // connect + request + response header
  std::string user_header = "X-Auth-User";   // principal name on allow; else "auth_request"
  std::chrono::milliseconds cache_ttl{5000}; // 0 disables the cache
  std::size_t cache_max_entries = 10'000;
  // Also key the cache on method and URI, so a service that decides per upstream (/mcp/a vs
  // /mcp/b) is never answered from another URI's entry. Off = key on Authorization only.
  bool cache_key_includes_uri = true;
};

enum class AuthRequestOutcome { allow, deny, error };

struct AuthRequestDecision {
  AuthRequestOutcome outcome = AuthRequestOutcome::error;
  unsigned status = 500;                // allow: the service's 2xx; deny: 401/403; error: 500
  std::optional<Principal> principal;   // allow only (kind "auth_request")
  std::string www_authenticate;         // from a 401, passed on to the client like nginx does
  std::string error;                    // error only: why (for logs; no header values)
  bool cached = false;                  // answered from the cache
};

struct AuthRequestStats {
  std::uint64_t subrequests = 0;
  std::uint64_t cache_hits = 0;
  std::uint64_t errors = 0;
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// The headers the subrequest carries: the original ones minus hop-by-hop (and those named in
// Connection), Host and body headers (Content-Length/-Type/-Encoding, Transfer-Encoding, Expect),
// plus X-Original-URI and X-Original-Method (client-sent copies of those are dropped). Repeated
// fields are joined (Cookie with "; ", others with ", ").
HeaderList auth_subrequest_headers(std::string_view method, std::string_view uri,
                                   const boost::beast::http::fields& original);

class AuthRequestClient {
 public:
  using Clock = std::chrono::steady_clock;
  using NowFn = std::function<Clock::time_point()>;

  AuthRequestClient(std::shared_ptr<net::client::HttpClientPool> pool, AuthRequestConfig config,
                    NowFn now = &Clock::now);

  // Asks the auth service about one original request. Never throws for I/O failures.
  // Requests without an Authorization header are not cached (nothing identifies the caller).
  boost::asio::awaitable<AuthRequestDecision> check(std::string method, std::string uri,
                                                    const boost::beast::http::fields& headers);

  AuthRequestStats stats() const;
  std::size_t cache_size() const;
  const AuthRequestConfig& config() const { return config_; }

 private:
  struct CacheEntry {
    AuthRequestDecision decision;
    Clock::time_point expires;
  };
  std::optional<AuthRequestDecision> cache_lookup(const std::string& key);
  void cache_store(const std::string& key, const AuthRequestDecision& decision);

  std::shared_ptr<net::client::HttpClientPool> pool_;
  AuthRequestConfig config_;
  NowFn now_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, CacheEntry> cache_;
  std::deque<std::pair<std::string, Clock::time_point>> order_;  // insertion order = expiry order
  AuthRequestStats stats_;
};

}  // namespace bastion::guard::auth

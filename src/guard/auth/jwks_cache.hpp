#pragma once
// The JWKS the JWT verifier checks against: loaded from a file or fetched from a URL, cached for a
// TTL, refreshed when a token names an unknown kid (key rotation), but at most once per
// min_refresh_interval so forged kids cannot make Bastion hammer the identity provider. A failed
// refresh keeps the previous key set.
//
// Threading: every member may be called from coroutines on any thread; the key set is an
// immutable snapshot behind a mutex. Fetches run in the calling coroutine (bounded by
// fetch_timeout); refreshes are not coalesced beyond the rate limit (a caller that finds a refresh
// already under way uses the current set).
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "guard/auth/jwt.hpp"
#include "guard/auth/principal.hpp"

namespace bastion::net::client {
class HttpClientPool;
}

namespace bastion::guard::auth {

struct JwksCacheOptions {
  std::chrono::seconds ttl{600};                  // re-fetch a set older than this
  std::chrono::seconds min_refresh_interval{60};  // at most one automatic refresh per interval
  std::chrono::milliseconds fetch_timeout{5000};  // whole HTTP exchange
  std::size_t max_bytes = Jwks::kMaxDocumentBytes;
};

struct JwksFetchResult {
  std::optional<std::string> body;  // the JWKS document
  std::string error;                // when body is empty
};

struct JwksCacheStats {
  std::uint64_t refreshes = 0;         // successful loads
  std::uint64_t refresh_failures = 0;  // failed loads (old set kept)
  std::uint64_t rate_limited = 0;      // refreshes skipped by min_refresh_interval
};

class JwksCache {
 public:
  using Clock = std::chrono::steady_clock;
  using Fetcher = std::function<boost::asio::awaitable<JwksFetchResult>()>;
  using NowFn = std::function<Clock::time_point()>;

  // Keys from a file (re-read on refresh).
  static std::shared_ptr<JwksCache> from_file(std::string path, JwksCacheOptions options = {});
  // Keys from an http(s) URL through the shared client pool (status 200 required).
  static std::shared_ptr<JwksCache> from_url(std::shared_ptr<net::client::HttpClientPool> pool,
                                             std::string url, JwksCacheOptions options = {});
  // Keys from any source; `now` is injectable for tests.
  JwksCache(Fetcher fetcher, JwksCacheOptions options = {}, NowFn now = &Clock::now);

  // The current set; never null (empty before the first successful load).
  std::shared_ptr<const Jwks> current() const;

  // Loads now, ignoring TTL and rate limit (start-up, SIGHUP, admin action). Returns "" on
  // success, else the reason; the old set stays in place on failure.
  boost::asio::awaitable<std::string> refresh();
  // Loads only when the set is older than ttl (or was never loaded) and the rate limit allows.
  boost::asio::awaitable<void> refresh_if_stale();

  // JwtVerifier::verify with the cached set: refreshes a stale set first, and on unknown_kid
  // refreshes once (rate-limited) and tries again. `verifier` must outlive the call.
  boost::asio::awaitable<boost::system::result<Principal>> verify(
      const JwtVerifier& verifier, std::string token, std::chrono::system_clock::time_point now);

  JwksCacheStats stats() const;
  const JwksCacheOptions& options() const { return options_; }

 private:
  enum class Why { forced, stale, unknown_kid };
  boost::asio::awaitable<std::string> load(Why why);
  bool claim_attempt(Why why);  // applies TTL and the rate limit; records the attempt

  Fetcher fetcher_;
  JwksCacheOptions options_;
  NowFn now_;
  mutable std::mutex mutex_;
  std::shared_ptr<const Jwks> current_;
  std::optional<Clock::time_point> last_success_;
  std::optional<Clock::time_point> last_attempt_;
  JwksCacheStats stats_;
};

}  // namespace bastion::guard::auth

#include "guard/auth/jwks_cache.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <boost/beast/http/verb.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "net/client/http_client.hpp"

namespace bastion::guard::auth {
namespace asio = boost::asio;

namespace {

asio::awaitable<JwksFetchResult> read_file(std::string path, std::size_t max_bytes) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) co_return JwksFetchResult{std::nullopt, path + ": " + std::strerror(errno)};
  if (!S_ISREG(st.st_mode)) co_return JwksFetchResult{std::nullopt, path + ": not a regular file"};
  if (static_cast<std::size_t>(st.st_size) > max_bytes) {
    co_return JwksFetchResult{std::nullopt, path + ": larger than " + std::to_string(max_bytes) + " bytes"};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) co_return JwksFetchResult{std::nullopt, path + ": cannot open"};
  std::string body(static_cast<std::size_t>(st.st_size), '\0');
  in.read(body.data(), static_cast<std::streamsize>(body.size()));
  body.resize(static_cast<std::size_t>(in.gcount()));
  co_return JwksFetchResult{std::move(body), {}};
}

asio::awaitable<JwksFetchResult> fetch_url(std::shared_ptr<net::client::HttpClientPool> pool,
                                           std::string url, JwksCacheOptions options) {
  net::client::HttpRequest req;
  req.method = boost::beast::http::verb::get;
  req.url = url;
  req.headers = {{"Accept", "application/json, application/jwk-set+json"}};
  req.connect_timeout = options.fetch_timeout;
  req.io_timeout = options.fetch_timeout;
  req.deadline = std::chrono::steady_clock::now() + options.fetch_timeout;
  req.max_body_bytes = options.max_bytes;
  auto r = co_await pool->fetch(std::move(req));
  if (!r) co_return JwksFetchResult{std::nullopt, "GET " + url + ": " + r.error().message()};
  if (r->status != 200) {
    co_return JwksFetchResult{std::nullopt, "GET " + url + ": HTTP status " + std::to_string(r->status)};
  }
  co_return JwksFetchResult{std::move(r->body), {}};
}

}  // namespace

std::shared_ptr<JwksCache> JwksCache::from_file(std::string path, JwksCacheOptions options) {
  const auto max = options.max_bytes;
  return std::make_shared<JwksCache>([path = std::move(path), max] { return read_file(path, max); },
                                     options);
}

std::shared_ptr<JwksCache> JwksCache::from_url(std::shared_ptr<net::client::HttpClientPool> pool,
                                               std::string url, JwksCacheOptions options) {
  // The lambda only starts the coroutine; its arguments are copied into the coroutine frame.
  return std::make_shared<JwksCache>(
      [pool = std::move(pool), url = std::move(url), options] { return fetch_url(pool, url, options); },
      options);
}

JwksCache::JwksCache(Fetcher fetcher, JwksCacheOptions options, NowFn now)
    : fetcher_(std::move(fetcher)),
      options_(options),
      now_(std::move(now)),
      current_(std::make_shared<const Jwks>()) {}

std::shared_ptr<const Jwks> JwksCache::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

JwksCacheStats JwksCache::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

bool JwksCache::claim_attempt(Why why) {
  std::lock_guard lock(mutex_);
  const auto now = now_();
  if (why == Why::stale && last_success_ && now - *last_success_ < options_.ttl) return false;
  if (why != Why::forced && last_attempt_ && now - *last_attempt_ < options_.min_refresh_interval) {
    ++stats_.rate_limited;
    return false;
  }
  last_attempt_ = now;
  return true;
}

asio::awaitable<std::string> JwksCache::load(Why why) {
  auto fetched = co_await fetcher_();
  std::string error;
  std::shared_ptr<const Jwks> keys;
  if (!fetched.body) {
    error = fetched.error.empty() ? "JWKS fetch failed" : fetched.error;
  } else {
    auto parsed = Jwks::parse(*fetched.body);
    if (!parsed.ok()) {
      error = parsed.error;
    } else {
      for (const auto& note : parsed.ignored) spdlog::warn("jwks: ignoring {}", note);
      keys = std::move(parsed.jwks);
    }
  }
  std::lock_guard lock(mutex_);
  if (!keys) {
    ++stats_.refresh_failures;
    spdlog::warn("jwks: refresh failed, keeping {} cached key(s): {}", current_->size(), error);
    co_return error;
  }
  if (why == Why::unknown_kid) spdlog::info("jwks: refreshed for an unknown kid ({} keys)", keys->size());
  current_ = std::move(keys);
  last_success_ = now_();
  ++stats_.refreshes;
  co_return std::string{};
}

asio::awaitable<std::string> JwksCache::refresh() {
  claim_attempt(Why::forced);
  co_return co_await load(Why::forced);
}

asio::awaitable<void> JwksCache::refresh_if_stale() {
  if (claim_attempt(Why::stale)) co_await load(Why::stale);
}

asio::awaitable<boost::system::result<Principal>> JwksCache::verify(
    const JwtVerifier& verifier, std::string token, std::chrono::system_clock::time_point now) {
  co_await refresh_if_stale();
  auto r = verifier.verify(token, *current(), now);
  if (!r && r.error() == make_error_code(JwtErrc::unknown_kid) && claim_attempt(Why::unknown_kid)) {
    if ((co_await load(Why::unknown_kid)).empty()) r = verifier.verify(token, *current(), now);
  }
  co_return r;
}

}  // namespace bastion::guard::auth

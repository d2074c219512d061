#include "guard/auth/auth_request.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <map>
#include <set>

#include "guard/auth/encoding.hpp"
#include "net/client/http_client.hpp"

namespace bastion::guard::auth {
namespace asio = boost::asio;
namespace http = boost::beast::http;

namespace {

constexpr std::size_t kMaxDrainBytes = 64 * 1024;

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool valid_user(std::string_view v) {
  if (v.empty() || v.size() > 256) return false;
  for (unsigned char c : v) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

AuthRequestDecision error_decision(std::string why) {
  AuthRequestDecision d;
  d.outcome = AuthRequestOutcome::error;
  d.status = 500;
  d.error = std::move(why);
  return d;
}

}  // namespace

HeaderList auth_subrequest_headers(std::string_view method, std::string_view uri,
                                   const http::fields& original) {
  static const std::set<std::string, std::less<>> kDropped = {
      // hop-by-hop (RFC 9110 §7.6.1) and their old aliases
      "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
      "te", "trailer", "transfer-encoding", "upgrade",
      // the subrequest has no body and its own target
      "host", "content-length", "content-type", "content-encoding", "expect",
      // only Bastion sets these
      "x-original-uri", "x-original-method"};
  std::set<std::string, std::less<>> named_in_connection;
  for (const auto& f : original) {
    if (lower(f.name_string()) != "connection") continue;
    std::string_view v = f.value();
    while (!v.empty()) {
      const auto comma = v.find(',');
      named_in_connection.insert(lower(trim(v.substr(0, comma))));
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  // Keep first-seen order; join repeats because the pool sets each name once.
  HeaderList out;
  std::map<std::string, std::size_t> index;
  for (const auto& f : original) {
    const auto name = lower(f.name_string());
    if (kDropped.contains(name) || named_in_connection.contains(name)) continue;
    if (auto it = index.find(name); it != index.end()) {
      auto& value = out[it->second].second;
      value += name == "cookie" ? "; " : ", ";
      value += f.value();
    } else {
      index.emplace(name, out.size());
      out.emplace_back(std::string(f.name_string()), std::string(f.value()));
    }
  }
  out.emplace_back("X-Original-URI", std::string(uri));
  out.emplace_back("X-Original-Method", std::string(method));
  return out;
}

AuthRequestClient::AuthRequestClient(std::shared_ptr<net::client::HttpClientPool> pool,
                                     AuthRequestConfig config, NowFn now)
    : pool_(std::move(pool)), config_(std::move(config)), now_(std::move(now)) {}

AuthRequestStats AuthRequestClient::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

std::size_t AuthRequestClient::cache_size() const {
  std::lock_guard lock(mutex_);
  return cache_.size();
}

std::optional<AuthRequestDecision> AuthRequestClient::cache_lookup(const std::string& key) {
  std::lock_guard lock(mutex_);
  const auto it = cache_.find(key);
  if (it == cache_.end() || now_() >= it->second.expires) return std::nullopt;
  ++stats_.cache_hits;
  auto d = it->second.decision;
  d.cached = true;
  return d;
}

void AuthRequestClient::cache_store(const std::string& key, const AuthRequestDecision& decision) {
  std::lock_guard lock(mutex_);
  const auto now = now_();
  // Drop expired entries and, when full, the oldest ones. An entry is removed from the map only
  // when the queue item is its latest insertion.
  while (!order_.empty() && (order_.front().second <= now || order_.size() >= config_.cache_max_entries)) {
    const auto& [old_key, expires] = order_.front();
    if (auto it = cache_.find(old_key); it != cache_.end() && it->second.expires == expires) cache_.erase(it);
    order_.pop_front();
  }
  const auto expires = now + config_.cache_ttl;
  cache_[key] = CacheEntry{decision, expires};
  order_.emplace_back(key, expires);
}

asio::awaitable<AuthRequestDecision> AuthRequestClient::check(std::string method, std::string uri,
                                                              const http::fields& headers) {
  // Build everything from the caller's headers before the first suspension.
  auto sub_headers = auth_subrequest_headers(method, uri, headers);
  std::optional<std::string> key;
  const bool cache_enabled = config_.cache_ttl.count() > 0 && config_.cache_max_entries > 0;
  if (auto auth = headers.find(http::field::authorization); cache_enabled && auth != headers.end()) {
    std::string material(auth->value());
    if (config_.cache_key_includes_uri) {
      material.push_back('\0');
      material += method;
      material.push_back('\0');
      material += uri;
    }
    const auto digest = sha256(material);  // the cache never holds a credential in clear
    key = std::string(reinterpret_cast<const char*>(digest.data()), digest.size());
    if (auto hit = cache_lookup(*key)) co_return std::move(*hit);
  }

  net::client::HttpRequest req;
  req.method = http::verb::get;
  req.url = config_.url;
  req.headers = std::move(sub_headers);
  req.connect_timeout = config_.timeout;
  req.io_timeout = config_.timeout;
  req.deadline = std::chrono::steady_clock::now() + config_.timeout;
  req.max_body_bytes = kMaxDrainBytes;
  {
    std::lock_guard lock(mutex_);
    ++stats_.subrequests;
  }
  auto response = co_await pool_->request(std::move(req));
  if (!response) {
    std::lock_guard lock(mutex_);
    ++stats_.errors;
    co_return error_decision("auth_request: " + response.error().message());
  }

  const unsigned status = response->status();
  AuthRequestDecision d;
  d.status = status;
  if (status >= 200 && status < 300) {
    d.outcome = AuthRequestOutcome::allow;
    Principal p;
    p.kind = "auth_request";
    auto user = config_.user_header.empty() ? std::nullopt : response->header(config_.user_header);
    p.name = user && valid_user(*user) ? std::string(*user) : "auth_request";
    d.principal = std::move(p);
  } else if (status == 401 || status == 403) {
    d.outcome = AuthRequestOutcome::deny;
    if (auto www = response->header("WWW-Authenticate"); status == 401 && www) {
      d.www_authenticate = std::string(*www);
    }
  } else {
    std::lock_guard lock(mutex_);
    ++stats_.errors;
    co_return error_decision("auth_request: unexpected status " + std::to_string(status));
  }

  // A small body is read so the connection can be reused; anything else is dropped with it.
  if (!response->body_done()) {
    const auto length = response->header("Content-Length");
    if (length && length->size() <= 5) (void)co_await response->read_body(kMaxDrainBytes);
  }
  if (key) cache_store(*key, d);
  co_return d;
}

}  // namespace bastion::guard::auth

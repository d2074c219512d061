#include "net/acme/acme_client.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <ctime>
#include <stdexcept>

#include "net/acme/csr.hpp"

namespace bastion::net::acme {

namespace asio = boost::asio;
namespace json = boost::json;
namespace http = boost::beast::http;

namespace {

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);

AcmeError make_error(AcmeError::Kind kind, std::string detail, std::string type = {}, unsigned status = 0) {
  AcmeError e;
  e.kind = kind;
  e.detail = std::move(detail);
  e.type = std::move(type);
  e.http_status = status;
  return e;
}

AcmeError transport_error(const boost::system::error_code& ec, std::string_view what) {
  if (ec == asio::error::operation_aborted) return make_error(AcmeError::Kind::cancelled, "cancelled");
  AcmeError e = make_error(AcmeError::Kind::transport, std::string(what) + ": " + ec.message());
  e.code = ec;
  return e;
}

std::string string_member(const json::value& v, std::string_view key) {
  if (!v.is_object()) return {};
  const auto* m = v.as_object().if_contains(key);
  if (!m || !m->is_string()) return {};
  return std::string(m->as_string());
}

// The problem embedded in an object (authorization -> challenge "error", order "error").
AcmeError problem_from_json(const json::value& problem, AcmeError::Kind kind, std::string fallback) {
  AcmeError e = make_error(kind, std::move(fallback));
  if (!problem.is_object()) return e;
  e.type = string_member(problem, "type");
  auto detail = string_member(problem, "detail");
  if (!detail.empty()) e.detail = detail;
  if (const auto* sub = problem.as_object().if_contains("subproblems"); sub && sub->is_array()) {
    for (const auto& p : sub->as_array()) {
      auto d = string_member(p, "detail");
      if (!d.empty()) e.detail += "; " + d;
    }
  }
  if (const auto* st = problem.as_object().if_contains("status"); st && st->is_int64()) {
    e.http_status = static_cast<unsigned>(st->as_int64());
  }
  return e;
}

bool cancelled(const asio::cancellation_state& cs) { return cs.cancelled() != asio::cancellation_type::none; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

const char* to_string(AcmeError::Kind kind) {
  switch (kind) {
    case AcmeError::Kind::transport: return "transport";
    case AcmeError::Kind::problem: return "problem";
    case AcmeError::Kind::protocol: return "protocol";
    case AcmeError::Kind::validation: return "validation";
    case AcmeError::Kind::timeout: return "timeout";
    case AcmeError::Kind::cancelled: return "cancelled";
    case AcmeError::Kind::local: return "local";
  }
  return "unknown";
}

std::string AcmeError::message() const {
  std::string out = to_string(kind);
  if (!type.empty()) out += ": " + type;
  if (!detail.empty()) out += ": " + detail;
  if (http_status) out += " (HTTP " + std::to_string(http_status) + ")";
  return out;
}

void throw_exception_from_error(const AcmeError& e, const boost::source_location&) {
  throw std::runtime_error(e.message());
}

AcmeResult<AcmeDirectory> parse_directory(std::string_view text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return make_error(AcmeError::Kind::protocol, "directory is not a JSON object");
  AcmeDirectory d;
  d.new_nonce = string_member(v, "newNonce");
  d.new_account = string_member(v, "newAccount");
  d.new_order = string_member(v, "newOrder");
  d.revoke_cert = string_member(v, "revokeCert");
  d.key_change = string_member(v, "keyChange");
  if (const auto* meta = v.as_object().if_contains("meta")) d.terms_of_service = string_member(*meta, "termsOfService");
  if (d.new_nonce.empty() || d.new_account.empty() || d.new_order.empty()) {
    return make_error(AcmeError::Kind::protocol, "directory lacks newNonce, newAccount or newOrder");
  }
  return d;
}

AcmeError parse_problem(std::string_view body, unsigned http_status) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  AcmeError e = problem_from_json(ec ? json::value() : v, AcmeError::Kind::problem,
                                  "HTTP " + std::to_string(http_status) + " without a problem document");
  e.http_status = http_status;
  return e;
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (value.front() >= '0' && value.front() <= '9') {
    long long seconds = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec != std::errc{} || end != value.data() + value.size()) return std::nullopt;
    return std::chrono::seconds(seconds);
  }
  // IMF-fixdate (RFC 9110 §5.6.7), the only date form servers must send.
  std::tm tm{};
  std::string copy(value);
  const char* end = strptime(copy.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  auto at = std::chrono::system_clock::from_time_t(timegm(&tm));
  auto delta = std::chrono::duration_cast<std::chrono::seconds>(at - now);
  return delta.count() < 0 ? std::chrono::seconds(0) : delta;
}

AcmeClient::AcmeClient(std::shared_ptr<client::HttpClientPool> pool, AcmeClientOptions options, EcKey account_key)
    : pool_(std::move(pool)), options_(std::move(options)), key_(std::move(account_key)) {
  if (key_.valid()) thumbprint_ = jwk_thumbprint(key_);
}

asio::awaitable<AcmeResult<AcmeDirectory>> AcmeClient::directory() {
  if (directory_) co_return *directory_;
  client::HttpRequest req;
  req.method = http::verb::get;
  req.url = options_.directory_url;
  req.deadline = std::chrono::steady_clock::now() + options_.request_timeout;
  req.max_body_bytes = options_.max_response_bytes;
  auto res = co_await pool_->fetch(std::move(req));
  if (!res) co_return transport_error(res.error(), "directory");
  if (res->status != 200) co_return parse_problem(res->body, res->status);
  auto d = parse_directory(res->body);
  if (!d) co_return d.error();
  directory_ = *d;
  co_return *d;
}

void AcmeClient::remember_nonce(const http::fields& headers) {
  auto it = headers.find("Replay-Nonce");
  if (it == headers.end()) return;
  auto value = it->value();
  // RFC 8555 §6.5.1: base64url; anything else would break the protected header.
  if (ChallengeStore::valid_token(std::string_view(value.data(), value.size()))) nonce_ = std::string(value);
}

asio::awaitable<AcmeResult<std::string>> AcmeClient::take_nonce() {
  if (nonce_) {
    auto n = std::move(*nonce_);
    nonce_.reset();
    co_return n;
  }
  auto dir = co_await directory();
  if (!dir) co_return dir.error();
  client::HttpRequest req;
  req.method = http::verb::head;
  req.url = dir->new_nonce;
  req.deadline = std::chrono::steady_clock::now() + options_.request_timeout;
  auto res = co_await pool_->fetch(std::move(req));
  if (!res) co_return transport_error(res.error(), "newNonce");
  remember_nonce(res->headers);
  if (!nonce_) co_return make_error(AcmeError::Kind::protocol, "newNonce answered without Replay-Nonce", {}, res->status);
  auto n = std::move(*nonce_);
  nonce_.reset();
  co_return n;
}

asio::awaitable<AcmeResult<AcmeClient::Reply>> AcmeClient::post(std::string url, std::optional<std::string> payload,
                                                                bool use_jwk, std::string accept) {
  for (int attempt = 0;; ++attempt) {
    auto nonce = co_await take_nonce();
    if (!nonce) co_return nonce.error();
    JwsRequest jws_request{url, *nonce, std::nullopt, payload};
    if (!use_jwk) {
      if (account_url_.empty()) co_return make_error(AcmeError::Kind::local, "no ACME account yet");
      jws_request.kid = account_url_;
    }
    auto body = sign_request(key_, jws_request);
    if (!body) co_return make_error(AcmeError::Kind::local, "signing failed: " + body.error().message());

    client::HttpRequest req;
    req.method = http::verb::post;
    req.url = url;
    req.headers.emplace_back("Content-Type", "application/jose+json");
    if (!accept.empty()) req.headers.emplace_back("Accept", accept);
    req.body = std::move(*body);
    req.deadline = std::chrono::steady_clock::now() + options_.request_timeout;
    req.max_body_bytes = options_.max_response_bytes;
    auto res = co_await pool_->fetch(std::move(req));
    if (!res) co_return transport_error(res.error(), "POST " + url);
    remember_nonce(res->headers);

    if (res->status >= 400) {
      auto problem = parse_problem(res->body, res->status);
      // RFC 8555 §6.5: a badNonce reply carries a fresh nonce; one retry is what the RFC expects.
      if (problem.type == kProblemBadNonce && attempt == 0) continue;
      co_return problem;
    }
    Reply reply;
    reply.status = res->status;
    if (auto it = res->headers.find(http::field::location); it != res->headers.end()) reply.location = it->value();
    if (auto it = res->headers.find(http::field::retry_after); it != res->headers.end()) {
      reply.retry_after = parse_retry_after(it->value(), std::chrono::system_clock::now());
    }
    if (auto it = res->headers.find(http::field::content_type); it != res->headers.end()) {
      auto ct = std::string_view(it->value());
      reply.content_type = lower(ct.substr(0, ct.find(';')));
    }
    reply.body = std::move(res->body);
    if (reply.content_type == "application/json") {
      boost::system::error_code ec;
      reply.json = json::parse(reply.body, ec);
      if (ec) co_return make_error(AcmeError::Kind::protocol, "invalid JSON from " + url);
    }
    co_return reply;
  }
}

asio::awaitable<AcmeResult<void>> AcmeClient::sleep(std::chrono::milliseconds delay) {
  auto cs = co_await asio::this_coro::cancellation_state;
  if (cancelled(cs)) co_return make_error(AcmeError::Kind::cancelled, "cancelled");
  asio::steady_timer timer(co_await asio::this_coro::executor, delay);
  auto [ec] = co_await timer.async_wait(kTok);
  if (ec || cancelled(cs)) co_return make_error(AcmeError::Kind::cancelled, "cancelled");
  co_return boost::system::result<void, AcmeError>{};
}

asio::awaitable<AcmeResult<AcmeClient::Reply>> AcmeClient::poll(std::string url,
                                                                std::optional<std::chrono::seconds> first_delay) {
  std::optional<std::chrono::seconds> retry_after = first_delay;
  for (int i = 0; i < options_.max_polls; ++i) {
    if (i > 0 || retry_after) {
      auto delay = retry_after ? std::chrono::duration_cast<std::chrono::milliseconds>(*retry_after)
                               : options_.poll_interval;
      delay = std::min(std::max(delay, options_.poll_interval), options_.max_poll_interval);
      auto slept = co_await sleep(delay);
      if (!slept) co_return slept.error();
    }
    auto reply = co_await post(url, std::nullopt);
    if (!reply) co_return reply.error();
    auto status = string_member(reply->json, "status");
    if (status.empty()) co_return make_error(AcmeError::Kind::protocol, "no status in " + url);
    if (status != "pending" && status != "processing") co_return reply;
    retry_after = reply->retry_after;
  }
  co_return make_error(AcmeError::Kind::timeout, "still pending after " + std::to_string(options_.max_polls) +
                                                     " polls: " + url);
}

asio::awaitable<AcmeResult<std::string>> AcmeClient::ensure_account(std::vector<std::string> emails) {
  auto dir = co_await directory();
  if (!dir) co_return dir.error();
  json::object payload;
  payload["termsOfServiceAgreed"] = true;
  if (!emails.empty()) {
    json::array contact;
    for (const auto& e : emails) {
      if (e.empty() || e.find_first_of(",;<>\r\n ") != std::string::npos) {
        co_return make_error(AcmeError::Kind::local, "invalid contact e-mail address");
      }
      contact.emplace_back("mailto:" + e);
    }
    payload["contact"] = std::move(contact);
  }
  auto text = json::serialize(payload);
  auto reply = co_await post(dir->new_account, std::move(text), /*use_jwk=*/true);
  if (!reply) co_return reply.error();
  if (reply->location.empty()) co_return make_error(AcmeError::Kind::protocol, "newAccount without Location");
  auto status = string_member(reply->json, "status");
  if (status != "valid") co_return make_error(AcmeError::Kind::protocol, "account status is \"" + status + "\"");
  account_url_ = reply->location;
  co_return account_url_;
}

asio::awaitable<AcmeResult<void>> AcmeClient::authorize(std::string authz_url, ChallengeStore& store,
                                                        std::vector<std::string>& published) {
  auto authz = co_await post(authz_url, std::nullopt);
  if (!authz) co_return authz.error();
  auto status = string_member(authz->json, "status");
  if (status == "valid") co_return boost::system::result<void, AcmeError>{};  // reused authorization
  if (status != "pending") {
    co_return make_error(AcmeError::Kind::validation, "authorization " + authz_url + " is " + status);
  }
  const json::value* challenges = authz->json.as_object().if_contains("challenges");
  const json::value* chosen = nullptr;
  if (challenges && challenges->is_array()) {
    for (const auto& c : challenges->as_array()) {
      if (string_member(c, "type") == "http-01") chosen = &c;
    }
  }
  if (!chosen) co_return make_error(AcmeError::Kind::protocol, "no http-01 challenge offered for " + authz_url);
  auto token = string_member(*chosen, "token");
  auto challenge_url = string_member(*chosen, "url");
  auto challenge_status = string_member(*chosen, "status");
  if (!ChallengeStore::valid_token(token) || challenge_url.empty()) {
    co_return make_error(AcmeError::Kind::protocol, "malformed http-01 challenge in " + authz_url);
  }
  if (!store.put(token, key_authorization(token, thumbprint_))) {
    co_return make_error(AcmeError::Kind::local, "challenge store refused the token (full?)");
  }
  published.push_back(token);

  std::optional<std::chrono::seconds> first_delay;
  if (challenge_status == "pending") {
    // RFC 8555 §7.5.1: an empty JSON object tells the server we are ready to be validated.
    auto respond = co_await post(challenge_url, std::string("{}"));
    if (!respond) co_return respond.error();
    first_delay = respond->retry_after;
  }
  auto final_authz = co_await poll(authz_url, first_delay ? first_delay : std::optional<std::chrono::seconds>(0));
  if (!final_authz) co_return final_authz.error();
  auto final_status = string_member(final_authz->json, "status");
  if (final_status == "valid") co_return boost::system::result<void, AcmeError>{};
  // The reason lives in the challenge's "error" member.
  json::value problem;
  if (const auto* cs = final_authz->json.as_object().if_contains("challenges"); cs && cs->is_array()) {
    for (const auto& c : cs->as_array()) {
      if (const auto* e = c.is_object() ? c.as_object().if_contains("error") : nullptr) problem = *e;
    }
  }
  co_return problem_from_json(problem, AcmeError::Kind::validation,
                              "authorization " + authz_url + " became " + final_status);
}

asio::awaitable<AcmeResult<IssuedCertificate>> AcmeClient::obtain_certificate(std::vector<std::string> domains,
                                                                              std::string csr_der,
                                                                              ChallengeStore& store) {
  if (domains.empty()) co_return make_error(AcmeError::Kind::local, "no domains");
  for (const auto& d : domains) {
    if (!valid_domain(d)) co_return make_error(AcmeError::Kind::local, "invalid domain name: " + d);
  }
  auto dir = co_await directory();
  if (!dir) co_return dir.error();
  if (account_url_.empty()) {
    auto account = co_await ensure_account({});
    if (!account) co_return account.error();
  }

  json::array identifiers;
  for (const auto& d : domains) {
    json::object id;
    id["type"] = "dns";
    id["value"] = d;
    identifiers.push_back(std::move(id));
  }
  json::object order_request;
  order_request["identifiers"] = std::move(identifiers);
  auto order_text = json::serialize(order_request);
  auto order = co_await post(dir->new_order, std::move(order_text));
  if (!order) co_return order.error();
  if (order->location.empty() || !order->json.is_object()) {
    co_return make_error(AcmeError::Kind::protocol, "newOrder without Location or order object");
  }
  IssuedCertificate issued;
  issued.order_url = order->location;
  auto finalize_url = string_member(order->json, "finalize");
  std::vector<std::string> authz_urls;
  if (const auto* a = order->json.as_object().if_contains("authorizations"); a && a->is_array()) {
    for (const auto& u : a->as_array()) {
      if (u.is_string()) authz_urls.emplace_back(u.as_string());
    }
  }
  if (finalize_url.empty() || authz_urls.empty() || authz_urls.size() > 100) {
    co_return make_error(AcmeError::Kind::protocol, "order lacks finalize or authorizations");
  }

  // Tokens leave the store however this coroutine ends (success, error, cancellation).
  struct Unpublish {
    ChallengeStore& store;
    std::vector<std::string> tokens;
    ~Unpublish() {
      for (const auto& t : tokens) store.remove(t);
    }
  } unpublish{store, {}};
  for (const auto& url : authz_urls) {
    auto ok = co_await authorize(url, store, unpublish.tokens);
    if (!ok) co_return ok.error();
  }

  // The order turns "ready" once every authorization is valid.
  auto ready = co_await poll(issued.order_url, std::nullopt);
  if (!ready) co_return ready.error();
  auto ready_status = string_member(ready->json, "status");
  if (ready_status != "ready" && ready_status != "valid") {
    const json::value* e = ready->json.as_object().if_contains("error");
    co_return problem_from_json(e ? *e : json::value(), AcmeError::Kind::validation, "order is " + ready_status);
  }
  if (ready_status == "ready") {
    json::object finalize_request;
    finalize_request["csr"] = base64url_encode(csr_der);
    auto finalize_text = json::serialize(finalize_request);
    auto finalized = co_await post(finalize_url, std::move(finalize_text));
    if (!finalized) co_return finalized.error();
  }
  auto done = co_await poll(issued.order_url, std::nullopt);
  if (!done) co_return done.error();
  auto done_status = string_member(done->json, "status");
  if (done_status != "valid") {
    const json::value* e = done->json.as_object().if_contains("error");
    co_return problem_from_json(e ? *e : json::value(), AcmeError::Kind::validation, "order is " + done_status);
  }
  issued.certificate_url = string_member(done->json, "certificate");
  if (issued.certificate_url.empty()) co_return make_error(AcmeError::Kind::protocol, "valid order without certificate");

  auto cert = co_await post(issued.certificate_url, std::nullopt, false, "application/pem-certificate-chain");
  if (!cert) co_return cert.error();
  if (cert->content_type != "application/pem-certificate-chain") {
    co_return make_error(AcmeError::Kind::protocol, "certificate download has content type " + cert->content_type);
  }
  auto info = parse_certificate_pem(cert->body);
  if (!info) co_return make_error(AcmeError::Kind::protocol, "downloaded certificate chain does not parse");
  issued.chain_pem = std::move(cert->body);
  co_return issued;
}

}  // namespace bastion::net::acme

#include "net/client/http_client.hpp"

#include <sys/socket.h>

#include <cerrno>

#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/parse.hpp>
#include <cctype>
#include <charconv>
#include <limits>

namespace bastion::net::client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

namespace {

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
// Interim (1xx) responses skipped before the real one; a peer sending more is broken.
constexpr int kMaxInterimResponses = 8;
// read_some() passes that parse framing but no body bytes (chunk headers); more means garbage.
constexpr int kMaxEmptyReads = 64;

// boost::system::error_category has a protected non-virtual destructor by design.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class HttpClientCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "bastion.http_client"; }
  std::string message(int ev) const override {
    switch (static_cast<HttpClientErrc>(ev)) {
      case HttpClientErrc::invalid_url:
        return "invalid URL (an absolute http:// or https:// URL without credentials is required)";
      case HttpClientErrc::invalid_header:
        return "invalid request header name or value";
      case HttpClientErrc::unsupported_scheme:
        return "unsupported URL scheme (only http and https)";
      case HttpClientErrc::resolve_timeout:
        return "host name resolution timed out";
      case HttpClientErrc::connect_timeout:
        return "connecting (TCP connect or TLS handshake) timed out";
      case HttpClientErrc::timeout:
        return "HTTP request timed out";
      case HttpClientErrc::header_too_large:
        return "HTTP response header exceeds the size limit";
      case HttpClientErrc::body_too_large:
        return "HTTP response body exceeds the size limit";
      case HttpClientErrc::connection_closed:
        return "connection closed before the HTTP response was complete";
      case HttpClientErrc::protocol_error:
        return "malformed HTTP response";
      case HttpClientErrc::tls_setup_failed:
        return "TLS client setup failed (could not load the CA file)";
    }
    return "unknown HTTP client error";
  }
};
#pragma GCC diagnostic pop

struct Target {
  bool tls = false;
  bool host_is_ip = false;
  std::string host;  // for resolving, SNI and certificate checks (no brackets)
  std::uint16_t port = 0;
  std::string host_header;  // as sent in Host:
  std::string path;         // origin-form request target
  std::string origin;       // pool key: scheme://host:port
};

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

boost::system::result<Target> parse_target(std::string_view url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return make_error_code(HttpClientErrc::invalid_url);
  const auto& u = *parsed;
  Target t;
  if (u.scheme_id() == boost::urls::scheme::http) {
    t.tls = false;
  } else if (u.scheme_id() == boost::urls::scheme::https) {
    t.tls = true;
  } else {
    return make_error_code(HttpClientErrc::unsupported_scheme);
  }
  // Credentials in URLs end up in logs and Referer headers; they belong in headers.
  if (!u.has_authority() || u.has_userinfo() || u.encoded_host().empty()) {
    return make_error_code(HttpClientErrc::invalid_url);
  }
  switch (u.host_type()) {
    case boost::urls::host_type::ipv4:
      t.host = u.host_ipv4_address().to_string();
      t.host_is_ip = true;
      break;
    case boost::urls::host_type::ipv6:
      t.host = u.host_ipv6_address().to_string();
      t.host_is_ip = true;
      break;
    case boost::urls::host_type::name:
      t.host = lower(u.host());
      break;
    default:
      return make_error_code(HttpClientErrc::invalid_url);
  }
  t.port = t.tls ? 443 : 80;
  if (u.has_port() && !u.port().empty()) {
    const auto port = u.port();
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) {
      return make_error_code(HttpClientErrc::invalid_url);
    }
    t.port = static_cast<std::uint16_t>(value);
  }
  const auto bracketed =
      u.host_type() == boost::urls::host_type::ipv6 ? "[" + t.host + "]" : t.host;
  const auto default_port = t.tls ? 443 : 80;
  t.host_header = t.port == default_port ? bracketed : bracketed + ":" + std::to_string(t.port);
  t.path = u.encoded_path().empty() ? std::string("/") : std::string(u.encoded_path());
  if (u.has_query()) {
    t.path += '?';
    t.path += u.encoded_query();
  }
  t.origin = (t.tls ? "https://" : "http://") + bracketed + ":" + std::to_string(t.port);
  return t;
}

bool is_tchar(unsigned char c) {
  return std::isalnum(c) ||
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool valid_header(std::string_view name, std::string_view value) {
  if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) {
        return is_tchar(static_cast<unsigned char>(c));
      })) {
    return false;
  }
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

bool cancelled(const asio::cancellation_state& cs) {
  return cs.cancelled() != asio::cancellation_type::none;
}

error_code aborted() { return asio::error::operation_aborted; }

// Errors that mean "the peer had already closed this pooled connection".
bool is_stale_connection(const error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::connection_aborted ||
         ec == http::error::end_of_stream || ec == ssl::error::stream_truncated;
}

error_code map_error(const error_code& ec) {
  if (ec == beast::error::timeout) return make_error_code(HttpClientErrc::timeout);
  if (ec == http::error::header_limit) return make_error_code(HttpClientErrc::header_too_large);
  if (ec == http::error::body_limit) return make_error_code(HttpClientErrc::body_too_large);
  if (ec == asio::error::eof || ec == http::error::end_of_stream ||
      ec == http::error::partial_message || ec == ssl::error::stream_truncated) {
    return make_error_code(HttpClientErrc::connection_closed);
  }
  if (ec.category() == http::make_error_code(http::error::bad_version).category()) {
    return make_error_code(HttpClientErrc::protocol_error);
  }
  return ec;
}

// Server hint "Keep-Alive: timeout=N": the server drops idle connections after N seconds.
std::optional<std::chrono::seconds> keep_alive_timeout(std::string_view value) {
  const auto pos = lower(value).find("timeout=");
  if (pos == std::string::npos) return std::nullopt;
  value.remove_prefix(pos + 8);
  unsigned seconds = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec != std::errc{} || end == value.data()) return std::nullopt;
  return std::chrono::seconds{seconds};
}

Clock::time_point expiry(std::chrono::milliseconds timeout,
                         const std::optional<Clock::time_point>& deadline) {
  const auto at = Clock::now() + timeout;
  return deadline ? std::min(at, *deadline) : at;
}

}  // namespace

const boost::system::error_category& http_client_category() noexcept {
  static const HttpClientCategory category;
  return category;
}

boost::system::error_code make_error_code(HttpClientErrc e) noexcept {
  return {static_cast<int>(e), http_client_category()};
}

struct PooledConnection {
  std::string origin;
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<ssl::stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  Clock::time_point idle_since{};
  Clock::time_point reuse_until = Clock::time_point::max();

  explicit PooledConnection(std::size_t max_buffer) : buffer(max_buffer) {}
  beast::tcp_stream& tcp() { return tls ? tls->next_layer() : *plain; }

  // An idle keep-alive connection must have nothing to read: readable means the peer closed it
  // (or sent something unsolicited), either way it cannot carry the next exchange.
  bool looks_idle() {
    auto& socket = tcp().socket();
    if (!socket.is_open() || buffer.size() != 0) return false;
    // One non-blocking peek (MSG_DONTWAIT, no mode switch: this runs before every reused request).
    // Nothing to read means idle; EOF or stray bytes mean the server closed or broke it.
    char byte = 0;
    const auto n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
};

namespace {

using Endpoints = std::vector<tcp::endpoint>;

asio::awaitable<boost::system::result<Endpoints>> resolve(const Target& target,
                                                          Clock::time_point deadline) {
  error_code ec;
  const auto address = asio::ip::make_address(target.host, ec);
  if (!ec) co_return Endpoints{tcp::endpoint(address, target.port)};

  // getaddrinfo cannot be interrupted, so the lookup races a timer; a late answer is dropped.
  struct State {
    explicit State(const asio::any_io_executor& ex) : resolver(ex), timer(ex) {}
    tcp::resolver resolver;
    asio::steady_timer timer;
    std::mutex mutex;
    bool done = false;
    error_code ec;
    Endpoints endpoints;
  };
  auto state = std::make_shared<State>(co_await asio::this_coro::executor);
  state->timer.expires_at(deadline);
  state->resolver.async_resolve(
      target.host, std::to_string(target.port),
      [state](error_code resolve_ec, const tcp::resolver::results_type& results) {
        std::lock_guard lock(state->mutex);
        state->done = true;
        state->ec = resolve_ec;
        for (const auto& entry : results) state->endpoints.push_back(entry.endpoint());
        state->timer.cancel();
      });
  auto [wait_ec] = co_await state->timer.async_wait(kTok);
  std::lock_guard lock(state->mutex);
  if (!state->done) {
    state->resolver.cancel();
    // Aborted without an answer means the caller cancelled us.
    if (wait_ec == asio::error::operation_aborted) co_return aborted();
    co_return make_error_code(HttpClientErrc::resolve_timeout);
  }
  if (state->ec) co_return state->ec;
  if (state->endpoints.empty()) co_return error_code(asio::error::host_not_found);
  co_return std::move(state->endpoints);
}

asio::awaitable<boost::system::result<std::unique_ptr<PooledConnection>>> open_connection(
    const Target& target, Clock::time_point deadline, ssl::context* tls_context,
    std::size_t max_buffer) {
  auto cs = co_await asio::this_coro::cancellation_state;
  if (cancelled(cs)) co_return aborted();
  auto endpoints = co_await resolve(target, deadline);
  if (!endpoints) co_return endpoints.error();
  if (cancelled(cs)) co_return aborted();

  beast::tcp_stream stream(co_await asio::this_coro::executor);
  stream.expires_at(deadline);
  auto [ec, endpoint] = co_await stream.async_connect(*endpoints, kTok);
  if (ec) {
    co_return ec == beast::error::timeout ? make_error_code(HttpClientErrc::connect_timeout) : ec;
  }
  error_code ignored;
  stream.socket().set_option(tcp::no_delay(true), ignored);

  auto conn = std::make_unique<PooledConnection>(max_buffer);
  conn->origin = target.origin;
  if (!target.tls) {
    conn->plain = std::make_unique<beast::tcp_stream>(std::move(stream));
    co_return std::move(conn);
  }
  if (tls_context == nullptr) co_return make_error_code(HttpClientErrc::tls_setup_failed);
  conn->tls = std::make_unique<ssl::stream<beast::tcp_stream>>(std::move(stream), *tls_context);
  // SNI carries host names only (RFC 6066); the certificate is checked for names and IPs alike.
  if (!target.host_is_ip &&
      SSL_set_tlsext_host_name(conn->tls->native_handle(), target.host.c_str()) != 1) {
    co_return make_error_code(HttpClientErrc::tls_setup_failed);
  }
  conn->tls->set_verify_mode(ssl::verify_peer);
  conn->tls->set_verify_callback(ssl::host_name_verification(target.host));
  if (cancelled(cs)) co_return aborted();
  conn->tcp().expires_at(deadline);
  auto [handshake_ec] = co_await conn->tls->async_handshake(ssl::stream_base::client, kTok);
  if (handshake_ec) {
    co_return handshake_ec == beast::error::timeout
        ? make_error_code(HttpClientErrc::connect_timeout)
        : handshake_ec;
  }
  co_return std::move(conn);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// HttpResponse

struct HttpResponse::Impl {
  std::weak_ptr<HttpClientPool> pool;
  std::unique_ptr<PooledConnection> conn;
  std::unique_ptr<http::response_parser<http::buffer_body>> parser;
  std::chrono::milliseconds io_timeout{};
  std::optional<Clock::time_point> deadline;
  bool done = false;
  // Where bodies of unknown length (chunked, SSE) are read: allocated once per response and not
  // zero-filled, since each read only hands back the bytes it got.
  std::unique_ptr<char[]> scratch;
  std::size_t scratch_size = 0;

  void arm() { conn->tcp().expires_at(expiry(io_timeout, deadline)); }
  void fail() { conn.reset(); }  // a half-read connection is never reused

  void finish() {
    done = true;
    if (!conn) return;
    if (parser->keep_alive() && conn->buffer.size() == 0) {
      const auto hint = parser->get()[http::field::keep_alive];
      if (auto seconds = hint.empty() ? std::nullopt : keep_alive_timeout(hint)) {
        // Leave a margin so we never send on a connection the server is about to drop.
        const Clock::duration lifetime = *seconds;
        conn->reuse_until = Clock::now() + lifetime -
                            std::min<Clock::duration>(lifetime / 2, std::chrono::seconds(1));
      }
      if (auto owner = pool.lock()) owner->give_back(std::move(conn));
    }
    conn.reset();
  }
};

HttpResponse::HttpResponse(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpResponse::HttpResponse(HttpResponse&&) noexcept = default;
HttpResponse& HttpResponse::operator=(HttpResponse&&) noexcept = default;
HttpResponse::~HttpResponse() = default;

unsigned HttpResponse::status() const { return impl_->parser->get().result_int(); }

const http::fields& HttpResponse::headers() const { return impl_->parser->get(); }

std::optional<std::string_view> HttpResponse::header(std::string_view name) const {
  const auto& fields = headers();
  const auto it = fields.find(name);
  if (it == fields.end()) return std::nullopt;
  return it->value();
}

std::string HttpResponse::content_type() const {
  auto value = header("Content-Type").value_or(std::string_view{});
  value = value.substr(0, value.find(';'));
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  return lower(value);
}

bool HttpResponse::body_done() const { return impl_->done; }

void HttpResponse::set_io_timeout(std::chrono::milliseconds timeout) {
  impl_->io_timeout = timeout;
}

void HttpResponse::set_deadline(std::optional<std::chrono::steady_clock::time_point> deadline) {
  impl_->deadline = deadline;
}

namespace {

// GCC 12 (-O1 with sanitizers) falsely warns that the boost::optional Beast returns may be used
// uninitialised; it is always initialised (boost::none or a value).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
std::optional<std::uint64_t> body_bytes_left(const http::response_parser<http::buffer_body>& p) {
  const auto left = p.content_length_remaining();
  if (!left) return std::nullopt;
  return *left;
}
#pragma GCC diagnostic pop

}  // namespace

asio::awaitable<boost::system::result<std::string>> HttpResponse::read_some(std::size_t max_chunk) {
  auto& im = *impl_;
  if (im.done) co_return std::string{};
  if (!im.conn) co_return make_error_code(HttpClientErrc::connection_closed);
  auto cs = co_await asio::this_coro::cancellation_state;
  max_chunk = std::max<std::size_t>(max_chunk, 1);
  // A known length (the usual JSON reply) is read straight into a string of that size.
  const auto remaining = body_bytes_left(*im.parser);
  const bool exact = remaining && *remaining <= max_chunk;
  if (!exact && im.scratch_size < max_chunk) {
    im.scratch = std::make_unique_for_overwrite<char[]>(max_chunk);
    im.scratch_size = max_chunk;
  }
  std::string out;
  if (exact) out.resize(std::max<std::uint64_t>(*remaining, 1));
  char* const into = exact ? out.data() : im.scratch.get();
  const std::size_t room = exact ? out.size() : max_chunk;
  for (int pass = 0; pass < kMaxEmptyReads; ++pass) {
    if (cancelled(cs)) {
      im.fail();
      co_return aborted();
    }
    auto& body = im.parser->get().body();
    body.data = into;
    body.size = room;
    im.arm();
    auto [ec, consumed] =
        im.conn->tls
            ? co_await http::async_read_some(*im.conn->tls, im.conn->buffer, *im.parser, kTok)
            : co_await http::async_read_some(*im.conn->plain, im.conn->buffer, *im.parser, kTok);
    if (ec == http::error::need_buffer) ec = {};
    const auto got = room - im.parser->get().body().size;
    im.parser->get().body().data = nullptr;
    if (ec) {
      im.fail();
      co_return map_error(ec);
    }
    if (got > 0 || im.parser->is_done()) {
      if (exact) {
        out.resize(got);
      } else {
        out.assign(into, got);
      }
      if (im.parser->is_done()) im.finish();
      co_return std::move(out);
    }
  }
  im.fail();
  co_return make_error_code(HttpClientErrc::protocol_error);
}

asio::awaitable<boost::system::result<std::string>> HttpResponse::read_body(std::size_t limit) {
  auto cs = co_await asio::this_coro::cancellation_state;
  std::string body;
  while (true) {  // each pass adds at least one byte or ends; the total is bounded by `limit`
    if (cancelled(cs)) {
      impl_->fail();
      co_return aborted();
    }
    auto chunk = co_await read_some();
    if (!chunk) co_return chunk.error();
    if (chunk->empty()) co_return std::move(body);
    if (chunk->size() > limit - body.size()) {
      impl_->fail();
      co_return make_error_code(HttpClientErrc::body_too_large);
    }
    body += *chunk;
  }
}

// ---------------------------------------------------------------------------------------------
// HttpClientPool

HttpClientPool::HttpClientPool(asio::any_io_executor executor, PoolOptions options)
    : executor_(std::move(executor)), options_(std::move(options)) {}

HttpClientPool::~HttpClientPool() = default;

boost::system::result<std::shared_ptr<HttpClientPool>> HttpClientPool::create(
    asio::any_io_executor executor, PoolOptions options) {
  std::shared_ptr<HttpClientPool> pool(new HttpClientPool(std::move(executor), std::move(options)));
  // A configured CA file means TLS: a file that cannot be loaded fails now, not at the first call.
  if (pool->options_.ca_file) {
    if (auto tls = pool->tls_context(); !tls) return tls.error();
  }
  return pool;
}

// The system CA store alone takes ~0.7 MiB of heap once parsed: a pool that only ever speaks
// plain HTTP (the usual upstream on a private network) never pays for it.
boost::system::result<ssl::context*> HttpClientPool::tls_context() {
  std::lock_guard lock(tls_mutex_);
  if (tls_) return tls_.get();
  const auto failed = make_error_code(HttpClientErrc::tls_setup_failed);
  std::unique_ptr<ssl::context> tls;
  try {
    tls = std::make_unique<ssl::context>(ssl::context::tls_client);
  } catch (const boost::system::system_error&) {
    return failed;
  }
  error_code ec;
  tls->set_default_verify_paths(ec);
  if (ec) return failed;
  if (options_.ca_file) {
    tls->load_verify_file(*options_.ca_file, ec);
    if (ec) return failed;
  }
  if (SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_2_VERSION) != 1) return failed;
  tls->set_verify_mode(ssl::verify_peer, ec);
  if (ec) return failed;
  tls_ = std::move(tls);
  return tls_.get();
}

void HttpClientPool::prune_locked(Clock::time_point now) {
  for (auto it = idle_.begin(); it != idle_.end();) {
    auto& list = it->second;
    const auto before = list.size();
    std::erase_if(list, [&](const std::unique_ptr<PooledConnection>& c) {
      return now - c->idle_since >= options_.idle_timeout || now >= c->reuse_until;
    });
    idle_count_ -= before - list.size();
    it = list.empty() ? idle_.erase(it) : std::next(it);
  }
}

std::unique_ptr<PooledConnection> HttpClientPool::take_idle(const std::string& origin) {
  std::lock_guard lock(mutex_);
  prune_locked(Clock::now());
  auto it = idle_.find(origin);
  if (it == idle_.end()) return nullptr;
  auto& list = it->second;
  std::unique_ptr<PooledConnection> found;
  while (!list.empty() && !found) {  // newest first: the least likely to have been closed
    auto candidate = std::move(list.back());
    list.pop_back();
    --idle_count_;
    if (candidate->looks_idle()) found = std::move(candidate);
  }
  if (list.empty()) idle_.erase(it);
  return found;
}

void HttpClientPool::give_back(std::unique_ptr<PooledConnection> connection) {
  connection->tcp().expires_never();
  const auto now = Clock::now();
  connection->idle_since = now;
  std::lock_guard lock(mutex_);
  prune_locked(now);
  if (now >= connection->reuse_until || idle_count_ >= options_.max_idle_total) return;
  auto& list = idle_[connection->origin];
  if (list.size() >= options_.max_idle_per_origin) return;
  list.push_back(std::move(connection));
  ++idle_count_;
}

PoolStats HttpClientPool::stats() const {
  std::lock_guard lock(mutex_);
  return {opened_, reused_, idle_count_};
}

void HttpClientPool::close_idle() {
  std::lock_guard lock(mutex_);
  idle_.clear();
  idle_count_ = 0;
}

asio::awaitable<boost::system::result<HttpResponse>> HttpClientPool::request(HttpRequest r) {
  auto self = shared_from_this();  // the pool outlives this exchange
  auto cs = co_await asio::this_coro::cancellation_state;
  auto target = parse_target(r.url);
  if (!target) co_return target.error();
  for (const auto& [name, value] : r.headers) {
    if (!valid_header(name, value)) co_return make_error_code(HttpClientErrc::invalid_header);
  }

  if (r.method == http::verb::trace && !r.body.empty()) {
    co_return error_code(std::make_error_code(std::errc::invalid_argument));  // TRACE has no body
  }

  http::request<http::string_body> req{r.method, target->path, 11};
  req.set(http::field::host, target->host_header);
  req.set(http::field::user_agent, options_.user_agent);
  for (const auto& [name, value] : r.headers) req.set(name, value);
  req.keep_alive(true);
  req.body() = std::move(r.body);
  req.prepare_payload();

  const auto io_timeout = r.io_timeout.value_or(options_.io_timeout);
  const auto body_limit = r.max_body_bytes.value_or(options_.max_body_bytes);
  const auto header_limit = static_cast<std::uint32_t>(
      std::min<std::size_t>(options_.max_header_bytes, std::numeric_limits<std::uint32_t>::max()));
  const auto buffer_limit = options_.max_header_bytes + 64 * 1024;

  for (int attempt = 0; attempt < 2; ++attempt) {
    if (cancelled(cs)) co_return aborted();
    auto conn = attempt == 0 ? take_idle(target->origin) : nullptr;
    const bool reused = conn != nullptr;
    if (!conn) {
      const auto connect_deadline =
          expiry(r.connect_timeout.value_or(options_.connect_timeout), r.deadline);
      ssl::context* tls = nullptr;
      if (target->tls) {
        auto made = tls_context();
        if (!made) co_return made.error();
        tls = *made;
      }
      auto opened = co_await open_connection(*target, connect_deadline, tls, buffer_limit);
      if (!opened) co_return opened.error();
      conn = std::move(*opened);
      std::lock_guard lock(mutex_);
      ++opened_;
    } else {
      std::lock_guard lock(mutex_);
      ++reused_;
    }

    if (cancelled(cs)) co_return aborted();
    conn->tcp().expires_at(expiry(io_timeout, r.deadline));
    auto [write_ec, written] = conn->tls ? co_await http::async_write(*conn->tls, req, kTok)
                                         : co_await http::async_write(*conn->plain, req, kTok);
    if (write_ec) {
      if (reused && is_stale_connection(write_ec)) continue;
      co_return map_error(write_ec);
    }

    std::unique_ptr<http::response_parser<http::buffer_body>> parser;
    error_code read_ec;
    bool got_any = false;
    for (int interim = 0;; ++interim) {
      parser = std::make_unique<http::response_parser<http::buffer_body>>();
      parser->header_limit(header_limit);
      if (body_limit == std::numeric_limits<std::size_t>::max()) {
        parser->body_limit(boost::none);
      } else {
        parser->body_limit(body_limit);
      }
      if (r.method == http::verb::head) parser->skip(true);
      if (cancelled(cs)) co_return aborted();
      conn->tcp().expires_at(expiry(io_timeout, r.deadline));
      auto [ec, consumed] =
          conn->tls ? co_await http::async_read_header(*conn->tls, conn->buffer, *parser, kTok)
                    : co_await http::async_read_header(*conn->plain, conn->buffer, *parser, kTok);
      got_any = got_any || parser->got_some();
      read_ec = ec;
      if (read_ec) break;
      const auto status = parser->get().result_int();
      if (status >= 200 || status == 101) break;
      // 1xx interim responses (e.g. 103 Early Hints) precede the real one.
      if (interim == kMaxInterimResponses) {
        read_ec = make_error_code(HttpClientErrc::protocol_error);
        break;
      }
    }
    if (read_ec) {
      if (reused && !got_any && is_stale_connection(read_ec)) continue;
      co_return map_error(read_ec);
    }

    auto impl = std::make_unique<HttpResponse::Impl>();
    impl->pool = weak_from_this();
    impl->conn = std::move(conn);
    impl->parser = std::move(parser);
    impl->io_timeout = io_timeout;
    impl->deadline = r.deadline;
    if (impl->parser->is_done()) impl->finish();
    co_return HttpResponse(std::move(impl));
  }
  co_return make_error_code(HttpClientErrc::connection_closed);
}

asio::awaitable<boost::system::result<BufferedResponse>> HttpClientPool::fetch(HttpRequest r) {
  auto cs = co_await asio::this_coro::cancellation_state;
  const auto limit = r.max_body_bytes.value_or(options_.max_body_bytes);
  if (cancelled(cs)) co_return aborted();
  auto response = co_await request(std::move(r));
  if (!response) co_return response.error();
  if (cancelled(cs)) co_return aborted();
  auto body = co_await response->read_body(limit);
  if (!body) co_return body.error();
  BufferedResponse out;
  out.status = response->status();
  out.headers = response->headers();
  out.body = std::move(*body);
  co_return std::move(out);
}

}  // namespace bastion::net::client

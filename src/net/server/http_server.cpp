#include "net/server/http_server.hpp"

#include <sys/socket.h>

#include <cerrno>

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <algorithm>
#include <mutex>
#include <optional>
#include <set>
#include <type_traits>

#include "net/server/request_framing.hpp"
#include "net/tls/tls_server_context.hpp"
#include "net/tls/tls_stream.hpp"

namespace bastion::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
using namespace asio::experimental::awaitable_operators;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// The connection loop is written once for both streams; these pick the few differences at
// compile time, so the plain path stays what it was.
template <class Stream>
constexpr bool kIsTls = std::is_same_v<Stream, TlsStream>;

// Live connections, so shutdown can close idle ones at once and the rest after the grace period.
struct HttpServer::Registry {
  struct Entry {
    asio::any_io_executor strand;
    beast::tcp_stream* stream;  // the TCP layer, also under TLS
    bool tls = false;
    std::atomic<bool> idle{true};
  };
  std::mutex mutex;
  std::set<std::shared_ptr<Entry>> entries;

  // Runs on the connection's strand, so the stream cannot be destroyed while we touch it.
  // `hard`: close whatever it is doing. Otherwise only a connection that is still idle has its
  // read cancelled; its loop then ends (a TLS one with a close_notify) and closes it.
  static void close(const std::shared_ptr<Registry>& self, const std::shared_ptr<Entry>& e, bool hard) {
    asio::post(e->strand, [self, e, hard] {
      std::lock_guard lock(self->mutex);
      if (!self->entries.count(e)) return;
      if (!hard && !e->idle) return;
      boost::system::error_code ec;
      // A request that arrived just before the drain began is still served (with
      // Connection: close); closing now would reset a client that did nothing wrong. It may be
      // in the kernel, or already read into the loop's buffer by a read that has completed but
      // not yet resumed the loop: cancelling leaves such a read as it is, where closing would
      // lose its request.
      if (!hard && e->stream->socket().available(ec) > 0) return;
      if (!hard) {
        e->stream->socket().cancel(ec);
        return;
      }
      e->stream->socket().shutdown(tcp::socket::shutdown_both, ec);
      e->stream->socket().close(ec);
    });
  }

  // Keeps a connection listed for shutdown while it lives.
  struct Registration {
    std::shared_ptr<Registry> registry;
    std::shared_ptr<Entry> entry;
    Registration(std::shared_ptr<Registry> r, beast::tcp_stream& stream, bool tls)
        : registry(std::move(r)), entry(std::make_shared<Entry>()) {
      entry->strand = stream.get_executor();
      entry->stream = &stream;
      entry->tls = tls;
      std::lock_guard lock(registry->mutex);
      registry->entries.insert(entry);
    }
    ~Registration() {
      std::lock_guard lock(registry->mutex);
      registry->entries.erase(entry);
    }
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;
  };
};

namespace {

template <class Stream>
class StreamWriter final : public ResponseWriter {
 public:
  StreamWriter(Stream& stream, std::chrono::milliseconds write_timeout, bool keep_alive,
               unsigned version, const std::atomic<bool>& stopping)
      : stream_(stream),
        timeout_(write_timeout),
        keep_alive_(keep_alive),
        version_(version),
        stopping_(stopping) {}

  asio::awaitable<bool> send(Response response) override {
    if (responded_) co_return false;
    responded_ = true;
    // Draining: a reply finished now tells the client not to reuse the connection, so its next
    // request opens a new one (refused while the listener is closed) instead of meeting a reset.
    if (stopping_) keep_alive_ = false;
    response.version(version_);
    response.keep_alive(keep_alive_);
    response.prepare_payload();
    beast::get_lowest_layer(stream_).expires_after(timeout_);
    auto [ec, n] = co_await http::async_write(stream_, response, use_tuple);
    ok_ = !ec;
    co_return ok_;
  }

  asio::awaitable<bool> start_stream(http::response<http::empty_body> header) override {
    if (responded_) co_return false;
    responded_ = true;
    streaming_ = true;
    if (stopping_) keep_alive_ = false;
    header.version(version_);
    header.keep_alive(keep_alive_);
    header.chunked(true);
    http::response_serializer<http::empty_body> serializer(header);
    beast::get_lowest_layer(stream_).expires_after(timeout_);
    auto [ec, n] = co_await http::async_write_header(stream_, serializer, use_tuple);
    ok_ = !ec;
    co_return ok_;
  }

  asio::awaitable<bool> write_chunk(std::string_view data) override {
    if (!streaming_ || !ok_) co_return false;
    beast::get_lowest_layer(stream_).expires_after(timeout_);
    auto [ec, n] = co_await asio::async_write(stream_, http::make_chunk(asio::buffer(data)), use_tuple);
    ok_ = !ec;
    co_return ok_;
  }

  asio::awaitable<bool> finish_stream() override {
    if (!streaming_ || !ok_ || finished_) co_return false;
    finished_ = true;
    beast::get_lowest_layer(stream_).expires_after(timeout_);
    auto [ec, n] = co_await asio::async_write(stream_, http::make_chunk_last(), use_tuple);
    ok_ = !ec;
    co_return ok_;
  }

  bool streaming() const override { return streaming_; }
  bool responded() const { return responded_; }
  bool keep_alive() const { return keep_alive_; }
  bool reusable() const { return ok_ && (!streaming_ || finished_); }

 private:
  Stream& stream_;
  std::chrono::milliseconds timeout_;
  bool keep_alive_;
  unsigned version_;
  const std::atomic<bool>& stopping_;
  bool responded_ = false;
  bool streaming_ = false;
  bool finished_ = false;
  bool ok_ = true;
};

// Notices a client that goes away while its request is handled, without a coroutine in the usual
// case. Racing the handler against a watching coroutine with `||` cost a parallel group and two
// coroutine frames per request; instead the handler runs in the connection's coroutine, and a
// readiness wait on the socket, once it fires, peeks at one byte:
//  - end of stream or an error: the client is gone; the connection's coroutine, and with it the
//    handler, is cancelled;
//  - bytes on a plain connection: a pipelined request, left in the kernel until the reply is out;
//  - bytes on a TLS connection: a pipelined request or a close_notify, which only the decryption
//    layer can tell apart; a coroutine (watch_tls_reader) reads through it from then on.
// Everything runs on the connection's strand. A wait that completes after the handler has
// finished finds its generation stale and touches nothing.
struct DisconnectWatch {
  explicit DisconnectWatch(const asio::any_io_executor& ex, asio::cancellation_signal* conn)
      : connection(conn), reader_done(ex) {}
  asio::cancellation_signal* connection;  // cancels the connection's coroutine
  asio::cancellation_signal stop;         // cancels the pending readiness wait
  asio::cancellation_signal reader_stop;  // stops the TLS reader
  asio::steady_timer reader_done;         // cancelled when the TLS reader has ended
  std::uint64_t generation = 0;
  bool armed = false;
  bool fired = false;
  bool reader_running = false;

  void fire() {
    fired = true;
    connection->emit(asio::cancellation_type::terminal);
  }
};

// Reads through the TLS layer while the handler runs, until the client closes, errs, floods (more
// than 1 MiB: hostile) or the watch stops it. Bytes of a pipelined request are kept in `buffer`.
asio::awaitable<void> watch_tls_reader(TlsStream& stream, beast::flat_buffer& buffer) {
  for (;;) {
    auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), use_tuple);
    if (ec) co_return;
    buffer.commit(n);
    if (buffer.size() > (1 << 20)) co_return;
    // Waiting for readability first costs no pass through the TLS engine and no failed recvmsg.
    auto [wec] = co_await beast::get_lowest_layer(stream).socket().async_wait(tcp::socket::wait_read, use_tuple);
    if (wec) co_return;
  }
}

template <class Stream>
struct DisconnectWatchHandler {
  std::shared_ptr<DisconnectWatch> watch;
  std::uint64_t generation;
  Stream* stream;
  beast::flat_buffer* buffer;

  bool current() const { return watch->armed && watch->generation == generation; }
  void arm() const {
    beast::get_lowest_layer(*stream).socket().async_wait(tcp::socket::wait_read,
                                                         asio::bind_cancellation_slot(watch->stop.slot(), *this));
  }
  void operator()(boost::system::error_code ec) const {
    if (!current() || ec) return;
    char byte = 0;
    const auto n = ::recv(beast::get_lowest_layer(*stream).socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return arm();  // spurious wake-up
    if (n <= 0) return watch->fire();  // end of stream, or reset
    if constexpr (kIsTls<Stream>) {
      watch->reader_running = true;
      asio::co_spawn(stream->get_executor(), watch_tls_reader(*stream, *buffer),
                     asio::bind_cancellation_slot(watch->reader_stop.slot(),
                                                  [w = watch, g = generation](std::exception_ptr) {
                                                    w->reader_running = false;
                                                    w->reader_done.cancel();
                                                    if (w->armed && w->generation == g) w->fire();
                                                  }));
    }
  }
};

// Reads (and drops) what the client sent, answers 503 and closes gracefully, so the client
// sees the reply instead of a reset. Bounded by a one-second deadline.
asio::awaitable<void> refuse_overload(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  stream.expires_after(std::chrono::seconds(1));
  beast::flat_buffer buffer;
  co_await stream.async_read_some(buffer.prepare(16 * 1024), use_tuple);
  auto res = text_response(http::status::service_unavailable, "too many connections");
  res.set(http::field::connection, "close");
  res.set(http::field::retry_after, "1");
  co_await http::async_write(stream, res, use_tuple);
  boost::system::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  // Give the client a moment to read before the close, draining what it still sends.
  for (int i = 0; i < 4; ++i) {
    auto [rec, n] = co_await stream.async_read_some(buffer.prepare(16 * 1024), use_tuple);
    if (rec) break;
    buffer.consume(buffer.size());
  }
}

// Reads the request header, feeding Beast's parser here rather than through async_read_header:
// the parser of Boost 1.81 applies its header limit to what is left unparsed at each step, not
// to the header as a whole (fields consumed by an earlier step do not count: 10 KB of small
// fields passed an 8 KiB limit), and it unfolds obs-fold lines, which a proxy in front may read
// differently. The limit is enforced on the total here, and obs-fold refused.
// Feeds what is already buffered to the header parser. nullopt: more bytes are needed.
std::optional<boost::system::error_code> feed_header(beast::flat_buffer& buffer,
                                                     http::request_parser<http::string_body>& parser,
                                                     std::uint64_t limit, std::uint64_t& consumed) {
  while (buffer.size() > 0) {
    const std::string_view bytes(static_cast<const char*>(buffer.data().data()), buffer.size());
    if (has_obs_fold(bytes)) return boost::system::error_code(http::error::bad_obs_fold);
    boost::system::error_code ec;
    const auto n = parser.put(buffer.data(), ec);
    buffer.consume(n);
    consumed += n;
    if (consumed > limit) return boost::system::error_code(http::error::header_limit);
    if (!ec && parser.is_header_done()) return boost::system::error_code{};
    if (ec && ec != http::error::need_more) return ec;
    if (ec || n == 0) break;
  }
  return std::nullopt;
}

// Feeds what is already buffered to the body parser. nullopt: more bytes are needed.
std::optional<boost::system::error_code> feed_body(beast::flat_buffer& buffer,
                                                   http::request_parser<http::string_body>& parser) {
  while (!parser.is_done() && buffer.size() > 0) {
    boost::system::error_code ec;
    const auto n = parser.put(buffer.data(), ec);
    buffer.consume(n);
    if (ec == http::error::need_more || (!ec && n == 0)) break;
    if (ec) return ec;
  }
  if (parser.is_done()) return boost::system::error_code{};
  return std::nullopt;
}

// Reads the request header, feeding Beast's parser here rather than through async_read_header:
// the parser of Boost 1.81 applies its header limit to what is left unparsed at each step, not
// to the header as a whole (fields consumed by an earlier step do not count: 10 KB of small
// fields passed an 8 KiB limit), and it unfolds obs-fold lines, which a proxy in front may read
// differently. The limit is enforced on the total here, and obs-fold refused.
template <class Stream>
asio::awaitable<boost::system::error_code> read_header_checked(Stream& stream, beast::flat_buffer& buffer,
                                                               http::request_parser<http::string_body>& parser,
                                                               std::uint64_t limit, std::uint64_t& consumed) {
  for (;;) {
    if (auto done = feed_header(buffer, parser, limit, consumed)) co_return *done;
    const auto room = beast::read_size(buffer, 65536);
    if (room == 0) co_return http::error::buffer_overflow;
    auto [ec, n] = co_await stream.async_read_some(buffer.prepare(room), use_tuple);
    if (ec == asio::error::eof) {
      co_return parser.got_some() ? boost::system::error_code(http::error::partial_message)
                                  : boost::system::error_code(http::error::end_of_stream);
    }
    if (ec) co_return ec;
    buffer.commit(n);
  }
}

// Reads the request header within `timeout` without closing the stream on expiry (the caller
// still has to say 408). A header already in the buffer (usually the whole request came with the
// read that ended the idle wait) is parsed at once, without the timer and its two coroutines.
template <class Stream>
asio::awaitable<boost::system::error_code> read_header_within(Stream& stream, beast::flat_buffer& buffer,
                                                              http::request_parser<http::string_body>& parser,
                                                              std::uint64_t limit, std::chrono::milliseconds timeout) {
  std::uint64_t consumed = 0;
  if (auto done = feed_header(buffer, parser, limit, consumed)) co_return *done;
  asio::steady_timer timer(stream.get_executor(), timeout);
  auto result = co_await (read_header_checked(stream, buffer, parser, limit, consumed) || timer.async_wait(use_tuple));
  if (result.index() == 1) co_return beast::error::timeout;
  co_return std::get<0>(result);
}

// Reads the rest of the body within `timeout`; a body already buffered costs no timer either.
template <class Stream>
asio::awaitable<boost::system::error_code> read_body_within(Stream& stream, beast::flat_buffer& buffer,
                                                            http::request_parser<http::string_body>& parser,
                                                            std::chrono::milliseconds timeout) {
  if (auto done = feed_body(buffer, parser)) co_return *done;
  asio::steady_timer timer(stream.get_executor(), timeout);
  auto result = co_await (http::async_read(stream, buffer, parser, use_tuple) || timer.async_wait(use_tuple));
  if (result.index() == 1) co_return beast::error::timeout;
  co_return std::get<0>(std::get<0>(result));
}

}  // namespace

void apply_limits(http::request_parser<http::string_body>& parser, const ServerLimits& limits) {
  parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
  parser.body_limit(limits.max_body_bytes);
}

Response text_response(http::status status, std::string_view body, unsigned version) {
  Response res{status, version};
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  res.body() = std::string(body);
  if (!res.body().empty() && res.body().back() != '\n') res.body() += '\n';
  res.prepare_payload();
  return res;
}

HttpServer::HttpServer(asio::io_context& ioc, std::string name, ServerLimits limits, Handler handler)
    : ioc_(ioc),
      name_(std::move(name)),
      limits_(limits),
      handler_(std::move(handler)),
      acceptor_(asio::make_strand(ioc)),
      registry_(std::make_shared<Registry>()) {}

HttpServer::HttpServer(asio::io_context& ioc, std::string name, ServerLimits limits, Handler handler,
                       std::shared_ptr<tls::TlsContextProvider> tls)
    : HttpServer(ioc, std::move(name), limits, std::move(handler)) {
  tls_ = std::move(tls);
}

boost::system::result<tcp::endpoint> HttpServer::bind(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) return boost::system::errc::make_error_code(boost::system::errc::invalid_argument);
  std::string host = address.substr(0, colon);
  if (host.size() > 1 && host.front() == '[') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) return ec;
  tcp::endpoint endpoint(ip, static_cast<unsigned short>(std::stoi(address.substr(colon + 1))));
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) return ec;
  acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  acceptor_.bind(endpoint, ec);
  if (ec) return ec;
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return ec;
  return acceptor_.local_endpoint();
}

void HttpServer::start() {
  asio::co_spawn(acceptor_.get_executor(), accept_loop(), asio::detached);
}

asio::awaitable<void> HttpServer::accept_loop() {
  auto self = shared_from_this();
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(asio::make_strand(ioc_), use_tuple);
    if (stopping_) co_return;
    if (ec) {
      if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) co_return;
      // EMFILE and friends: back off briefly instead of spinning.
      spdlog::warn("[{}] accept failed: {}", name_, ec.message());
      asio::steady_timer t(acceptor_.get_executor(), std::chrono::milliseconds(50));
      co_await t.async_wait(use_tuple);
      continue;
    }
    if (connections_.load() >= limits_.max_connections) {
      if (tls_) {
        // A 503 over TLS would cost a full handshake exactly when we are overloaded: just close.
        boost::system::error_code cec;
        socket.close(cec);
        continue;
      }
      // Over the cap: answer 503 from a small bounded coroutine (not counted as a connection).
      if (on_refused_) on_refused_(503, "too_many_connections");
      auto ex = socket.get_executor();
      asio::co_spawn(ex, refuse_overload(std::move(socket)), asio::detached);
      continue;
    }
    auto ex = socket.get_executor();
    auto cancel = std::make_shared<asio::cancellation_signal>();
    auto* cancel_ptr = cancel.get();
    asio::co_spawn(ex, serve(std::move(socket), cancel_ptr),
                   asio::bind_cancellation_slot(cancel_ptr->slot(), [self, cancel](std::exception_ptr e) {
      // The error barrier: a bug in one connection never takes the process down.
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& error) {
        spdlog::error("[{}] connection ended by an unexpected error: {}", self->name_, error.what());
      }
    }));
  }
}

namespace {

// How a connection's request loop ended; a peer that has gone gets no close_notify.
enum class LoopEnd { peer_gone, server_done };

bool peer_gone(const boost::system::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::ssl::error::stream_truncated;
}

// The idle wait of a TLS connection. Racing the read against a timer with `||` costs two
// coroutine frames and a parallel group per request; here one timer per connection, re-armed for
// each wait, cancels the socket's read when it fires, which leaves the TLS session open for a
// close_notify. Everything runs on the connection's strand.
//
// The same timer gives memory back: the stream's ciphertext buffers and OpenSSL's record buffers
// (about 34 KiB) are kept while requests keep coming, and freed once a connection has waited
// `kReleaseBuffersAfter`.
constexpr std::chrono::milliseconds kReleaseBuffersAfter{1'000};

struct IdleDeadline {
  explicit IdleDeadline(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  std::uint64_t waiting = 0;  // generation of the read being timed; 0 when none is
  std::uint64_t generation = 0;
  asio::steady_timer::time_point end;
  bool expired = false;
};

// The timer's handler; holds the state, not the stream: it touches the socket and the TLS
// stream only while the read it times is pending, so both are alive.
struct IdleDeadlineHandler {
  std::shared_ptr<IdleDeadline> deadline;
  std::uint64_t generation;
  tcp::socket* socket;
  TlsStream* tls;
  void operator()(boost::system::error_code ec) const {
    if (ec || deadline->waiting != generation) return;
    if (tls != nullptr && asio::steady_timer::clock_type::now() < deadline->end) {
      tls->release_buffers();
      deadline->timer.expires_at(deadline->end);
      deadline->timer.async_wait(IdleDeadlineHandler{deadline, generation, socket, nullptr});
      return;
    }
    deadline->expired = true;
    boost::system::error_code ignored;
    socket->cancel(ignored);
  }
};

template <class Stream>
asio::awaitable<boost::system::error_code> read_some_before(Stream& stream, beast::flat_buffer& buffer,
                                                            const std::shared_ptr<IdleDeadline>& deadline,
                                                            std::chrono::milliseconds timeout) {
  const auto generation = ++deadline->generation;
  deadline->waiting = generation;
  deadline->expired = false;
  deadline->end = asio::steady_timer::clock_type::now() + timeout;
  deadline->timer.expires_after(std::min(timeout, kReleaseBuffersAfter));
  deadline->timer.async_wait(
      IdleDeadlineHandler{deadline, generation, &beast::get_lowest_layer(stream).socket(), &stream});
  auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), use_tuple);
  deadline->waiting = 0;
  deadline->timer.cancel();
  if (deadline->expired) co_return beast::error::timeout;
  if (!ec) buffer.commit(n);
  co_return ec;
}

// After an error reply the client may still be sending (a body, pipelined requests): closing
// with unread data would send a reset that can destroy the reply before the client reads it.
// So: our side is shut down, and what arrives is discarded for a bounded moment.
asio::awaitable<void> linger(beast::tcp_stream& stream, beast::flat_buffer& buffer) {
  boost::system::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  buffer.consume(buffer.size());
  stream.expires_after(std::chrono::seconds(1));
  for (std::size_t drained = 0; drained < (std::size_t{1} << 20);) {
    auto [rec, n] = co_await stream.async_read_some(buffer.prepare(16 * 1024), use_tuple);
    if (rec) break;
    drained += n;
  }
}

// A connection's read buffer is bounded: Beast keeps a whole chunk-size line (extensions
// included) in it, and without a cap a single line could grow it until memory runs out. The cap
// leaves room for a full header plus the 1 MiB watch_tls_reader may hold.
std::size_t read_buffer_cap(const ServerLimits& limits) {
  return static_cast<std::size_t>(limits.max_header_bytes) + (std::size_t{2} << 20);
}

struct LoopContext {
  const ServerLimits& limits;
  const Handler& handler;
  const std::atomic<bool>& stopping;
  std::atomic<bool>& idle;
  const ConnectionInfo& info;
  const RefusalObserver& on_refused;
  asio::cancellation_signal* cancel;  // the connection coroutine's
};

// The keep-alive loop, the same for plain and TLS streams.
template <class Stream>
asio::awaitable<LoopEnd> serve_requests(Stream& stream, beast::flat_buffer& buffer, LoopContext c) {
  auto& tcp_layer = beast::get_lowest_layer(stream);
  std::shared_ptr<IdleDeadline> idle_deadline;
  if constexpr (kIsTls<Stream>) idle_deadline = std::make_shared<IdleDeadline>(stream.get_executor());
  std::shared_ptr<DisconnectWatch> watch;  // made for the first request
  for (;;) {
    c.idle = true;
    // Draining: serve what already arrived (pipelined, or in the kernel), then close.
    if (c.stopping && buffer.size() == 0) {
      boost::system::error_code aec;
      if (tcp_layer.socket().available(aec) == 0) co_return LoopEnd::server_done;
    }
    // Wait for the first byte of the next request within the idle timeout...
    if (buffer.size() == 0) {
      if constexpr (kIsTls<Stream>) {
        auto rec = co_await read_some_before(stream, buffer, idle_deadline, c.limits.idle_timeout);
        if (rec) co_return peer_gone(rec) ? LoopEnd::peer_gone : LoopEnd::server_done;
      } else {
        stream.expires_after(c.limits.idle_timeout);
        auto [rec, n] = co_await stream.async_read_some(buffer.prepare(4096), use_tuple);
        if (rec) co_return LoopEnd::peer_gone;
        buffer.commit(n);
      }
    }
    c.idle = false;
    // ...then the whole header within the header timeout, and the body within the same again.
    http::request_parser<http::string_body> parser;
    apply_limits(parser, c.limits);
    tcp_layer.expires_never();  // our own timers, so a late client still gets its 408
    auto hec = co_await read_header_within(stream, buffer, parser, c.limits.max_header_bytes, c.limits.header_timeout);
    std::optional<Refusal> refusal;
    if (!hec) refusal = framing_problem(parser.get().base());
    if (!hec && !refusal && !parser.is_done()) {
      hec = co_await read_body_within(stream, buffer, parser, c.limits.header_timeout);
    }
    if (hec && (peer_gone(hec) || hec == asio::error::operation_aborted)) co_return LoopEnd::peer_gone;
    if (hec) refusal = refusal_for(hec);
    if (refusal) {
      std::string message(refusal->message);
      if (hec == http::error::body_limit) {
        message = "request body larger than " + std::to_string(c.limits.max_body_bytes) + " bytes";
      }
      // Counted before the reply goes out, so a client that has read it can see the count.
      if (c.on_refused) c.on_refused(static_cast<unsigned>(refusal->status), refusal->reason);
      auto res = text_response(refusal->status, message);
      res.set(http::field::connection, "close");
      tcp_layer.expires_after(c.limits.write_timeout);
      auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
      if constexpr (!kIsTls<Stream>) {
        if (!wec) co_await linger(stream, buffer);
      }
      co_return LoopEnd::server_done;
    }
    Request request = parser.release();
    bool keep_alive = request.keep_alive() && !c.stopping;
    StreamWriter<Stream> writer(stream, c.limits.write_timeout, keep_alive, request.version(),
                                c.stopping);
    tcp_layer.expires_never();  // the handler's writes set their own deadlines
    if (!watch) watch = std::make_shared<DisconnectWatch>(stream.get_executor(), c.cancel);
    watch->armed = true;
    DisconnectWatchHandler<Stream>{watch, ++watch->generation, &stream, &buffer}.arm();
    std::exception_ptr failure;
    try {
      co_await c.handler(request, writer, c.info);
    } catch (...) {
      failure = std::current_exception();  // after a disconnect: the cancellation surfacing
    }
    watch->armed = false;
    watch->stop.emit(asio::cancellation_type::terminal);
    if (watch->reader_running) {
      // The TLS reader uses the stream and the buffer: let it end before they are used again.
      // (It never runs once the watch has fired: firing is how it ends.)
      watch->reader_stop.emit(asio::cancellation_type::terminal);
      if (watch->reader_running) {
        watch->reader_done.expires_at(asio::steady_timer::time_point::max());
        co_await watch->reader_done.async_wait(use_tuple);
      }
    }
    if (watch->fired) {
      co_await asio::this_coro::reset_cancellation_state();
      co_return LoopEnd::peer_gone;
    }
    if (failure) std::rethrow_exception(failure);
    if (!writer.responded()) {
      co_await writer.send(text_response(http::status::internal_server_error, "no response"));
    }
    if (!tcp_layer.socket().is_open()) co_return LoopEnd::peer_gone;
    // keep_alive() is off too when draining began while the handler ran.
    if (!writer.keep_alive() || !writer.reusable()) {
      co_return writer.reusable() ? LoopEnd::server_done : LoopEnd::peer_gone;
    }
  }
}

}  // namespace

asio::awaitable<void> HttpServer::serve(tcp::socket socket, asio::cancellation_signal* cancel) {
  auto self = shared_from_this();
  ++connections_;
  struct Guard {
    std::atomic<std::size_t>& n;
    ~Guard() { --n; }
  } guard{connections_};

  ConnectionInfo info;
  info.listener = name_;
  boost::system::error_code ec;
  info.remote = socket.remote_endpoint(ec);
  info.local = socket.local_endpoint(ec);
  socket.set_option(tcp::no_delay(true), ec);
  if (tls_) {
    co_await serve_tls(std::move(socket), std::move(info), cancel);
  } else {
    co_await serve_plain(std::move(socket), std::move(info), cancel);
  }
}

asio::awaitable<void> HttpServer::serve_plain(tcp::socket socket, ConnectionInfo info,
                                              asio::cancellation_signal* cancel) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer(read_buffer_cap(limits_));
  Registry::Registration registration(registry_, stream, false);
  co_await serve_requests(stream, buffer,
                          LoopContext{limits_, handler_, stopping_, registration.entry->idle, info, on_refused_, cancel});
  boost::system::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.socket().close(ec);
}

asio::awaitable<void> HttpServer::serve_tls(tcp::socket socket, ConnectionInfo info,
                                            asio::cancellation_signal* cancel) {
  // The context this connection started with stays alive with it, whatever reloads happen.
  const auto context = tls_->current();
  // Its buffers are kept while requests keep coming and freed when the connection goes idle
  // (read_some_before).
  TlsStream stream(std::move(socket), *context);
  auto& tcp_layer = beast::get_lowest_layer(stream);
  beast::flat_buffer buffer(read_buffer_cap(limits_));
  Registry::Registration registration(registry_, tcp_layer, true);
  auto& idle = registration.entry->idle;
  boost::system::error_code ec;

  // A client that never completes the handshake is dropped like one that never sends a header.
  idle = true;  // shutdown may close a half-open handshake at once
  asio::steady_timer timer(stream.get_executor(), limits_.header_timeout);
  auto hs = co_await (stream.async_handshake(asio::ssl::stream_base::server, use_tuple) || timer.async_wait(use_tuple));
  boost::system::error_code hec = hs.index() == 1 ? beast::error::timeout : std::get<0>(std::get<0>(hs));
  if (hec) {
    spdlog::debug("[{}] TLS handshake with {} failed: {}", name_, info.remote.address().to_string(), hec.message());
    tcp_layer.socket().close(ec);
    co_return;
  }
  info.tls = true;

  auto end = co_await serve_requests(stream, buffer, LoopContext{limits_, handler_, stopping_, idle, info, on_refused_, cancel});
  idle = false;  // from here on only the grace deadline may cut the close short
  if (end == LoopEnd::server_done && tcp_layer.socket().is_open()) {
    tcp_layer.expires_after(limits_.tls_shutdown_timeout);
    co_await stream.async_shutdown(use_tuple);
  }
  tcp_layer.socket().shutdown(tcp::socket::shutdown_both, ec);
  tcp_layer.socket().close(ec);
}

asio::awaitable<void> HttpServer::shutdown(std::chrono::milliseconds grace) {
  stopping_ = true;
  asio::post(acceptor_.get_executor(), [this, self = shared_from_this()] {
    boost::system::error_code ec;
    acceptor_.close(ec);
  });
  auto deadline = std::chrono::steady_clock::now() + grace;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    std::vector<std::shared_ptr<Registry::Entry>> open;
    {
      std::lock_guard lock(registry_->mutex);
      open.assign(registry_->entries.begin(), registry_->entries.end());
    }
    if (open.empty()) co_return;
    bool expired = std::chrono::steady_clock::now() >= deadline;
    for (auto& e : open) {
      if (expired || e->idle) Registry::close(registry_, e, expired);
    }
    if (expired) co_return;
    timer.expires_after(std::chrono::milliseconds(25));
    co_await timer.async_wait(use_tuple);
  }
}

}  // namespace bastion::net

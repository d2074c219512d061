#include "upstream/http/mcp_http_client.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <cctype>
#include <limits>
#include <string_view>

namespace bastion::upstream::http {

namespace asio = boost::asio;
namespace json = boost::json;
namespace beast_http = boost::beast::http;
using boost::system::error_code;
using net::client::HttpClientErrc;
using net::client::HttpRequest;
using net::client::HttpResponse;
using net::client::SseEvent;
using net::client::SseParser;

namespace {

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
// Upstream replies carry tool schemas; deeper nesting than this is hostile, not useful.
constexpr std::size_t kMaxJsonDepth = 128;
// After the response arrived, how long the rest of an SSE reply may take to end cleanly (so the
// connection can be reused) before we stop waiting and drop it.
constexpr std::chrono::milliseconds kResponseGrace{2000};
// Reconnection delay when the server sent no `retry:` (also the listen stream's first backoff).
constexpr std::chrono::milliseconds kDefaultRetry{1000};
constexpr int kMaxResumes = 1000;  // per request; the request deadline usually ends it first
constexpr std::chrono::seconds kCloseWait{5};

// boost::system::error_category has a protected non-virtual destructor by design.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class McpHttpCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "bastion.mcp_http"; }
  std::string message(int ev) const override {
    switch (static_cast<McpHttpErrc>(ev)) {
      case McpHttpErrc::session_expired:
        return "upstream MCP session expired";
      case McpHttpErrc::no_response:
        return "upstream SSE reply ended before the response and cannot be resumed";
      case McpHttpErrc::invalid_message:
        return "upstream sent a message that is not valid JSON";
      case McpHttpErrc::unexpected_content_type:
        return "upstream reply has an unexpected Content-Type";
      case McpHttpErrc::message_too_large:
        return "MCP message exceeds max_message_bytes";
      case McpHttpErrc::closed:
        return "upstream client closed";
      case McpHttpErrc::no_endpoint:
        return "legacy SSE upstream gave no usable endpoint event";
      case McpHttpErrc::endpoint_origin_mismatch:
        return "legacy SSE endpoint is not on the SSE URL's origin";
      case McpHttpErrc::invalid_session_id:
        return "upstream sent an invalid Mcp-Session-Id";
    }
    return "unknown MCP HTTP error";
  }
};

class HttpStatusCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "bastion.http_status"; }
  std::string message(int ev) const override {
    const auto reason = beast_http::obsolete_reason(static_cast<beast_http::status>(ev));
    return "upstream replied HTTP " + std::to_string(ev) + (reason.empty() ? "" : " ") +
           std::string(reason);
  }
};
#pragma GCC diagnostic pop

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool has_header(const McpHttpClient::Headers& headers, std::string_view name) {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& h) { return iequals(h.first, name); });
}

bool cancelled(const asio::cancellation_state& cs) {
  return cs.cancelled() != asio::cancellation_type::none;
}

// Session ids are visible ASCII (0x21–0x7E) per the transport spec.
bool valid_session_id(std::string_view id) {
  return !id.empty() && id.size() <= 1024 &&
         std::all_of(id.begin(), id.end(), [](char c) { return c >= 0x21 && c <= 0x7e; });
}

bool same_id(const json::value& a, const json::value& b) {
  if (a.is_string() && b.is_string()) return a.get_string() == b.get_string();
  if (a.is_int64() && b.is_int64()) return a.get_int64() == b.get_int64();
  if (a.is_uint64() && b.is_uint64()) return a.get_uint64() == b.get_uint64();
  if (a.is_int64() && b.is_uint64()) {
    return a.get_int64() >= 0 && static_cast<std::uint64_t>(a.get_int64()) == b.get_uint64();
  }
  if (a.is_uint64() && b.is_int64()) return same_id(b, a);
  if (a.is_number() && b.is_number()) {
    error_code ea, eb;
    const auto x = a.to_number<double>(ea);
    const auto y = b.to_number<double>(eb);
    return !ea && !eb && x == y;
  }
  return false;
}

bool is_response_to(const json::value& message, const json::value& id) {
  const auto* object = message.if_object();
  if (!object || object->contains("method")) return false;
  const auto* message_id = object->if_contains("id");
  return message_id && (object->contains("result") || object->contains("error")) &&
         same_id(*message_id, id);
}

std::string_view port_of(const boost::urls::url_view_base& u) {
  if (u.has_port() && !u.port().empty()) return u.port();
  return u.scheme_id() == boost::urls::scheme::https ? "443" : "80";
}

bool same_origin(const boost::urls::url_view_base& a, const boost::urls::url_view_base& b) {
  return a.scheme_id() == b.scheme_id() && iequals(a.encoded_host(), b.encoded_host()) &&
         port_of(a) == port_of(b);
}

SendOutcome make_outcome(error_code ec = {}, unsigned status = 0, std::string body = {}) {
  SendOutcome out;
  out.ec = ec;
  out.http_status = status;
  out.error_body = std::move(body);
  return out;
}

// Sleeps for `delay`; false when the wait was cancelled.
asio::awaitable<bool> pause(std::chrono::steady_clock::duration delay) {
  asio::steady_timer timer(co_await asio::this_coro::executor, delay);
  auto [ec] = co_await timer.async_wait(kTok);
  co_return !ec;
}

// Up to McpHttpClient::kMaxErrorBody bytes of a (failed) reply, for the error report.
asio::awaitable<std::string> bounded_body(HttpResponse& response) {
  std::string text;
  while (text.size() < McpHttpClient::kMaxErrorBody) {
    auto chunk = co_await response.read_some(McpHttpClient::kMaxErrorBody - text.size());
    if (!chunk || chunk->empty()) break;
    text += *chunk;
  }
  co_return text;
}

}  // namespace

const boost::system::error_category& mcp_http_category() noexcept {
  static const McpHttpCategory category;
  return category;
}

boost::system::error_code make_error_code(McpHttpErrc e) noexcept {
  return {static_cast<int>(e), mcp_http_category()};
}

const boost::system::error_category& http_status_category() noexcept {
  static const HttpStatusCategory category;
  return category;
}

boost::system::error_code make_http_status_error(unsigned status) noexcept {
  return {static_cast<int>(status), http_status_category()};
}

struct McpHttpClient::MessageInfo {
  bool is_request = false;  // a response is expected
  bool is_initialize = false;
  std::vector<json::value> ids;  // ids of the requests in the message (several for a batch)
};

McpHttpClient::MessageInfo McpHttpClient::classify(const json::value& message) {
  MessageInfo info;
  auto visit = [&](const json::value& v) {
    const auto* object = v.if_object();
    if (!object) return;
    const auto* method = object->if_contains("method");
    const auto* id = object->if_contains("id");
    if (method && method->is_string() && id && !id->is_null()) {
      info.is_request = true;
      info.ids.push_back(*id);
      if (method->get_string() == "initialize") info.is_initialize = true;
    }
  };
  if (const auto* batch = message.if_array()) {
    for (const auto& v : *batch) visit(v);
  } else {
    visit(message);
  }
  return info;
}

McpHttpClient::McpHttpClient(asio::any_io_executor executor,
                             std::shared_ptr<net::client::HttpClientPool> pool, Options options,
                             MessageHandler handler)
    : strand_(net::make_io_strand(executor)),
      pool_(std::move(pool)),
      options_(std::move(options)),
      handler_(std::move(handler)),
      mode_(options_.transport) {
  const bool need_pool =
      !pool_ || (options_.ca_file && pool_->options().ca_file != options_.ca_file);
  if (need_pool) {
    auto pool_options = pool_ ? pool_->options() : net::client::PoolOptions{};
    if (options_.ca_file) pool_options.ca_file = options_.ca_file;
    auto created = net::client::HttpClientPool::create(
        pool_ ? pool_->get_executor() : strand_.get_inner_executor(), std::move(pool_options));
    if (created) {
      pool_ = *created;
    } else {
      setup_error_ = created.error();
    }
  }
}

std::optional<std::string> McpHttpClient::session_id() const {
  std::lock_guard lock(mutex_);
  return session_id_;
}

Options::Transport McpHttpClient::transport() const {
  std::lock_guard lock(mutex_);
  return mode_;
}

void McpHttpClient::set_session(std::optional<std::string> id) {
  std::lock_guard lock(mutex_);
  session_id_ = std::move(id);
}

void McpHttpClient::remember_protocol_version(const Headers& extra) {
  for (const auto& [name, value] : extra) {
    if (iequals(name, "MCP-Protocol-Version")) protocol_version_ = value;
  }
}

McpHttpClient::Headers McpHttpClient::request_headers(const Headers& extra,
                                                      bool with_session) const {
  // Later entries win (the pool sets headers by name), so the caller's extras come last.
  Headers headers = options_.headers;
  if (with_session) {
    if (auto id = session_id()) headers.emplace_back("Mcp-Session-Id", std::move(*id));
  }
  if (protocol_version_ && !has_header(extra, "MCP-Protocol-Version")) {
    headers.emplace_back("MCP-Protocol-Version", *protocol_version_);
  }
  headers.insert(headers.end(), extra.begin(), extra.end());
  return headers;
}

bool McpHttpClient::deliver(std::string_view json_text, const MessageInfo* info,
                            std::vector<bool>* answered) {
  json::parse_options parse_options;
  parse_options.max_depth = kMaxJsonDepth;
  error_code ec;
  auto value = json::parse(json_text, ec, {}, parse_options);
  if (ec) {
    spdlog::warn("mcp upstream: dropped a malformed message from the server ({})", ec.message());
    return false;
  }
  auto handle = [&](json::value message) {
    if (info && answered) {
      for (std::size_t i = 0; i < info->ids.size(); ++i) {
        if ((*answered)[i] || !is_response_to(message, info->ids[i])) continue;
        (*answered)[i] = true;
        if (info->is_initialize) {
          const auto* result = message.as_object().if_contains("result");
          const auto* version = result && result->is_object()
                                    ? result->as_object().if_contains("protocolVersion")
                                    : nullptr;
          if (version && version->is_string()) protocol_version_ = version->as_string().c_str();
        }
      }
    }
    if (!handler_) return;
    try {
      handler_(std::move(message));
    } catch (const std::exception& e) {
      // The handler belongs to the caller; its failure must not tear down the transport.
      spdlog::error("mcp upstream: message handler threw: {}", e.what());
    }
  };
  if (value.is_array()) {
    for (auto& message : value.as_array()) handle(std::move(message));
  } else {
    handle(std::move(value));
  }
  return true;
}

void McpHttpClient::background_finished() {
  if (--background_ == 0 && background_idle_) background_idle_->cancel();
}

template <class T>
asio::awaitable<std::optional<T>> McpHttpClient::stoppable(asio::awaitable<T> op) {
  if (closed_) co_return std::nullopt;
  // One cancellation signal per operation, emitted by close() (on this strand) or forwarded
  // from our caller's cancellation: cheaper per call than racing the operation against a
  // stop timer, which costs a parallel group, two coroutine frames and a timer.
  asio::cancellation_signal stop;
  auto cs = co_await asio::this_coro::cancellation_state;
  const bool forwards = cs.slot().is_connected();
  if (forwards) cs.slot().assign([&stop](asio::cancellation_type type) { stop.emit(type); });
  const auto id = next_stop_id_++;
  stops_.emplace(id, &stop);
  std::optional<T> result;
  std::exception_ptr failure;
  try {
    result.emplace(co_await asio::co_spawn(strand_, std::move(op),
                                           asio::bind_cancellation_slot(stop.slot(), asio::use_awaitable)));
  } catch (...) {
    failure = std::current_exception();
  }
  stops_.erase(id);
  if (forwards) cs.slot().clear();
  if (failure) std::rethrow_exception(failure);
  if (closed_ || cs.cancelled() != asio::cancellation_type::none) co_return std::nullopt;
  co_return result;
}

// ---------------------------------------------------------------------------------------------
// send

asio::awaitable<error_code> McpHttpClient::send(json::value message, Headers extra_headers) {
  auto outcome = co_await send_detailed(std::move(message), std::move(extra_headers));
  co_return outcome.ec;
}

asio::awaitable<SendOutcome> McpHttpClient::send_detailed(json::value message,
                                                          Headers extra_headers) {
  auto cs = co_await asio::this_coro::cancellation_state;
  if (cancelled(cs)) co_return make_outcome(asio::error::operation_aborted);
  co_return co_await asio::co_spawn(
      strand_, send_on_strand(shared_from_this(), std::move(message), std::move(extra_headers)),
      asio::use_awaitable);
}

asio::awaitable<SendOutcome> McpHttpClient::send_on_strand(std::shared_ptr<McpHttpClient>,
                                                           json::value message, Headers extra) {
  co_await asio::this_coro::throw_if_cancelled(false);
  if (closed_) co_return make_outcome(make_error_code(McpHttpErrc::closed));
  if (setup_error_) co_return make_outcome(setup_error_);
  auto outcome = co_await stoppable(do_send(std::move(message), std::move(extra)));
  if (!outcome) {
    // The stop timer won the race: either close() fired it or our caller cancelled us.
    co_return make_outcome(closed_ ? make_error_code(McpHttpErrc::closed)
                                   : error_code(asio::error::operation_aborted));
  }
  co_return std::move(*outcome);
}

asio::awaitable<SendOutcome> McpHttpClient::do_send(json::value message, Headers extra) {
  co_await asio::this_coro::throw_if_cancelled(false);
  try {
    const auto deadline = Clock::now() + options_.request_timeout;
    remember_protocol_version(extra);
    const auto info = classify(message);
    auto body = json::serialize(message);
    if (body.size() > options_.max_message_bytes) {
      co_return make_outcome(make_error_code(McpHttpErrc::message_too_large));
    }
    const auto mode = transport();
    if (mode == Options::Transport::legacy_sse) {
      co_return co_await legacy_send(info, std::move(body), extra, deadline);
    }
    auto outcome = co_await streamable_send(info, body, extra, deadline);
    if (mode == Options::Transport::auto_detect) {
      const auto status = outcome.http_status;
      if (status == 400 || status == 404 || status == 405) {
        // Backwards compatibility (spec, 2025-03-26+): an old HTTP+SSE server rejects the POST;
        // GET the same URL and expect an `endpoint` event.
        auto legacy = co_await legacy_connect(deadline);
        if (legacy.ec) co_return outcome;  // not a legacy server either: report the first reply
        {
          std::lock_guard lock(mutex_);
          mode_ = Options::Transport::legacy_sse;
        }
        co_return co_await legacy_send(info, std::move(body), extra, deadline);
      }
      if (status >= 200 && status < 300) {
        std::lock_guard lock(mutex_);
        mode_ = Options::Transport::streamable;
      }
    }
    co_return outcome;
  } catch (const std::exception& e) {
    spdlog::error("mcp upstream: send failed unexpectedly: {}", e.what());
    co_return make_outcome(make_error_code(HttpClientErrc::protocol_error));
  }
}

asio::awaitable<SendOutcome> McpHttpClient::streamable_send(const MessageInfo& info,
                                                            std::string body, const Headers& extra,
                                                            Clock::time_point deadline) {
  HttpRequest request;
  request.method = beast_http::verb::post;
  request.url = options_.url;
  request.headers = {{"Accept", "application/json, text/event-stream"},
                     {"Content-Type", "application/json"}};
  auto headers = request_headers(extra, !info.is_initialize);
  request.headers.insert(request.headers.end(), headers.begin(), headers.end());
  request.body = std::move(body);
  request.connect_timeout = options_.connect_timeout;
  request.io_timeout = options_.request_timeout;
  request.deadline = deadline;
  request.max_body_bytes = std::numeric_limits<std::size_t>::max();  // bounded per message below

  auto response = co_await pool_->request(std::move(request));
  if (!response) co_return make_outcome(response.error());
  const unsigned status = response->status();
  if (status < 200 || status >= 300) {
    auto text = co_await bounded_body(*response);
    if (status == 404 && !info.is_initialize && session_id()) {
      set_session(std::nullopt);  // the caller re-initializes
      co_return make_outcome(make_error_code(McpHttpErrc::session_expired), status,
                             std::move(text));
    }
    co_return make_outcome(make_http_status_error(status), status, std::move(text));
  }
  if (info.is_initialize) {
    if (auto id = response->header("Mcp-Session-Id")) {
      if (!valid_session_id(*id)) {
        co_return make_outcome(make_error_code(McpHttpErrc::invalid_session_id), status);
      }
      set_session(std::string(*id));
    }
  }

  const auto type = response->content_type();
  if (type == "text/event-stream") {
    auto outcome = co_await consume_sse(std::move(*response), info, extra, deadline);
    outcome.http_status = status;
    co_return outcome;
  }
  auto text = co_await response->read_body(options_.max_message_bytes);
  if (!text) {
    co_return make_outcome(text.error() == HttpClientErrc::body_too_large
                               ? make_error_code(McpHttpErrc::message_too_large)
                               : text.error(),
                           status);
  }
  if (text->empty()) {
    // 202 Accepted is the reply to notifications and responses; a request needs an answer.
    co_return make_outcome(
        info.is_request ? make_error_code(McpHttpErrc::no_response) : error_code{}, status);
  }
  if (type != "application/json") {
    co_return make_outcome(make_error_code(McpHttpErrc::unexpected_content_type), status);
  }
  std::vector<bool> answered(info.ids.size(), false);
  if (!deliver(*text, &info, &answered)) {
    co_return make_outcome(make_error_code(McpHttpErrc::invalid_message), status);
  }
  if (!std::all_of(answered.begin(), answered.end(), std::identity{})) {
    co_return make_outcome(make_error_code(McpHttpErrc::no_response), status);
  }
  co_return make_outcome({}, status);
}

asio::awaitable<SendOutcome> McpHttpClient::consume_sse(HttpResponse response,
                                                        const MessageInfo& info,
                                                        const Headers& extra,
                                                        Clock::time_point deadline) {
  auto cs = co_await asio::this_coro::cancellation_state;
  SseParser parser(options_.max_message_bytes);
  std::vector<bool> answered(info.ids.size(), false);
  auto all_answered = [&] {
    return std::all_of(answered.begin(), answered.end(), std::identity{});
  };
  std::optional<HttpResponse> current(std::move(response));

  for (int resumes = 0;;) {
    // Read this stream to its end; every read is bounded by the request deadline.
    error_code end;
    bool grace = false;
    while (true) {
      if (cancelled(cs)) co_return make_outcome(asio::error::operation_aborted);
      if (!grace && all_answered()) {
        current->set_deadline(std::min(deadline, Clock::now() + kResponseGrace));
        grace = true;
      }
      auto chunk = co_await current->read_some();
      if (!chunk) {
        end = chunk.error();
        break;
      }
      if (chunk->empty()) break;
      std::vector<SseEvent> events;
      const auto parse_ec = parser.feed(*chunk, events);
      for (const auto& event : events) {
        if (event.event == "message") deliver(event.data, &info, &answered);
      }
      if (parse_ec) co_return make_outcome(make_error_code(McpHttpErrc::message_too_large));
    }
    if (all_answered()) co_return make_outcome();  // a slow tail after the response is no error
    if (end == asio::error::operation_aborted) co_return make_outcome(end);
    if (parser.last_event_id().empty()) {
      co_return make_outcome(end ? end : make_error_code(McpHttpErrc::no_response));
    }

    // The stream closed before the response (2025-11-25 polling): resume it with
    // GET + Last-Event-ID after the server's `retry`, until the response or the deadline.
    current.reset();
    while (!current) {
      if (Clock::now() >= deadline)
        co_return make_outcome(make_error_code(HttpClientErrc::timeout));
      if (++resumes > kMaxResumes)
        co_return make_outcome(make_error_code(McpHttpErrc::no_response));
      const auto delay = std::min<Clock::duration>(
          parser.reconnection_time().value_or(kDefaultRetry), deadline - Clock::now());
      if (cancelled(cs) || !co_await pause(delay)) {
        co_return make_outcome(asio::error::operation_aborted);
      }
      if (Clock::now() >= deadline)
        co_return make_outcome(make_error_code(HttpClientErrc::timeout));

      HttpRequest request;
      request.method = beast_http::verb::get;
      request.url = options_.url;
      Headers get_extra;
      for (const auto& header : extra) {
        // Method-describing headers belong to the POST, not to the resumption GET.
        if (!iequals(header.first, "Mcp-Method") && !iequals(header.first, "Mcp-Name")) {
          get_extra.push_back(header);
        }
      }
      request.headers = {{"Accept", "text/event-stream"}};
      auto headers = request_headers(get_extra, true);
      request.headers.insert(request.headers.end(), headers.begin(), headers.end());
      request.headers.emplace_back("Last-Event-ID", parser.last_event_id());
      request.connect_timeout = options_.connect_timeout;
      request.io_timeout = options_.request_timeout;
      request.deadline = deadline;
      request.max_body_bytes = std::numeric_limits<std::size_t>::max();
      auto resumed = co_await pool_->request(std::move(request));
      if (!resumed) {
        if (resumed.error() == asio::error::operation_aborted)
          co_return make_outcome(resumed.error());
        continue;  // transient failure: try again after the delay, until the deadline
      }
      const unsigned status = resumed->status();
      if (status < 200 || status >= 300) {
        auto text = co_await bounded_body(*resumed);
        if (status == 404 && session_id()) {
          set_session(std::nullopt);
          co_return make_outcome(make_error_code(McpHttpErrc::session_expired), status,
                                 std::move(text));
        }
        if (status == 405) {
          co_return make_outcome(make_error_code(McpHttpErrc::no_response), status,
                                 std::move(text));
        }
        co_return make_outcome(make_http_status_error(status), status, std::move(text));
      }
      if (resumed->content_type() != "text/event-stream") {
        co_return make_outcome(make_error_code(McpHttpErrc::unexpected_content_type), status);
      }
      parser.reset_stream();
      current.emplace(std::move(*resumed));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Legacy HTTP+SSE (2024-11-05)

asio::awaitable<SendOutcome> McpHttpClient::legacy_connect(Clock::time_point deadline) {
  HttpRequest request;
  request.method = beast_http::verb::get;
  request.url = options_.url;
  request.headers = {{"Accept", "text/event-stream"}};
  request.headers.insert(request.headers.end(), options_.headers.begin(), options_.headers.end());
  request.connect_timeout = options_.connect_timeout;
  request.io_timeout = options_.request_timeout;
  request.deadline = deadline;
  request.max_body_bytes = std::numeric_limits<std::size_t>::max();
  auto response = co_await pool_->request(std::move(request));
  if (!response) co_return make_outcome(response.error());
  const unsigned status = response->status();
  if (status < 200 || status >= 300) {
    auto text = co_await bounded_body(*response);
    co_return make_outcome(make_http_status_error(status), status, std::move(text));
  }
  if (response->content_type() != "text/event-stream") {
    co_return make_outcome(make_error_code(McpHttpErrc::unexpected_content_type), status);
  }

  SseParser parser(options_.max_message_bytes);
  std::optional<std::string> endpoint;
  while (!endpoint) {  // bounded by the deadline: every read has it
    auto chunk = co_await response->read_some();
    if (!chunk) co_return make_outcome(chunk.error(), status);
    if (chunk->empty()) co_return make_outcome(make_error_code(McpHttpErrc::no_endpoint), status);
    std::vector<SseEvent> events;
    const auto parse_ec = parser.feed(*chunk, events);
    for (const auto& event : events) {
      if (!endpoint && event.event == "endpoint") {
        endpoint = event.data;
      } else if (event.event == "message") {
        deliver(event.data, nullptr, nullptr);
      }
    }
    if (parse_ec) co_return make_outcome(make_error_code(McpHttpErrc::message_too_large), status);
  }

  const auto base = boost::urls::parse_uri(options_.url);
  const auto reference = boost::urls::parse_uri_reference(*endpoint);
  boost::urls::url target;
  if (!base || !reference || !boost::urls::resolve(*base, *reference, target)) {
    co_return make_outcome(make_error_code(McpHttpErrc::no_endpoint), status);
  }
  // The endpoint comes from the server: never let it redirect our traffic (and headers) elsewhere.
  if (!same_origin(*base, target)) {
    co_return make_outcome(make_error_code(McpHttpErrc::endpoint_origin_mismatch), status);
  }
  target.remove_fragment();
  legacy_endpoint_ = std::string(target.buffer());
  legacy_alive_ = true;

  response->set_deadline(std::nullopt);
  response->set_io_timeout(options_.stream_idle_timeout);
  asio::co_spawn(strand_,
                 legacy_reader(shared_from_this(), std::move(*response), std::move(parser)),
                 asio::detached);
  co_return make_outcome({}, status);
}

asio::awaitable<void> McpHttpClient::legacy_reader(std::shared_ptr<McpHttpClient>,
                                                   HttpResponse response, SseParser parser) {
  co_await asio::this_coro::throw_if_cancelled(false);
  background_started();
  auto pump = [](McpHttpClient* self, HttpResponse& stream,
                 SseParser& sse) -> asio::awaitable<error_code> {
    co_await asio::this_coro::throw_if_cancelled(false);
    while (true) {  // until the server ends the stream, it stays idle too long, or close()
      auto chunk = co_await stream.read_some();
      if (!chunk) co_return chunk.error();
      if (chunk->empty()) co_return error_code{};
      std::vector<SseEvent> events;
      const auto parse_ec = sse.feed(*chunk, events);
      for (const auto& event : events) {
        if (event.event == "message") self->deliver(event.data, nullptr, nullptr);
      }
      if (parse_ec) co_return make_error_code(McpHttpErrc::message_too_large);
    }
  };
  auto ended = co_await stoppable(pump(this, response, parser));
  if (ended && *ended) spdlog::warn("mcp upstream: legacy SSE stream failed: {}", ended->message());
  // Without its stream a legacy session is gone; later sends report session_expired.
  legacy_alive_ = false;
  background_finished();
}

asio::awaitable<SendOutcome> McpHttpClient::legacy_send(const MessageInfo& info, std::string body,
                                                        const Headers& extra,
                                                        Clock::time_point deadline) {
  if (!legacy_alive_) {
    if (legacy_endpoint_ && !info.is_initialize) {
      co_return make_outcome(make_error_code(McpHttpErrc::session_expired));
    }
    auto connected = co_await legacy_connect(deadline);
    if (connected.ec) co_return connected;
  }
  HttpRequest request;
  request.method = beast_http::verb::post;
  request.url = *legacy_endpoint_;
  request.headers = {{"Accept", "application/json, text/event-stream"},
                     {"Content-Type", "application/json"}};
  request.headers.insert(request.headers.end(), options_.headers.begin(), options_.headers.end());
  request.headers.insert(request.headers.end(), extra.begin(), extra.end());
  request.body = std::move(body);
  request.connect_timeout = options_.connect_timeout;
  request.io_timeout = options_.request_timeout;
  request.deadline = deadline;
  request.max_body_bytes = std::numeric_limits<std::size_t>::max();
  auto response = co_await pool_->request(std::move(request));
  if (!response) co_return make_outcome(response.error());
  const unsigned status = response->status();
  auto text = co_await bounded_body(*response);  // "Accepted"; replies come on the stream
  if (status < 200 || status >= 300) {
    const auto ec = status == 404 ? make_error_code(McpHttpErrc::session_expired)
                                  : make_http_status_error(status);
    co_return make_outcome(ec, status, std::move(text));
  }
  co_return make_outcome({}, status);
}

// ---------------------------------------------------------------------------------------------
// Standalone GET stream

void McpHttpClient::open_listen_stream() {
  asio::co_spawn(strand_, listen_task(shared_from_this()), asio::detached);
}

asio::awaitable<void> McpHttpClient::listen_task(std::shared_ptr<McpHttpClient>) {
  co_await asio::this_coro::throw_if_cancelled(false);
  if (closed_ || setup_error_ || listen_started_ || transport() == Options::Transport::legacy_sse) {
    co_return;
  }
  listen_started_ = true;
  background_started();
  auto ended = co_await stoppable(listen_loop());
  if (ended && *ended) spdlog::info("mcp upstream: listen stream ended: {}", ended->message());
  listen_started_ = false;
  background_finished();
}

asio::awaitable<error_code> McpHttpClient::listen_loop() {
  co_await asio::this_coro::throw_if_cancelled(false);
  auto cs = co_await asio::this_coro::cancellation_state;
  SseParser parser(options_.max_message_bytes);
  auto backoff = std::chrono::duration_cast<std::chrono::milliseconds>(kDefaultRetry);
  // Runs until close() stops it or the server says it has no such stream; every pass waits on
  // the server or on the backoff timer.
  while (!closed_) {
    if (cancelled(cs)) co_return asio::error::operation_aborted;
    HttpRequest request;
    request.method = beast_http::verb::get;
    request.url = options_.url;
    request.headers = {{"Accept", "text/event-stream"}};
    auto headers = request_headers({}, true);
    request.headers.insert(request.headers.end(), headers.begin(), headers.end());
    if (!parser.last_event_id().empty()) {
      request.headers.emplace_back("Last-Event-ID", parser.last_event_id());
    }
    request.connect_timeout = options_.connect_timeout;
    request.io_timeout = options_.request_timeout;
    request.max_body_bytes = std::numeric_limits<std::size_t>::max();
    auto response = co_await pool_->request(std::move(request));
    bool received = false;
    if (!response) {
      if (response.error() == asio::error::operation_aborted) co_return response.error();
    } else {
      const unsigned status = response->status();
      if (status == 405) co_return error_code{};  // the server offers no standalone stream
      if (status == 404 && session_id()) {
        set_session(std::nullopt);
        co_return make_error_code(McpHttpErrc::session_expired);
      }
      if (status >= 400 && status < 500 && status != 409 && status != 429) {
        co_return make_http_status_error(status);  // retrying would not change the answer
      }
      if (status >= 200 && status < 300) {
        if (response->content_type() != "text/event-stream") {
          co_return make_error_code(McpHttpErrc::unexpected_content_type);
        }
        response->set_io_timeout(options_.stream_idle_timeout);
        parser.reset_stream();
        while (true) {
          if (cancelled(cs)) co_return asio::error::operation_aborted;
          auto chunk = co_await response->read_some();
          if (!chunk) {
            if (chunk.error() == asio::error::operation_aborted) co_return chunk.error();
            break;
          }
          if (chunk->empty()) break;
          received = true;
          std::vector<SseEvent> events;
          const auto parse_ec = parser.feed(*chunk, events);
          for (const auto& event : events) {
            if (event.event == "message") deliver(event.data, nullptr, nullptr);
          }
          if (parse_ec) break;  // reconnect; Last-Event-ID skips what was delivered
        }
      }
    }
    if (received) backoff = std::chrono::duration_cast<std::chrono::milliseconds>(kDefaultRetry);
    const auto delay =
        std::min(parser.reconnection_time().value_or(backoff), options_.max_reconnect_delay);
    backoff = std::min(backoff * 2, options_.max_reconnect_delay);
    if (cancelled(cs) || !co_await pause(delay)) co_return asio::error::operation_aborted;
  }
  co_return error_code{};
}

// ---------------------------------------------------------------------------------------------
// close

asio::awaitable<void> McpHttpClient::close() {
  auto cs = co_await asio::this_coro::cancellation_state;
  if (cancelled(cs)) co_return;
  co_await asio::co_spawn(strand_, close_on_strand(shared_from_this()), asio::use_awaitable);
}

asio::awaitable<void> McpHttpClient::close_on_strand(std::shared_ptr<McpHttpClient>) {
  co_await asio::this_coro::throw_if_cancelled(false);
  if (closed_) co_return;
  closed_ = true;
  // Emitting may complete an operation inline, which erases it from stops_: copy first.
  std::vector<asio::cancellation_signal*> stops;
  for (auto& [id, stop] : stops_) stops.push_back(stop);
  for (auto* stop : stops) stop->emit(asio::cancellation_type::terminal);

  if (auto id = session_id(); id && pool_ && transport() != Options::Transport::legacy_sse) {
    HttpRequest request;
    request.method = beast_http::verb::delete_;
    request.url = options_.url;
    request.headers = request_headers({}, true);
    request.connect_timeout = options_.connect_timeout;
    request.io_timeout = options_.request_timeout;
    request.deadline = Clock::now() + options_.request_timeout;
    request.max_body_bytes = kMaxErrorBody;
    auto response = co_await pool_->fetch(std::move(request));
    // 405: the server does not let clients end sessions; nothing more to do either way.
    if (!response) {
      spdlog::info("mcp upstream: session DELETE failed: {}", response.error().message());
    }
    set_session(std::nullopt);
  }

  if (background_ > 0) {
    background_idle_ = std::make_shared<asio::steady_timer>(strand_, Clock::now() + kCloseWait);
    co_await background_idle_->async_wait(kTok);
    background_idle_.reset();
  }
}

}  // namespace bastion::upstream::http

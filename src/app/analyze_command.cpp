#include "app/analyze_command.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <filesystem>
#include <ostream>

#include "app/recording.hpp"
#include "core/secrets.hpp"
#include "core/units.hpp"
#include "observe/analyzer.hpp"
#include "record/analysis/store_analysis.hpp"
#include "record/store_url.hpp"

namespace bastion::app {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

constexpr auto kMaxWindow = std::chrono::hours(24 * 3650);
constexpr std::size_t kMaxReplyBytes = 16u << 20;

struct HostPort {
  std::string host, port;
};

// "127.0.0.1:8123", "[::1]:8123", "0.0.0.0:8123" (wildcards are reached on loopback).
std::optional<HostPort> split_address(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 >= address.size()) return std::nullopt;
  HostPort hp{address.substr(0, colon), address.substr(colon + 1)};
  if (hp.host.size() >= 2 && hp.host.front() == '[' && hp.host.back() == ']') {
    hp.host = hp.host.substr(1, hp.host.size() - 2);
  }
  if (hp.host.empty() || hp.host == "0.0.0.0" || hp.host == "*") hp.host = "127.0.0.1";
  if (hp.host == "::") hp.host = "::1";
  return hp;
}

struct Reply {
  std::string failed;  // what went wrong, or empty
  unsigned status = 0;
  std::string body;
};

asio::awaitable<Reply> http_get(HostPort where, std::string target,
                                std::optional<std::string> token,
                                std::chrono::milliseconds connect_timeout,
                                std::chrono::milliseconds reply_timeout) {
  constexpr auto tok = asio::as_tuple(asio::use_awaitable);
  Reply out;
  auto ex = co_await asio::this_coro::executor;
  tcp::resolver resolver(ex);
  auto [rec, endpoints] = co_await resolver.async_resolve(where.host, where.port, tok);
  if (rec) {
    out.failed = "cannot resolve " + where.host + ": " + rec.message();
    co_return out;
  }
  beast::tcp_stream stream(ex);
  stream.expires_after(connect_timeout);
  auto [cec, ep] = co_await stream.async_connect(endpoints, tok);
  if (cec) {
    out.failed = cec == beast::error::timeout
                     ? "no answer within " + std::to_string(connect_timeout.count()) + " ms"
                     : cec.message();
    co_return out;
  }
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, where.host + ":" + where.port);
  req.set(http::field::accept, "application/json");
  if (token) req.set(http::field::authorization, "Bearer " + *token);
  stream.expires_after(reply_timeout);
  auto [wec, written] = co_await http::async_write(stream, req, tok);
  if (wec) {
    out.failed = "cannot send the request: " + wec.message();
    co_return out;
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxReplyBytes);
  auto [rdec, read] = co_await http::async_read(stream, buffer, parser, tok);
  if (rdec) {
    out.failed = "no complete reply: " + rdec.message();
    co_return out;
  }
  out.status = parser.get().result_int();
  out.body = std::move(parser.get().body());
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  co_return out;
}

// The sqlite file of the configured store, when the store is SQLite.
std::optional<std::string> sqlite_file(const core::Config& config) {
  auto parsed = record::parse_store_url(store_url(config));
  if (!parsed || parsed->kind != record::StoreKind::sqlite || parsed->path == ":memory:") {
    return std::nullopt;
  }
  return parsed->path;
}

void print(const observe::AnalysisReport& report, bool as_json, std::ostream& out) {
  if (as_json) {
    out << boost::json::serialize(observe::to_json(report)) << '\n';
  } else {
    out << observe::to_text(report);
  }
  out << std::flush;
}

}  // namespace

std::optional<std::chrono::seconds> parse_window(const std::string& text, std::string& error) {
  auto fail = [&](std::string why) {
    error = "--window: " + why + " (use e.g. 90s, 30m, 1h, 7d)";
    return std::nullopt;
  };
  if (text.empty()) return fail("empty");
  // core::parse_duration reads a bare number as milliseconds, which is never what is meant here.
  if (text.find_first_not_of("0123456789.") == std::string::npos) {
    return fail("\"" + text + "\" has no unit");
  }
  auto parsed = core::parse_duration(text);
  if (!parsed) return fail("\"" + text + "\" is not a duration");
  if (*parsed < std::chrono::seconds(1) || *parsed > kMaxWindow) {
    return fail("\"" + text + "\" is outside 1s .. 3650d");
  }
  return std::chrono::duration_cast<std::chrono::seconds>(*parsed);
}

LiveAnalysis fetch_live_analysis(const core::Config& config, std::chrono::seconds window,
                                 std::chrono::milliseconds connect_timeout,
                                 std::chrono::milliseconds reply_timeout) {
  LiveAnalysis live;
  if (!config.listen.admin) {
    live.why_not = "the admin listener is off in the configuration";
    return live;
  }
  const std::string& address = config.listen.admin->address;
  auto where = split_address(address);
  if (!where) {
    live.why_not = "the admin address " + address + " is not host:port";
    return live;
  }
  if (where->port == "0") {
    live.why_not = "the admin listener's port is chosen at start (port 0)";
    return live;
  }
  std::optional<std::string> token;
  if (auto path = core::secret_file_path(config.listen.admin_token_file, "ADMIN_TOKEN")) {
    auto read = core::read_secret_file(*path);
    if (!read.value) {
      live.why_not = "the admin token cannot be read: " + read.error;
      return live;
    }
    token = std::move(read.value);
  }
  const std::string url = "http://" + address + "/api/v1/analysis";
  Reply reply;
  try {
    asio::io_context ioc;
    asio::co_spawn(
        ioc,
        http_get(*where, "/api/v1/analysis?window=" + std::to_string(window.count()) + "s", token,
                 connect_timeout, reply_timeout),
        [&](std::exception_ptr e, Reply r) {
          if (e) {
            reply.failed = "request failed";
          } else {
            reply = std::move(r);
          }
        });
    ioc.run();
  } catch (const std::exception& e) {
    reply.failed = e.what();
  }
  if (!reply.failed.empty()) {
    live.why_not = "the gateway is not reachable at " + url + " (" + reply.failed + ")";
    return live;
  }
  if (reply.status == 401 || reply.status == 403) {
    live.why_not = "the gateway at " + url + " refused the request (HTTP " +
                   std::to_string(reply.status) + "; is the admin token configured?)";
    return live;
  }
  if (reply.status != 200) {
    live.why_not = "the gateway at " + url + " answered HTTP " + std::to_string(reply.status);
    return live;
  }
  boost::system::error_code ec;
  auto doc = boost::json::parse(reply.body, ec);
  if (ec || !observe::report_from_json(doc)) {
    live.why_not = "the gateway at " + url + " did not answer with an analysis report";
    return live;
  }
  live.report = std::move(doc);
  return live;
}

int run_analyze(const core::Config& config, const AnalyzeOptions& options, std::ostream& out,
                std::ostream& err) {
  std::string error;
  auto window = parse_window(options.window, error);
  if (!window) {
    err << error << '\n';
    return 2;
  }

  auto live = fetch_live_analysis(config, *window, options.connect_timeout, options.reply_timeout);
  if (live.report) {
    if (options.json) {
      out << boost::json::serialize(*live.report) << '\n' << std::flush;
    } else {
      out << observe::to_text(*observe::report_from_json(*live.report)) << std::flush;
    }
    return 0;
  }

  const std::string missing = live.why_not + ", so memory and queueing are not included";
  auto until = record::Clock::now();
  auto since = until - *window;
  if (auto file = sqlite_file(config); file && !std::filesystem::exists(*file)) {
    observe::AnalysisInput empty;
    empty.source = "store";
    empty.window_seconds = static_cast<double>(window->count());
    empty.notes = {missing, "there is no store at " + *file + " yet: nothing has been recorded"};
    print(observe::analyze(empty), options.json, out);
    return 0;
  }
  auto store = open_store(config);
  if (auto* e = std::get_if<std::string>(&store)) {
    err << "analyze: " << *e << '\n';
    return 1;
  }
  auto analysis = record::analyze_store(*std::get<0>(store), since, until);
  if (!analysis.status.ok) {
    err << "analyze: " << analysis.status.error << '\n';
    return 1;
  }
  analysis.input.window_seconds = static_cast<double>(window->count());
  analysis.input.notes.insert(analysis.input.notes.begin(), missing);
  print(observe::analyze(analysis.input), options.json, out);
  return 0;
}

}  // namespace bastion::app

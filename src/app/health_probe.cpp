#include "app/health_probe.hpp"

#include "core/secrets.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url.hpp>
#include <iostream>

namespace bastion::app {

int probe_health(const std::string& url) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed || parsed->scheme() != "http") {
    std::cerr << "health: expected an http:// URL\n";
    return 1;
  }
  try {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    std::string port = parsed->has_port() ? std::string(parsed->port()) : "80";
    stream.expires_after(std::chrono::seconds(5));
    stream.connect(resolver.resolve(std::string(parsed->host()), port));
    std::string target = parsed->encoded_path().empty() ? "/" : std::string(parsed->encoded_path());
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, std::string(parsed->host()) + ":" + port);
    // The admin listener wants its token when it is not on loopback (containers): the same
    // secret file the server reads, never a command-line argument.
    if (auto path = core::secret_file_path(std::nullopt, "ADMIN_TOKEN")) {
      if (auto token = core::read_secret_file(*path); token.value) {
        req.set(http::field::authorization, "Bearer " + *token.value);
      }
    }
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(1 << 20);
    http::read(stream, buffer, parser);
    auto& res = parser.get();
    if (res.result_int() / 100 != 2) {
      std::cerr << "health: HTTP " << res.result_int() << "\n";
      return 1;
    }
    boost::system::error_code ec;
    auto doc = boost::json::parse(res.body(), ec);
    if (!ec && doc.is_object()) {
      auto* status = doc.as_object().if_contains("status");
      if (status && status->is_string() && status->get_string() == "fail") {
        std::cerr << "health: status fail\n";
        return 1;
      }
    }
    std::cout << "pass\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "health: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace bastion::app

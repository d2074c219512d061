// Test-only: HttpServer with TLS answering 200 to everything, for TLS scanners (sslscan, testssl).
// Usage: tls_echo_server CERT_FILE KEY_FILE [ADDRESS (default 127.0.0.1:0)] [PORT_FILE]
// Writes the bound port to PORT_FILE (atomically) once listening; SIGTERM/SIGINT stop it.
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "net/server/http_server.hpp"
#include "net/tls/tls_server_context.hpp"

namespace asio = boost::asio;
using namespace bastion;

int main(int argc, char** argv) {
  if (argc < 3 || argc > 5) {
    std::fprintf(stderr, "usage: %s CERT_FILE KEY_FILE [ADDRESS] [PORT_FILE]\n", argv[0]);
    return 2;
  }
  net::tls::TlsServerOptions options;
  options.cert_file = argv[1];
  options.key_file = argv[2];
  const std::string address = argc > 3 ? argv[3] : "127.0.0.1:0";
  auto created = net::tls::TlsContextProvider::create(options);
  if (!created.provider) {
    std::fprintf(stderr, "tls_echo_server: %s\n", created.error.c_str());
    return 1;
  }
  asio::io_context ioc;
  net::ServerLimits limits;
  auto server = std::make_shared<net::HttpServer>(
      ioc, "public", limits,
      [](net::Request& req, net::ResponseWriter& w,
         const net::ConnectionInfo&) -> asio::awaitable<void> {
        auto res = net::text_response(net::http::status::ok, "ok");
        // As Bastion's default security headers do on the public listener.
        res.set(net::http::field::strict_transport_security, "max-age=31536000; includeSubDomains");
        res.set("x-content-type-options", "nosniff");
        if (req.method() == net::http::verb::head) res.body().clear();
        co_await w.send(std::move(res));
      },
      created.provider);
  auto bound = server->bind(address);
  if (!bound) {
    std::fprintf(stderr, "tls_echo_server: cannot listen on %s: %s\n", address.c_str(),
                 bound.error().message().c_str());
    return 1;
  }
  server->start();
  created.provider->watch(ioc.get_executor());
  if (argc > 4) {
    const std::filesystem::path port_file = argv[4];
    auto tmp = port_file;
    tmp += ".tmp";
    std::ofstream(tmp) << bound->port() << "\n";
    std::filesystem::rename(tmp, port_file);
  }
  std::printf("listening on %s:%u\n", bound->address().to_string().c_str(), bound->port());
  std::fflush(stdout);

  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) return;
    created.provider->stop_watching();
    asio::co_spawn(ioc, server->shutdown(std::chrono::milliseconds(1000)),
                   [&](std::exception_ptr) { ioc.stop(); });
  });
  ioc.run();
  return 0;
}

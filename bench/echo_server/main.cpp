// bastion-bench-echo: a fast, stateless Streamable-HTTP MCP server with one tool, `echo`, used
// as the upstream in Bastion's benchmarks (bench/run.sh). Binds 127.0.0.1 only. Prints the bound
// port as the first line of stdout, then serves until SIGINT or SIGTERM. With --auth-token-file
// it also answers nginx's auth_request on /auth (the small auth service of the nginx benchmark).
#include <CLI/CLI.hpp>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "echo_server/echo_server.hpp"

int main(int argc, char** argv) {
  bastion::bench::ServerOptions options;
  bastion::bench::EchoOptions echo;
  CLI::App app{"Stateless Streamable-HTTP MCP echo server for benchmarks (127.0.0.1 only)"};
  app.add_option("--port", options.port, "TCP port; 0 picks a free one (printed on stdout)");
  app.add_option("--threads", options.threads, "Worker threads; 0 = one per CPU this process may use")
      ->capture_default_str();
  app.add_option("--path", echo.path, "The MCP endpoint path")->capture_default_str();
  std::string token_file;
  app.add_option("--auth-token-file", token_file,
                 "Answer /auth with 204 for 'Authorization: Bearer <the token in FILE>', else 401")
      ->check(CLI::ExistingFile);
  CLI11_PARSE(app, argc, argv);
  if (!token_file.empty()) {
    std::ifstream in(token_file);
    std::stringstream text;
    text << in.rdbuf();
    echo.auth_token = text.str();
    // A file written by echo or an editor ends in a newline that is no part of the token.
    while (!echo.auth_token.empty() && std::isspace(static_cast<unsigned char>(echo.auth_token.back()))) {
      echo.auth_token.pop_back();
    }
    if (echo.auth_token.empty()) {
      std::fprintf(stderr, "bastion-bench-echo: %s holds no token\n", token_file.c_str());
      return 2;
    }
  }

  // Signals are taken by a dedicated thread with sigwait, so the workers never see them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  bastion::bench::EchoServer server(options, echo);
  auto port = server.bind();
  if (!port) {
    std::fprintf(stderr, "bastion-bench-echo: cannot listen on 127.0.0.1:%u: %s\n", options.port,
                 port.error().message().c_str());
    return 1;
  }
  std::printf("%u\n", static_cast<unsigned>(*port));
  std::fflush(stdout);

  std::thread waiter([&server, signals] {
    int received = 0;
    sigwait(&signals, &received);
    server.stop();
  });
  server.run();
  // run() only returns after stop(), which only the waiter calls.
  waiter.join();
  return 0;
}

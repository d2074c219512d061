#pragma once
// HTTP/1.1 keep-alive front of bastion-bench-echo: one io_context per thread, each with its own
// SO_REUSEPORT acceptor on the same loopback port, so threads share nothing and the kernel
// spreads connections across them. One coroutine per connection; a timeout on every read and
// write; header, body and connection limits.
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "echo_server/echo_protocol.hpp"

namespace bastion::bench {

struct ServerOptions {
  std::string address = "127.0.0.1";  // loopback only: this is a benchmark peer
  std::uint16_t port = 0;             // 0 = ephemeral
  unsigned threads = 0;               // 0 = the CPUs this process may run on
  std::chrono::milliseconds idle_timeout{60'000};   // between requests on a connection
  std::chrono::milliseconds write_timeout{10'000};
  std::uint32_t max_header_bytes = 16 << 10;
  std::uint64_t max_body_bytes = 1 << 20;
  std::uint32_t max_connections = 20'000;
};

// CPUs in this process's affinity mask (what taskset allows), at least 1.
unsigned available_cpus();

class EchoServer {
 public:
  EchoServer(ServerOptions options, EchoOptions echo);
  ~EchoServer();
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;

  // Binds every thread's acceptor; returns the bound port (the same for all of them).
  boost::system::result<std::uint16_t> bind();
  // Serves on `threads` threads (the caller's thread is one of them) until stop().
  void run();
  // Thread-safe; makes run() return.
  void stop();

  std::size_t connections() const;
  std::uint64_t requests() const;

  // What every connection coroutine shares; owned jointly so no coroutine holds a raw `this`.
  struct Shared {
    Shared(ServerOptions o, EchoOptions e) : options(std::move(o)), service(std::move(e)) {}
    const ServerOptions options;
    const EchoService service;
    std::atomic<std::size_t> connections{0};
    std::atomic<std::uint64_t> requests{0};
  };

 private:
  struct Worker;

  std::shared_ptr<Shared> shared_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace bastion::bench

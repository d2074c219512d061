#pragma once
// A Link over one supervised stdio process (newline-delimited JSON-RPC).
#include <boost/asio/awaitable.hpp>

#include "core/config.hpp"
#include "upstream/link.hpp"
#include "upstream/stdio/stdio_process.hpp"

namespace bastion::upstream {

class StdioLink final : public Link {
 public:
  StdioLink(boost::asio::any_io_executor ex, const core::UpstreamConfig& config, int replica);
  ~StdioLink() override;

  // Spawns the process. The MCP handshake is the caller's (Bastion's own, or a client's).
  boost::system::result<void> spawn();
  boost::asio::awaitable<void> stop();
  pid_t pid() const;
  int replica() const { return replica_; }
  std::uint64_t dropped_lines() const { return dropped_lines_; }

 protected:
  bool transmit(json::object message, const ForwardHeaders& headers) override;

 private:
  std::shared_ptr<stdio::StdioProcess> process_;
  int replica_;
  std::atomic<std::uint64_t> dropped_lines_{0};
};

}  // namespace bastion::upstream

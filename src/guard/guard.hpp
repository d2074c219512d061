#pragma once
// Request guards: small checks that run, in one declared order, before any MCP routing. Each
// returns a Rejection value instead of answering itself; reject() is the one place that turns a
// rejection into an HTTP reply and counts it with its reason.
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "net/server/http_server.hpp"

namespace bastion::guard {

struct Rejection {
  net::http::status status;
  std::string reason;   // stable label for counters and logs, e.g. "origin_not_allowed"
  std::string message;  // for the client
};

struct RequestContext {
  const net::Request& request;
  const net::ConnectionInfo& connection;
};

class Guard {
 public:
  virtual ~Guard() = default;
  virtual std::string_view name() const = 0;
  virtual std::optional<Rejection> check(const RequestContext& ctx) const = 0;
};

// Counts rejections by reason (exported as metrics later).
class RejectionCounters {
 public:
  void add(const std::string& reason);
  std::map<std::string, std::uint64_t> snapshot() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::uint64_t> counts_;
};

class GuardChain {
 public:
  // The order guards run in, with the reason for each position, lives in this function.
  static GuardChain standard(const core::Config& config);
  std::optional<Rejection> run(const RequestContext& ctx) const;
  std::vector<std::string_view> names() const;

 private:
  std::vector<std::unique_ptr<Guard>> guards_;
};

// The one reply function for rejections: status, JSON-RPC error body, headers, counter.
net::Response reject(const Rejection& rejection, RejectionCounters& counters, unsigned version = 11);

// Host/Origin validation against DNS rebinding (MCP transport security requirement).
class OriginGuard final : public Guard {
 public:
  explicit OriginGuard(core::OriginsConfig config);
  std::string_view name() const override { return "origin"; }
  std::optional<Rejection> check(const RequestContext& ctx) const override;

  static bool is_loopback_host(std::string_view host_header);

 private:
  core::OriginsConfig config_;
};

}  // namespace bastion::guard

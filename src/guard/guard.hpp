#pragma once
// Request guards: small checks that run, in one declared order (GuardChain::standard), before
// any MCP routing. Each returns a Rejection value instead of answering itself; reject() is the
// one place that turns a rejection into an HTTP reply and counts it with its reason.
#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/cidr.hpp"
#include "core/config.hpp"
#include "net/server/http_server.hpp"

namespace bastion::guard {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct Rejection {
  net::http::status status;
  std::string reason;   // stable label for counters and logs, e.g. "origin_not_allowed"
  std::string message;  // for the client
  HeaderList headers = {};  // e.g. Retry-After, WWW-Authenticate
  int jsonrpc_code = -32000;
};

// Who is calling, as established by the guards that ran so far.
struct Caller {
  std::string name = "anonymous";   // token name, JWT subject, or auth_request user
  std::string kind;                 // "", "token", "jwt", "auth_request"
  std::vector<std::string> scopes;
  std::vector<std::string> tools;   // allowed tools (globs); empty = all
  bool authenticated = false;
};

// One JSON-RPC request of the body, as far as guards need it (parsed before the chain runs
// when some guard asks for it; tool names in policy form `<upstream><sep><tool>`).
struct CallPeek {
  std::string method;
  std::string tool;
  boost::json::value arguments;  // tools/call arguments, for the record of a rejected call
};

// What the guards see of one request, and what they leave for later stages.
struct RequestContext {
  RequestContext(const net::Request& r, const net::ConnectionInfo& c) : request(r), connection(c) {}
  const net::Request& request;
  const net::ConnectionInfo& connection;
  core::IpAddress client;           // after trusted proxies (set by the chain before any guard)
  std::string client_text;
  std::string path;                 // request path without the query
  std::vector<CallPeek> calls;      // filled only when GuardChain::needs_calls()
  Caller caller;
  HeaderList response_headers;      // added to the eventual reply (e.g. RateLimit)
  std::vector<std::shared_ptr<void>> holds;  // released when the request ends (in-flight slots)
};

class Guard {
 public:
  virtual ~Guard() = default;
  virtual std::string_view name() const = 0;
  virtual std::optional<Rejection> check(RequestContext& ctx) const = 0;
  // Guards that must wait (a subrequest, Redis) say so and implement check_async.
  virtual bool asynchronous() const { return false; }
  virtual boost::asio::awaitable<std::optional<Rejection>> check_async(RequestContext& ctx) const;
};

// Counts rejections by reason (exported as metrics).
class RejectionCounters {
 public:
  void add(const std::string& reason);
  std::map<std::string, std::uint64_t> snapshot() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::uint64_t> counts_;
};

class ClientAddressResolver;
struct RateLimitBackend;
struct Authenticators;

// Long-lived state the guards use, built once by the application (limiter buckets survive
// configuration reloads; authenticators hold loaded keys and HTTP clients).
struct GuardResources {
  std::shared_ptr<RateLimitBackend> rate_limits;       // nullptr: a private in-process one
  std::shared_ptr<const Authenticators> authenticators; // nullptr: no authentication
};

class GuardChain {
 public:
  GuardChain();
  GuardChain(GuardChain&&) noexcept;
  GuardChain& operator=(GuardChain&&) noexcept;
  ~GuardChain();
  // The order guards run in, with the reason for each position, lives in this function.
  static GuardChain standard(const core::Config& config, const GuardResources& resources = {});
  // Resolves the client address, then runs every guard until one rejects.
  boost::asio::awaitable<std::optional<Rejection>> run(RequestContext& ctx) const;
  // The synchronous guards only (tests, and listeners without asynchronous guards).
  std::optional<Rejection> run_sync(RequestContext& ctx) const;
  std::vector<std::string_view> names() const;
  void add(std::unique_ptr<Guard> guard) { guards_.push_back(std::move(guard)); }
  // Whether some guard looks at the MCP calls in the body (so the caller parses it first).
  bool needs_calls() const { return needs_calls_; }
  void set_needs_calls() { needs_calls_ = true; }

 private:
  void resolve_client(RequestContext& ctx) const;
  std::vector<std::unique_ptr<Guard>> guards_;
  std::unique_ptr<ClientAddressResolver> addresses_;
  bool needs_calls_ = false;
};

// The one reply function for rejections: status, JSON-RPC error body, headers, counter.
net::Response reject(const Rejection& rejection, RejectionCounters& counters, unsigned version = 11);

// Allow/deny lists of client networks; deny wins.
class IpFilterGuard final : public Guard {
 public:
  IpFilterGuard(const std::vector<std::string>& allow, const std::vector<std::string>& deny);
  std::string_view name() const override { return "ip_filter"; }
  std::optional<Rejection> check(RequestContext& ctx) const override;

 private:
  core::CidrList allow_, deny_;
};

// Host/Origin validation against DNS rebinding (MCP transport security requirement).
class OriginGuard final : public Guard {
 public:
  explicit OriginGuard(core::OriginsConfig config);
  std::string_view name() const override { return "origin"; }
  std::optional<Rejection> check(RequestContext& ctx) const override;

  static bool is_loopback_host(std::string_view host_header);

 private:
  core::OriginsConfig config_;
};

// At most N requests in flight per client address: one client cannot occupy every worker.
class InFlightGuard final : public Guard {
 public:
  explicit InFlightGuard(std::uint32_t per_client);
  std::string_view name() const override { return "in_flight"; }
  std::optional<Rejection> check(RequestContext& ctx) const override;
  std::size_t tracked_clients() const;

 private:
  struct State;
  std::uint32_t limit_;
  std::shared_ptr<State> state_;
};

}  // namespace bastion::guard

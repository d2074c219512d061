#pragma once
// limit_req zones as guards. A zone matches a path prefix and, optionally, an MCP method and
// tool taken from the parsed body; its key is the client address, the authenticated caller,
// or the tool. Decisions come from the in-process limiter or, with Redis configured, from the
// shared one (fail-open or fail-closed when Redis cannot answer). `enforce: false` zones only
// log and count what they would have limited (shadow mode).
#include <atomic>
#include <memory>

#include "guard/guard.hpp"
#include "guard/rate_limit/local_limiter.hpp"
#include "guard/rate_limit/redis_limiter.hpp"

namespace bastion::guard {

// Limiter state shared by every configuration generation, so a reload does not hand every
// client a fresh burst.
struct RateLimitBackend {
  rate_limit::LocalLimiter local;
  std::unique_ptr<rate_limit::RedisLimiter> redis;
  std::mutex mutex;
  std::map<std::string, std::uint64_t> limited;   // zone -> requests rejected
  std::map<std::string, std::uint64_t> shadowed;  // zone -> requests that would have been
  std::atomic<std::uint64_t> redis_unavailable{0};
  void count(const std::string& zone, bool enforced);
};

struct RateLimitZone {
  core::RateLimitZoneConfig config;
  rate_limit::Policy policy;
  bool per_call() const { return !config.method.empty(); }
  bool matches_path(std::string_view path) const;
  bool matches_call(const CallPeek& call) const;
};

std::vector<RateLimitZone> rate_limit_zones(const std::vector<core::RateLimitZoneConfig>& configs);

class RateLimitGuard final : public Guard {
 public:
  RateLimitGuard(std::string name, std::vector<RateLimitZone> zones, std::shared_ptr<RateLimitBackend> backend);
  std::string_view name() const override { return name_; }
  bool asynchronous() const override { return asynchronous_; }
  std::optional<Rejection> check(RequestContext& ctx) const override;
  boost::asio::awaitable<std::optional<Rejection>> check_async(RequestContext& ctx) const override;
  bool needs_calls() const;

 private:
  // The zones that apply to this request, each with the key it is counted under.
  std::vector<std::pair<const RateLimitZone*, std::string>> applicable(const RequestContext& ctx) const;
  std::optional<Rejection> settle(const RateLimitZone& zone, const rate_limit::Decision& decision,
                                  RequestContext& ctx, bool service_unavailable) const;
  std::string name_;
  std::vector<RateLimitZone> zones_;
  std::shared_ptr<RateLimitBackend> backend_;
  bool asynchronous_ = false;
};

}  // namespace bastion::guard

#pragma once
// The nginx-compatible GCRA of gcra.hpp, shared by every Bastion process through Redis.
//
// One check = one atomic Lua script (EVALSHA, EVAL on NOSCRIPT) that reads the key's TAT, takes
// "now" from Redis TIME (one clock for all processes), applies the same admission rule as
// gcra_check, writes the new TAT with PEXPIRE, and returns {stored TAT, now, applied}; the
// Decision is then computed here with gcra_check, so local and shared limits agree to the
// microsecond. Keys: "bastion:rl:<zone>:<key>".
//
// I/O: hiredis 0.14's async API driven by Boost.Asio (a descriptor wait adapter); every hiredis
// call runs on one strand. Every check is bounded by `budget`: when Redis is down, slow or
// overloaded the result is `unavailable`, and the fail mode decides (open = allow, closed =
// reject with service_unavailable so the caller answers 503, not 429). A dropped connection is
// re-established in the background with exponential backoff; the password is read from a file
// at each connect and never logged.
//
// Lifetime: create on an executor whose io_context outlives the limiter; destroy (or close())
// before that io_context is destroyed. The io_context's run() returns only after close().
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include "guard/rate_limit/gcra.hpp"
#include "guard/rate_limit/rate.hpp"

namespace bastion::rate_limit {

enum class FailMode { open, closed };

struct RedisEndpoint {
  std::string host;  // IP literal or name (names are resolved asynchronously at each connect)
  std::uint16_t port = 6379;
  int db = 0;
};

struct RedisUrlError {
  std::string message;
};

// "redis://host[:port][/db]"; rediss:// (TLS) and credentials in the URL are refused.
std::variant<RedisEndpoint, RedisUrlError> parse_redis_url(std::string_view url);

struct RedisLimiterOptions {
  RedisEndpoint endpoint;
  std::string password_file;             // empty: no AUTH
  std::chrono::milliseconds budget{50};  // per check, connection hop included
  FailMode fail_mode = FailMode::open;
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds reconnect_min{100};  // backoff doubles up to reconnect_max
  std::chrono::milliseconds reconnect_max{5000};
  // A connection with replies outstanding and none received for this long is dropped and
  // re-established (a stopped or black-holed Redis does not close the socket).
  std::chrono::milliseconds stall_timeout{2000};
  std::size_t max_in_flight = 10'000;  // beyond this, checks are unavailable at once
  std::string key_prefix = "bastion:rl:";
};

struct RedisDecision {
  enum class Source { redis, unavailable };
  Source source = Source::unavailable;
  // From Redis, or when unavailable the fail mode's answer: allow (open) or reject (closed).
  Decision decision;
  // Fail-closed rejection because Redis could not decide: answer 503, not 429.
  bool service_unavailable = false;
  // Why Redis did not decide: "disconnected", "timeout", "overloaded", "error", "closed".
  std::string_view reason;
};

class RedisLimiter {
 public:
  RedisLimiter(boost::asio::any_io_executor executor, RedisLimiterOptions options);
  ~RedisLimiter();
  RedisLimiter(const RedisLimiter&) = delete;
  RedisLimiter& operator=(const RedisLimiter&) = delete;

  // Starts connecting in the background (idempotent).
  void start();
  // Tears the connection down on the strand; pending checks end as unavailable ("closed").
  void close();

  // May be awaited from any executor. `policy` must stay valid until the await completes.
  boost::asio::awaitable<RedisDecision> check(const Policy& policy, std::string key);

  // True once connected and authenticated, within `timeout` (start-up and tests).
  boost::asio::awaitable<bool> wait_connected(std::chrono::milliseconds timeout);

  bool connected() const;  // a hint; may be stale by the time it is read

  static std::string_view script();
  static const std::string& script_sha1();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace bastion::rate_limit

// Integration test against a real redis-server, run through tests/services/redis.sh.
#include "guard/rate_limit/redis_limiter.hpp"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>
#include <random>
#include <sstream>
#include <thread>

extern char** environ;

namespace bastion::rate_limit {
namespace {

using namespace std::chrono_literals;
using Kind = Decision::Kind;
using Source = RedisDecision::Source;
namespace asio = boost::asio;

struct TestEnv {
  std::string url;
  pid_t pid = 0;
  std::uint16_t port = 0;
  std::string password_file;  // may be empty (BASTION_TEST_REDIS_NOAUTH=1)
  std::string server;
  std::string conf;
};

std::string getenv_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

// Under ctest the wrapper always provides these; a missing one is a failure, not a skip.
const TestEnv& env() {
  static const TestEnv e = [] {
    TestEnv t;
    t.url = getenv_or_empty("BASTION_TEST_REDIS_URL");
    t.pid = static_cast<pid_t>(std::atoi(getenv_or_empty("BASTION_TEST_REDIS_PID").c_str()));
    t.port =
        static_cast<std::uint16_t>(std::atoi(getenv_or_empty("BASTION_TEST_REDIS_PORT").c_str()));
    t.password_file = getenv_or_empty("BASTION_TEST_REDIS_PASSWORD_FILE");
    t.server = getenv_or_empty("BASTION_TEST_REDIS_SERVER");
    t.conf = getenv_or_empty("BASTION_TEST_REDIS_CONF");
    return t;
  }();
  return e;
}

#define REQUIRE_REDIS_ENV()                                                            \
  ASSERT_FALSE(env().url.empty()) << "BASTION_TEST_REDIS_URL is not set: run through " \
                                     "tests/services/redis.sh (ctest does)";           \
  ASSERT_GT(env().pid, 0);                                                             \
  ASSERT_GT(env().port, 0)

std::string unique(std::string_view base) {
  static std::mt19937_64 rng{std::random_device{}()};
  return std::string(base) + "_" + std::to_string(rng() % 1'000'000'000);
}

Policy policy(std::string zone, std::string_view rate, std::uint32_t burst, bool nodelay) {
  return make_policy(std::move(zone), std::get<Rate>(parse_rate(rate)), burst, nodelay);
}

RedisLimiterOptions options(FailMode mode = FailMode::open,
                            std::chrono::milliseconds budget = 1000ms) {
  RedisLimiterOptions o;
  auto parsed = parse_redis_url(env().url);
  EXPECT_TRUE(std::holds_alternative<RedisEndpoint>(parsed));
  if (std::holds_alternative<RedisEndpoint>(parsed)) {
    o.endpoint = std::get<RedisEndpoint>(parsed);
  }
  o.password_file = env().password_file;
  o.fail_mode = mode;
  o.budget = budget;
  o.reconnect_min = 20ms;
  o.reconnect_max = 200ms;
  return o;
}

// One "Bastion process": its own io_context, thread and connection.
class Node {
 public:
  explicit Node(RedisLimiterOptions o)
      : work_(asio::make_work_guard(ioc_)),
        limiter_(ioc_.get_executor(), std::move(o)),
        thread_([this] { ioc_.run(); }) {
    limiter_.start();
  }
  ~Node() {
    limiter_.close();
    work_.reset();
    thread_.join();
  }

  RedisDecision check(const Policy& p, std::string key) {
    auto future = asio::co_spawn(ioc_, limiter_.check(p, std::move(key)), asio::use_future);
    if (future.wait_for(10s) != std::future_status::ready) {
      ADD_FAILURE() << "check did not complete";
      std::abort();  // the budget is broken; do not hang the suite
    }
    return future.get();
  }

  bool wait_connected(std::chrono::milliseconds timeout) {
    auto future = asio::co_spawn(ioc_, limiter_.wait_connected(timeout), asio::use_future);
    return future.get();
  }

 private:
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  RedisLimiter limiter_;
  std::thread thread_;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s);
  return s;
}

// A plain synchronous client for assertions and admin commands.
struct Admin {
  redisContext* c = nullptr;
  explicit Admin(std::uint16_t port) {
    timeval tv{1, 0};
    c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (c != nullptr && c->err == 0 && !env().password_file.empty()) {
      const std::string pw = read_file(env().password_file);
      auto* r = static_cast<redisReply*>(redisCommand(c, "AUTH %b", pw.data(), pw.size()));
      if (r != nullptr) {
        freeReplyObject(r);
      }
    }
  }
  ~Admin() {
    if (c != nullptr) {
      redisFree(c);
    }
  }
  bool ok() const { return c != nullptr && c->err == 0; }
  long long integer(const char* fmt, const std::string& arg) {
    auto* r = static_cast<redisReply*>(redisCommand(c, fmt, arg.c_str()));
    long long v = r != nullptr && r->type == REDIS_REPLY_INTEGER ? r->integer : -999;
    if (r != nullptr) {
      freeReplyObject(r);
    }
    return v;
  }
  std::string status(const char* command) {
    auto* r = static_cast<redisReply*>(redisCommand(c, command));
    std::string v = r != nullptr && r->str != nullptr ? std::string(r->str, r->len) : "";
    if (r != nullptr) {
      freeReplyObject(r);
    }
    return v;
  }
};

bool port_answers(std::uint16_t port) {
  Admin admin(port);
  return admin.ok() && admin.status("PING") == "PONG";
}

// A redis-server this test started itself (to restart Redis on the same port).
class OwnServer {
 public:
  explicit OwnServer(std::uint16_t port) {
    const std::string dir = env().conf.substr(0, env().conf.rfind('/'));
    const std::string port_text = std::to_string(port);
    const std::string log = dir + "/restarted.log";
    std::vector<std::string> args = {env().server,   env().conf,  "--port",      port_text,
                                     "--bind",       "127.0.0.1", "--save",      "",
                                     "--appendonly", "no",        "--daemonize", "no",
                                     "--dir",        dir,         "--logfile",   log};
    std::vector<char*> argv;
    for (auto& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, env().server.c_str(), nullptr, nullptr, argv.data(), environ) != 0) {
      pid_ = 0;
    }
  }
  ~OwnServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGCONT);
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = 0;
};

// Routes spdlog into a string for the lifetime of the object.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
    spdlog::set_level(spdlog::level::debug);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

TEST(RedisLimiter, TwoProcessesShareOneZoneExactly) {
  REQUIRE_REDIS_ENV();
  Node a(options());
  Node b(options());
  ASSERT_TRUE(a.wait_connected(5s));
  ASSERT_TRUE(b.wait_connected(5s));
  // 1r/m: nothing drains during the test, so exactly burst + 1 = 10 are admitted in total.
  const Policy p = policy(unique("shared"), "1r/m", 9, true);
  int allowed = 0;
  for (int i = 0; i < 40; ++i) {
    Node& node = i % 2 == 0 ? a : b;
    const RedisDecision d = node.check(p, "client-1");
    ASSERT_EQ(d.source, Source::redis) << i << " " << d.reason;
    if (d.decision.admitted()) {
      ++allowed;
      EXPECT_EQ(d.decision.remaining, static_cast<std::uint32_t>(10 - allowed)) << i;
    }
  }
  EXPECT_EQ(allowed, 10);

  Admin admin(env().port);
  ASSERT_TRUE(admin.ok());
  const std::string key = "bastion:rl:" + p.zone + ":client-1";
  const long long ttl = admin.integer("PTTL %s", key);
  EXPECT_GT(ttl, 9 * 60 * 1000) << key;  // TAT = now + 10 minutes
  EXPECT_LE(ttl, 10 * 60 * 1000);
}

TEST(RedisLimiter, TenPerMinuteBurstFiveNodelay) {
  REQUIRE_REDIS_ENV();
  Node a(options());
  ASSERT_TRUE(a.wait_connected(5s));
  const Policy p = policy(unique("mcp_api"), "10r/m", 5, true);
  for (int i = 0; i < 6; ++i) {
    const RedisDecision d = a.check(p, "10.1.2.3");
    ASSERT_EQ(d.source, Source::redis);
    EXPECT_EQ(d.decision.kind, Kind::allow) << i;
    EXPECT_EQ(d.decision.remaining, static_cast<std::uint32_t>(5 - i)) << i;
  }
  const RedisDecision seventh = a.check(p, "10.1.2.3");
  ASSERT_EQ(seventh.source, Source::redis);
  EXPECT_EQ(seventh.decision.kind, Kind::reject);
  EXPECT_GT(seventh.decision.retry_after, 5500ms);
  EXPECT_LE(seventh.decision.retry_after, 6000ms);
  // Another key is untouched.
  EXPECT_EQ(a.check(p, "10.1.2.4").decision.kind, Kind::allow);
}

TEST(RedisLimiter, WithoutNodelayDelaysGrowByOneInterval) {
  REQUIRE_REDIS_ENV();
  Node a(options());
  ASSERT_TRUE(a.wait_connected(5s));
  const Policy p = policy(unique("paced"), "10r/m", 2, false);
  EXPECT_EQ(a.check(p, "k").decision.kind, Kind::allow);
  const Decision second = a.check(p, "k").decision;
  EXPECT_EQ(second.kind, Kind::delay);
  EXPECT_NEAR(double(second.delay.count()), 6000.0, 100.0);
  const Decision third = a.check(p, "k").decision;
  EXPECT_EQ(third.kind, Kind::delay);
  EXPECT_NEAR(double(third.delay.count()), 12000.0, 100.0);
  EXPECT_EQ(a.check(p, "k").decision.kind, Kind::reject);
}

TEST(RedisLimiter, FallsBackToEvalWhenTheScriptCacheIsEmpty) {
  REQUIRE_REDIS_ENV();
  Node a(options());
  ASSERT_TRUE(a.wait_connected(5s));
  const Policy p = policy(unique("flush"), "10r/s", 0, true);
  EXPECT_EQ(a.check(p, "k").source, Source::redis);
  Admin admin(env().port);
  ASSERT_TRUE(admin.ok());
  EXPECT_EQ(admin.status("SCRIPT FLUSH"), "OK");
  const RedisDecision d = a.check(p, "k2");
  EXPECT_EQ(d.source, Source::redis) << d.reason;
  EXPECT_EQ(d.decision.kind, Kind::allow);
}

TEST(RedisLimiter, WrongPasswordIsUnavailableAndNeverLogged) {
  REQUIRE_REDIS_ENV();
  if (env().password_file.empty()) {
    GTEST_SKIP() << "server started without a password (BASTION_TEST_REDIS_NOAUTH=1)";
  }
  const std::string dir = env().conf.substr(0, env().conf.rfind('/'));
  const std::string wrong_file = dir + "/wrong-password";
  const std::string wrong = "not-the-password-" + unique("x");
  std::ofstream(wrong_file) << wrong << "\n";

  std::string log;
  {
    LogCapture capture;
    RedisLimiterOptions o = options(FailMode::closed, 200ms);
    o.password_file = wrong_file;
    Node a(std::move(o));
    EXPECT_FALSE(a.wait_connected(300ms));
    const RedisDecision d = a.check(policy("z", "1r/s", 0, true), "k");
    EXPECT_EQ(d.source, Source::unavailable);
    EXPECT_EQ(d.decision.kind, Kind::reject);
    EXPECT_TRUE(d.service_unavailable);
    log = capture.text();
  }
  EXPECT_NE(log.find("refused the connection setup"), std::string::npos) << log;
  EXPECT_EQ(log.find(wrong), std::string::npos) << log;
  EXPECT_EQ(log.find(read_file(env().password_file)), std::string::npos);
}

TEST(RedisLimiter, SelectsTheDatabaseFromTheUrl) {
  REQUIRE_REDIS_ENV();
  RedisLimiterOptions o = options();
  o.endpoint.db = 3;
  Node a(std::move(o));
  ASSERT_TRUE(a.wait_connected(5s));
  const Policy p = policy(unique("db"), "1r/m", 0, true);
  ASSERT_EQ(a.check(p, "k").source, Source::redis);
  Admin admin(env().port);
  ASSERT_TRUE(admin.ok());
  const std::string key = "bastion:rl:" + p.zone + ":k";
  EXPECT_EQ(admin.integer("EXISTS %s", key), 0);  // not in db 0
  EXPECT_EQ(admin.status("SELECT 3"), "OK");
  EXPECT_EQ(admin.integer("EXISTS %s", key), 1);
}

// Requests racing the rate from two processes: every Redis verdict must match gcra_check on the
// state and clock the script saw (a mismatch is logged as an error).
TEST(RedisLimiter, ScriptAgreesWithGcraUnderRacingTraffic) {
  REQUIRE_REDIS_ENV();
  LogCapture capture;
  Node a(options());
  Node b(options());
  ASSERT_TRUE(a.wait_connected(5s));
  ASSERT_TRUE(b.wait_connected(5s));
  const Policy p = policy(unique("race"), "500r/s", 2, false);
  int admitted = 0;
  int rejected = 0;
  std::thread other([&] {
    for (int i = 0; i < 300; ++i) {
      b.check(p, "k");
    }
  });
  for (int i = 0; i < 300; ++i) {
    const RedisDecision d = a.check(p, "k");
    ASSERT_EQ(d.source, Source::redis);
    (d.decision.admitted() ? admitted : rejected)++;
  }
  other.join();
  EXPECT_GT(admitted, 0);
  EXPECT_EQ(capture.text().find("disagree"), std::string::npos) << capture.text();
}

// Kills the wrapper's server: keep this test last.
TEST(RedisLimiter, ZzDeadRedisIsUnavailableWithinBudgetThenReconnects) {
  REQUIRE_REDIS_ENV();
  const auto budget = 50ms;
  Node open(options(FailMode::open, budget));
  Node closed(options(FailMode::closed, budget));
  ASSERT_TRUE(open.wait_connected(5s));
  ASSERT_TRUE(closed.wait_connected(5s));
  const Policy p = policy(unique("outage"), "1r/m", 100, true);
  ASSERT_EQ(open.check(p, "k").source, Source::redis);
  ASSERT_EQ(closed.check(p, "k").source, Source::redis);

  ASSERT_EQ(::kill(env().pid, SIGKILL), 0);
  for (int i = 0; i < 200 && port_answers(env().port); ++i) {
    std::this_thread::sleep_for(10ms);  // the kernel closes the port as the process dies
  }
  ASSERT_FALSE(port_answers(env().port));

  const auto slack = 50ms;  // scheduling on a loaded 2-core machine
  for (int i = 0; i < 10; ++i) {
    auto start = std::chrono::steady_clock::now();
    const RedisDecision o = open.check(p, "k");
    auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(o.source, Source::unavailable) << i;
    EXPECT_EQ(o.decision.kind, Kind::allow);
    EXPECT_FALSE(o.service_unavailable);
    EXPECT_LT(elapsed, budget + slack) << i;

    start = std::chrono::steady_clock::now();
    const RedisDecision c = closed.check(p, "k");
    elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(c.source, Source::unavailable) << i;
    EXPECT_EQ(c.decision.kind, Kind::reject);
    EXPECT_TRUE(c.service_unavailable);
    EXPECT_LT(elapsed, budget + slack) << i;
  }

  // Redis comes back on the same port (empty: the old state is gone, as after a real restart).
  OwnServer restarted(env().port);
  ASSERT_GT(restarted.pid(), 0);
  ASSERT_TRUE(open.wait_connected(10s));
  ASSERT_TRUE(closed.wait_connected(10s));
  const RedisDecision again = open.check(p, "k");
  EXPECT_EQ(again.source, Source::redis) << again.reason;
  EXPECT_EQ(again.decision.kind, Kind::allow);
  EXPECT_EQ(closed.check(p, "k").decision.remaining, 99u);  // shared state again

  // A stopped server keeps the socket open: the budget still bounds every check.
  ASSERT_EQ(::kill(restarted.pid(), SIGSTOP), 0);
  const auto start = std::chrono::steady_clock::now();
  const RedisDecision stalled = closed.check(p, "k");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(stalled.source, Source::unavailable);
  EXPECT_EQ(stalled.reason, "timeout");
  EXPECT_TRUE(stalled.service_unavailable);
  EXPECT_GE(elapsed, budget - 5ms);
  EXPECT_LT(elapsed, budget + slack);
  ASSERT_EQ(::kill(restarted.pid(), SIGCONT), 0);
  // The connection was not dropped (stall_timeout is 2 s), so the next check is decided.
  const RedisDecision resumed = closed.check(p, "k");
  EXPECT_EQ(resumed.source, Source::redis) << resumed.reason;
}

}  // namespace
}  // namespace bastion::rate_limit

#include "upstream/stdio/stdio_process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "upstream/stdio/process_env.hpp"

namespace bastion::upstream::stdio {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Collects log lines so tests can assert on what reached the log (and what must not).
class CaptureSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::vector<std::string> messages() {
    std::lock_guard lock(mutex_);
    return messages_;
  }
  bool contains(std::string_view needle) {
    for (const auto& m : messages()) {
      if (m.find(needle) != std::string::npos) return true;
    }
    return false;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    messages_.emplace_back(msg.payload.data(), msg.payload.size());
  }
  void flush_() override {}

 private:
  std::vector<std::string> messages_;
};

// What the callbacks saw. Only touched on the io thread(s), guarded for the multi-thread test.
struct Events {
  std::mutex mu;
  std::condition_variable cv;  // for tests whose io_context runs on other threads
  std::vector<std::string> lines;
  std::optional<int> status;
  std::size_t line_count() {
    std::lock_guard lock(mu);
    return lines.size();
  }
  bool exited() {
    std::lock_guard lock(mu);
    return status.has_value();
  }
};

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0u)); }

// True once `pid` has exited (zombie or gone), waiting up to `timeout` on its pidfd.
bool wait_pid_dead(pid_t pid, std::chrono::milliseconds timeout) {
  const int fd = pidfd_open(pid);
  if (fd < 0) return errno == ESRCH;
  pollfd p{fd, POLLIN, 0};
  const int rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
  ::close(fd);
  return rc == 1;
}

// Fields of /proc/<pid>/stat after the command name: state, ppid, pgrp.
struct ProcStat {
  char state = '?';
  pid_t ppid = 0;
  pid_t pgrp = 0;
};

std::optional<ProcStat> read_stat(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  if (!std::getline(in, s)) return std::nullopt;
  const auto close = s.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(s.substr(close + 2));
  ProcStat st;
  rest >> st.state >> st.ppid >> st.pgrp;
  return st;
}

// Every process whose parent is this test binary (alive or zombie).
std::vector<pid_t> our_children() {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    if (auto st = read_stat(static_cast<pid_t>(pid)); st && st->ppid == ::getpid()) {
      out.push_back(static_cast<pid_t>(pid));
    }
  }
  ::closedir(d);
  return out;
}

std::size_t status_kb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::stoul(line.substr(std::strlen(field) + 1));
  }
  return 0;
}

class StdioProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sink_ = std::make_shared<CaptureSink>();
    logger_ = std::make_shared<spdlog::logger>("stdio_test", sink_);
    logger_->set_level(spdlog::level::debug);
  }

  void TearDown() override {
    // Every test stops or waits for what it started: nothing of ours may be left, not even a
    // zombie (the layer reaps through pidfds only).
    EXPECT_TRUE(our_children().empty()) << "children left: " << our_children().size();
  }

  ProcessOptions options(std::string command, std::vector<std::string> args = {}) {
    ProcessOptions o;
    o.name = "t";
    o.command = std::move(command);
    o.args = std::move(args);
    o.stdin_close_grace = 300ms;
    o.sigterm_grace = 300ms;
    o.exit_drain_timeout = 500ms;
    o.logger = logger_;
    return o;
  }

  ProcessOptions shell(std::string script) { return options("/bin/sh", {"-c", std::move(script)}); }

  struct Started {
    std::shared_ptr<StdioProcess> proc;
    std::shared_ptr<Events> events;
  };

  Started start(ProcessOptions o) {
    auto p = std::make_shared<StdioProcess>(io_.get_executor(), std::move(o));
    auto ev = std::make_shared<Events>();
    auto r = p->start(
        [ev](std::string line) {
          std::lock_guard lock(ev->mu);
          ev->lines.push_back(std::move(line));
          ev->cv.notify_all();
        },
        [ev](int status) {
          std::lock_guard lock(ev->mu);
          ev->status = status;
          ev->cv.notify_all();
        });
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    return {p, ev};
  }

  // Runs the io_context until pred() holds or the timeout passes; never sleeps blindly.
  template <class Pred>
  bool run_until(Pred pred, Clock::duration timeout = 10s) {
    const auto deadline = Clock::now() + timeout;
    while (!pred()) {
      const auto now = Clock::now();
      if (now >= deadline) return false;
      io_.run_one_for(deadline - now);
    }
    return true;
  }

  std::optional<int> stop(const std::shared_ptr<StdioProcess>& p, Clock::duration timeout = 10s) {
    std::optional<int> result;
    asio::co_spawn(io_, p->stop(), [&](std::exception_ptr e, int status) {
      if (!e) result = status;
    });
    run_until([&] { return result.has_value(); }, timeout);
    return result;
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  std::shared_ptr<CaptureSink> sink_;
  std::shared_ptr<spdlog::logger> logger_;
};

TEST_F(StdioProcessTest, CatEchoesLinesInOrderAndStopsOnStdinClose) {
  auto [p, ev] = start(options("cat"));  // resolved through the scrubbed PATH
  const pid_t pid = p->pid();
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(p->running());
  constexpr int kLines = 2000;
  for (int i = 0; i < kLines; ++i) ASSERT_TRUE(p->send("{\"id\":" + std::to_string(i) + "}"));
  ASSERT_TRUE(run_until([&] { return ev->line_count() == kLines; }));
  for (int i = 0; i < kLines; ++i) ASSERT_EQ(ev->lines[i], "{\"id\":" + std::to_string(i) + "}");
  EXPECT_EQ(p->stdout_lines(), static_cast<std::uint64_t>(kLines));

  auto opts = p->options();
  const auto t0 = Clock::now();
  auto status = stop(p);
  const auto elapsed = Clock::now() - t0;
  ASSERT_TRUE(status);
  // cat exits on EOF: no signal was needed.
  EXPECT_TRUE(WIFEXITED(*status)) << describe_wait_status(*status);
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  EXPECT_LT(elapsed, opts.stdin_close_grace);
  // The exit handler ran before stop() returned and saw the same status.
  ASSERT_TRUE(ev->status);
  EXPECT_EQ(*ev->status, *status);
  EXPECT_EQ(p->exit_status(), status);
  EXPECT_FALSE(p->running());
  EXPECT_EQ(p->pid(), 0);
  // Reaped: no zombie under our pid.
  EXPECT_FALSE(std::filesystem::exists("/proc/" + std::to_string(pid)));
  EXPECT_FALSE(p->send("late"));
  // A second stop() is harmless and reports the same status.
  EXPECT_EQ(stop(p), status);
}

TEST_F(StdioProcessTest, EnvironmentIsScrubbed) {
  ::setenv("BASTION_ADMIN_TOKEN", "bastion-secret-value-1", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-value-2", 1);
  ::setenv("LANG", "C.UTF-8", 1);
  auto o = options("env");
  o.env = {{"AGENT_MODE", "configured"}, {"AGENT_API_KEY", "configured-secret-3"}};
  auto [p, ev] = start(std::move(o));
  ASSERT_TRUE(run_until([&] { return ev->exited(); }));
  ::unsetenv("BASTION_ADMIN_TOKEN");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");

  std::map<std::string, std::string> child_env;
  for (const auto& l : ev->lines) {
    const auto eq = l.find('=');
    ASSERT_NE(eq, std::string::npos) << l;
    child_env[l.substr(0, eq)] = l.substr(eq + 1);
  }
  EXPECT_EQ(child_env["AGENT_MODE"], "configured");
  EXPECT_EQ(child_env["AGENT_API_KEY"], "configured-secret-3");
  EXPECT_EQ(child_env["LANG"], "C.UTF-8");
  const char* own_path = std::getenv("PATH");
  EXPECT_EQ(child_env["PATH"], own_path ? std::string(own_path) : std::string(kDefaultPath));
  const std::set<std::string> allowed = {"AGENT_MODE", "AGENT_API_KEY", "PATH", "HOME", "LANG"};
  for (const auto& [k, v] : child_env) EXPECT_TRUE(allowed.contains(k)) << "leaked: " << k;
  for (const auto& l : ev->lines) {
    EXPECT_EQ(l.find("bastion-secret-value-1"), std::string::npos);
    EXPECT_EQ(l.find("aws-secret-value-2"), std::string::npos);
  }
  // Configured values may be secrets: they never reach the log.
  EXPECT_FALSE(sink_->contains("configured-secret-3"));
}

TEST_F(StdioProcessTest, StderrIsLoggedLineByLineTruncatedAndSanitised) {
  auto o = shell(
      "echo 'hello from stderr' >&2; printf 'long:%05000d\\n' 0 >&2; "
      "printf '\\033[31mred\\r\\n' >&2; echo out");
  o.stderr_log_line_bytes = 100;
  auto [p, ev] = start(std::move(o));
  ASSERT_TRUE(run_until([&] { return ev->exited(); }));
  EXPECT_EQ(ev->lines, (std::vector<std::string>{"out"}));
  EXPECT_TRUE(sink_->contains("[upstream t] hello from stderr"));
  EXPECT_TRUE(sink_->contains("[upstream t] ?[31mred"));
  bool found_long = false;
  for (const auto& m : sink_->messages()) {
    if (m.find("[upstream t] long:") != 0) continue;
    found_long = true;
    EXPECT_LT(m.size(), 160u);
    EXPECT_NE(m.find("(5005 bytes)"), std::string::npos) << m;
  }
  EXPECT_TRUE(found_long);
}

TEST_F(StdioProcessTest, MissingCommandIsAnErrorValue) {
  for (std::string cmd : {"bastion-definitely-not-a-command", "/nonexistent/dir/agent"}) {
    auto p = std::make_shared<StdioProcess>(io_.get_executor(), options(cmd));
    auto r = p->start([](std::string) {}, [](int) {});
    ASSERT_FALSE(r) << cmd;
    EXPECT_EQ(r.error(), boost::system::errc::no_such_file_or_directory) << r.error().message();
    EXPECT_FALSE(p->running());
    EXPECT_EQ(p->pid(), 0);
    EXPECT_EQ(stop(p), -1);
    EXPECT_FALSE(p->send("x"));
  }
}

TEST_F(StdioProcessTest, FailureInChildBeforeExecIsReportedAndReaped) {
  auto o = options("/bin/true");
  o.working_dir = "/nonexistent/working/dir";
  auto p = std::make_shared<StdioProcess>(io_.get_executor(), std::move(o));
  auto r = p->start([](std::string) {}, [](int) {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), boost::system::errc::no_such_file_or_directory);
  EXPECT_TRUE(sink_->contains("chdir failed"));
  // TearDown proves the failed child was reaped.
}

TEST_F(StdioProcessTest, StartTwiceIsRejected) {
  auto [p, ev] = start(options("cat"));
  auto again = p->start([](std::string) {}, [](int) {});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), boost::system::errc::already_connected);
  EXPECT_TRUE(stop(p));
}

TEST_F(StdioProcessTest, StopSendsSigtermWhenStdinCloseIsIgnored) {
  auto [p, ev] = start(options("sleep", {"300"}));
  const auto opts = p->options();
  const auto t0 = Clock::now();
  auto status = stop(p);
  const auto elapsed = Clock::now() - t0;
  ASSERT_TRUE(status);
  ASSERT_TRUE(WIFSIGNALED(*status)) << describe_wait_status(*status);
  EXPECT_EQ(WTERMSIG(*status), SIGTERM);
  EXPECT_GE(elapsed, opts.stdin_close_grace);
  EXPECT_LT(elapsed, opts.stdin_close_grace + opts.sigterm_grace);
}

TEST_F(StdioProcessTest, StopEndsWithSigkillWhenSigtermIsIgnored) {
  auto [p, ev] = start(shell("trap '' TERM; echo ready; while :; do sleep 1; done"));
  ASSERT_TRUE(run_until([&] { return ev->line_count() == 1; }));
  const auto opts = p->options();
  const auto t0 = Clock::now();
  auto status = stop(p);
  const auto elapsed = Clock::now() - t0;
  ASSERT_TRUE(status);
  ASSERT_TRUE(WIFSIGNALED(*status)) << describe_wait_status(*status);
  EXPECT_EQ(WTERMSIG(*status), SIGKILL);
  EXPECT_GE(elapsed, opts.stdin_close_grace + opts.sigterm_grace);
  EXPECT_LT(elapsed, opts.stdin_close_grace + opts.sigterm_grace + 3s);
  EXPECT_TRUE(sink_->contains("ignored SIGTERM"));
}

TEST_F(StdioProcessTest, GrandchildrenAreKilledOnStop) {
  // The grandchild ignores SIGTERM and outlives the shell; only the group SIGKILL ends it.
  auto [p, ev] = start(shell("(trap '' TERM; exec sleep 300) & echo $!; wait"));
  ASSERT_TRUE(run_until([&] { return ev->line_count() == 1; }));
  const pid_t grandchild = std::stoi(ev->lines[0]);
  auto st = read_stat(grandchild);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->pgrp, p->pid());  // same process group as the child
  auto status = stop(p);
  ASSERT_TRUE(status);
  EXPECT_TRUE(wait_pid_dead(grandchild, 5s));
  if (auto after = read_stat(grandchild)) {
    EXPECT_EQ(after->state, 'Z');  // dead; reaping it is init's job, not ours
  }
}

TEST_F(StdioProcessTest, GrandchildrenAreKilledWhenTheChildExitsByItself) {
  auto [p, ev] = start(shell("sleep 300 & echo $!; exit 4"));
  ASSERT_TRUE(run_until([&] { return ev->exited(); }));
  ASSERT_EQ(ev->lines.size(), 1u);
  EXPECT_EQ(WEXITSTATUS(*ev->status), 4);
  EXPECT_TRUE(wait_pid_dead(std::stoi(ev->lines[0]), 5s));
}

TEST_F(StdioProcessTest, ChildRunsInItsOwnProcessGroup) {
  auto [p, ev] = start(options("cat", {"/proc/self/stat"}));
  const pid_t pid = p->pid();
  ASSERT_TRUE(run_until([&] { return ev->exited(); }));
  ASSERT_EQ(ev->lines.size(), 1u);
  const auto& s = ev->lines[0];
  std::istringstream rest(s.substr(s.rfind(')') + 2));
  char state;
  pid_t ppid, pgrp;
  rest >> state >> ppid >> pgrp;
  EXPECT_EQ(std::stoi(s), pid);
  EXPECT_EQ(ppid, ::getpid());
  EXPECT_EQ(pgrp, pid);
}

TEST_F(StdioProcessTest, OnlyStandardFdsAreInherited) {
  // Deliberately without O_CLOEXEC, as a careless library would open it.
  const int leaky = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(leaky, 0);
  ASSERT_EQ(::dup2(leaky, 100), 100);
  ::close(leaky);
  // The shell lists its own fds (the glob itself may hold one directory fd while it runs).
  auto [p, ev] = start(shell("for f in /proc/$$/fd/*; do echo ${f##*/}; done"));
  ASSERT_TRUE(run_until([&] { return ev->exited(); }));
  ::close(100);
  std::set<std::string> fds(ev->lines.begin(), ev->lines.end());
  EXPECT_FALSE(fds.contains("100"));
  EXPECT_TRUE(fds.contains("0") && fds.contains("1") && fds.contains("2"));
  EXPECT_LE(fds.size(), 4u);
}

TEST_F(StdioProcessTest, RlimitsAndWorkingDirectoryApply) {
  auto o = shell("ulimit -n; ulimit -v; ulimit -t; pwd");
  o.limits.open_files = 64;
  o.limits.address_space_bytes = 1ull << 30;
  o.limits.cpu_seconds = 120;
  o.working_dir = "/tmp";
  auto [p, ev] = start(std::move(o));
  ASSERT_TRUE(run_until([&] { return ev->exited(); }));
  EXPECT_EQ(ev->lines, (std::vector<std::string>{"64", "1048576", "120", "/tmp"}));
}

TEST_F(StdioProcessTest, OversizedLineIsDroppedAndCounted) {
  auto o = shell("head -c 5000 /dev/zero | tr '\\0' a; echo; echo ok; printf tail");
  o.max_line_bytes = 1000;
  auto [p, ev] = start(std::move(o));
  ASSERT_TRUE(run_until([&] { return ev->exited(); }));
  // The unterminated last line still arrives at EOF.
  EXPECT_EQ(ev->lines, (std::vector<std::string>{"ok", "tail"}));
  EXPECT_EQ(p->oversized_lines(), 1u);
  EXPECT_TRUE(sink_->contains("stdout line over 1000 bytes discarded"));
}

TEST_F(StdioProcessTest, SendAfterExitReturnsFalse) {
  auto [p, ev] = start(shell("exit 3"));
  ASSERT_TRUE(run_until([&] { return ev->exited(); }));
  ASSERT_TRUE(WIFEXITED(*ev->status));
  EXPECT_EQ(WEXITSTATUS(*ev->status), 3);
  EXPECT_FALSE(p->running());
  EXPECT_FALSE(p->send("{}"));
  EXPECT_EQ(p->send_rejected(), 1u);
  EXPECT_EQ(stop(p), ev->status);
}

TEST_F(StdioProcessTest, StdoutFloodWithoutNewlinesKeepsMemoryBounded) {
  constexpr std::size_t kFlood = 64u << 20;
  auto o = shell("head -c " + std::to_string(kFlood) + " /dev/zero; echo; echo done");
  o.max_line_bytes = 64 * 1024;
  // Reset the peak-RSS mark so VmHWM measures only this test.
  const bool hwm_reset = static_cast<bool>(std::ofstream("/proc/self/clear_refs") << "5");
  const std::size_t rss_before_kb = status_kb("VmRSS:");
  auto [p, ev] = start(std::move(o));
  ASSERT_TRUE(run_until([&] { return ev->exited(); }, 60s));
  EXPECT_EQ(ev->lines, (std::vector<std::string>{"done"}));
  EXPECT_EQ(p->oversized_lines(), 1u);
  EXPECT_GE(p->stdout_bytes(), kFlood);
  if (hwm_reset) {
    const std::size_t hwm_kb = status_kb("VmHWM:");
    EXPECT_LT(hwm_kb, rss_before_kb + 16 * 1024) << "peak RSS grew with the flood";
  }
}

TEST_F(StdioProcessTest, StdoutLineFloodCanBeStopped) {
  auto [p, ev] = start(options("yes", {"{\"jsonrpc\":\"2.0\"}"}));
  ASSERT_TRUE(run_until([&] { return ev->line_count() >= 100000; }, 30s));
  ev->lines.clear();  // keep the test's own memory small; the layer holds nothing
  auto status = stop(p);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFSIGNALED(*status));
  EXPECT_GE(p->stdout_lines(), 100000u);
}

TEST_F(StdioProcessTest, ChildThatNeverReadsStdinDoesNotBlockSend) {
  auto o = options("sleep", {"300"});
  o.max_stdin_queue_bytes = 256 * 1024;
  auto [p, ev] = start(std::move(o));
  const std::string msg(4096, 'x');
  int accepted = 0;
  bool rejected = false;
  const auto t0 = Clock::now();
  for (int i = 0; i < 1000 && !rejected; ++i) {
    if (p->send(msg)) {
      ++accepted;
    } else {
      rejected = true;
    }
    io_.poll();  // let the writer fill the pipe
  }
  EXPECT_TRUE(rejected);
  EXPECT_LT(Clock::now() - t0, 5s);
  // At most the queue limit plus what the kernel pipe buffer (64 KiB by default) absorbed.
  EXPECT_LE(accepted * 4097, 256 * 1024 + 1024 * 1024);
  EXPECT_LE(p->stdin_queued_bytes(), 256u * 1024);
  EXPECT_GE(p->send_rejected(), 1u);
  auto status = stop(p);
  ASSERT_TRUE(status);
  EXPECT_EQ(p->stdin_queued_bytes(), 0u);
}

TEST_F(StdioProcessTest, StalledStdinWriteKillsTheChildWhenConfigured) {
  auto o = options("sleep", {"300"});
  o.stdin_write_timeout = 200ms;
  auto [p, ev] = start(std::move(o));
  const std::string msg(64 * 1024, 'x');
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(p->send(msg));  // well over the pipe buffer
  ASSERT_TRUE(run_until([&] { return ev->exited(); }, 5s));
  ASSERT_TRUE(WIFSIGNALED(*ev->status));
  EXPECT_EQ(WTERMSIG(*ev->status), SIGKILL);
  EXPECT_TRUE(p->stdin_stalled());
}

// A child that closes stdout can never answer again; left running it would hold the upstream
// "up" while every call times out. It is stopped and its exit reported.
TEST_F(StdioProcessTest, ChildThatClosesStdoutButKeepsRunningIsStopped) {
  auto [p, ev] = start(shell("exec >&-; sleep 300"));
  ASSERT_TRUE(run_until([&] { return ev->exited(); }, 5s));
  ASSERT_TRUE(WIFSIGNALED(*ev->status)) << describe_wait_status(*ev->status);
  EXPECT_EQ(WTERMSIG(*ev->status), SIGTERM);
  EXPECT_TRUE(sink_->contains("closed its stdout but keeps running; stopping it"));
  EXPECT_EQ(stop(p), ev->status);
}

// The same for a child that closed stdin: found at the next write (EPIPE).
TEST_F(StdioProcessTest, ChildThatClosesStdinButKeepsRunningIsStopped) {
  auto [p, ev] = start(shell("exec <&-; echo ready; sleep 300"));
  ASSERT_TRUE(run_until([&] { return ev->line_count() == 1; }));
  EXPECT_FALSE(ev->exited());
  ASSERT_TRUE(p->send("{}"));
  ASSERT_TRUE(run_until([&] { return ev->exited(); }, 5s));
  ASSERT_TRUE(WIFSIGNALED(*ev->status)) << describe_wait_status(*ev->status);
  EXPECT_EQ(WTERMSIG(*ev->status), SIGTERM);
  EXPECT_TRUE(sink_->contains("closed its stdin but keeps running; stopping it"));
  EXPECT_EQ(stop(p), ev->status);
}

// A normal exit also ends stdout first: that is no pipe loss and is not signalled.
TEST_F(StdioProcessTest, OrdinaryExitIsNotTreatedAsPipeLoss) {
  auto [p, ev] = start(shell("echo bye; exit 4"));
  ASSERT_TRUE(run_until([&] { return ev->exited(); }));
  ASSERT_TRUE(WIFEXITED(*ev->status));
  EXPECT_EQ(WEXITSTATUS(*ev->status), 4);
  EXPECT_FALSE(sink_->contains("keeps running"));
}

TEST_F(StdioProcessTest, ConcurrentStopsReturnTheSameStatus) {
  auto [p, ev] = start(options("sleep", {"300"}));
  std::optional<int> a, b;
  asio::co_spawn(io_, p->stop(), [&](std::exception_ptr, int s) { a = s; });
  asio::co_spawn(io_, p->stop(), [&](std::exception_ptr, int s) { b = s; });
  ASSERT_TRUE(run_until([&] { return a && b; }));
  EXPECT_EQ(a, b);
  EXPECT_TRUE(WIFSIGNALED(*a));
}

TEST_F(StdioProcessTest, SendersOnOtherThreadsKeepTheirOrder) {
  // Two io threads and two sender threads: callbacks stay serialised on the strand.
  auto [p, ev] = start(options("cat"));
  std::vector<std::thread> io_threads;
  for (int i = 0; i < 2; ++i) io_threads.emplace_back([this] { io_.run(); });
  constexpr int kPerSender = 2000;
  std::vector<std::thread> senders;
  for (int s = 0; s < 2; ++s) {
    senders.emplace_back([p = p, s] {
      for (int i = 0; i < kPerSender; ++i) {
        while (!p->send(std::to_string(s) + ":" + std::to_string(i))) std::this_thread::yield();
      }
    });
  }
  for (auto& t : senders) t.join();
  {
    std::unique_lock lock(ev->mu);
    ev->cv.wait_for(lock, 20s, [&] { return ev->lines.size() == 2u * kPerSender; });
  }
  std::optional<int> status;
  std::mutex mu;
  std::condition_variable cv;
  asio::co_spawn(io_, p->stop(), [&](std::exception_ptr, int st) {
    std::lock_guard lock(mu);
    status = st;
    cv.notify_all();
  });
  {
    std::unique_lock lock(mu);
    cv.wait_for(lock, 10s, [&] { return status.has_value(); });
  }
  work_.reset();
  io_.stop();
  for (auto& t : io_threads) t.join();
  ASSERT_TRUE(status);
  std::lock_guard lock(ev->mu);
  ASSERT_EQ(ev->lines.size(), 2u * kPerSender);
  int next[2] = {0, 0};
  for (const auto& l : ev->lines) {
    const int s = l[0] - '0';
    ASSERT_EQ(l, std::to_string(s) + ":" + std::to_string(next[s]));
    ++next[s];
  }
}

TEST_F(StdioProcessTest, ChildDiesWithBastion) {
  // An intermediate process plays Bastion: it starts a child and dies without stopping it.
  int pipefd[2];
  ASSERT_EQ(::pipe2(pipefd, O_CLOEXEC), 0);
  const pid_t bastion = ::fork();
  ASSERT_GE(bastion, 0);
  if (bastion == 0) {
    asio::io_context io;
    auto p = std::make_shared<StdioProcess>(io.get_executor(), options("sleep", {"300"}));
    pid_t child = p->start([](std::string) {}, [](int) {}) ? p->pid() : 0;
    [[maybe_unused]] auto n = ::write(pipefd[1], &child, sizeof child);
    ::_exit(0);
  }
  ::close(pipefd[1]);
  pid_t child = 0;
  ASSERT_EQ(::read(pipefd[0], &child, sizeof child), static_cast<ssize_t>(sizeof child));
  ::close(pipefd[0]);
  ASSERT_GT(child, 0);
  int st = 0;
  ASSERT_EQ(::waitpid(bastion, &st, 0), bastion);
  EXPECT_TRUE(wait_pid_dead(child, 5s)) << "child survived its parent";
}

}  // namespace
}  // namespace bastion::upstream::stdio

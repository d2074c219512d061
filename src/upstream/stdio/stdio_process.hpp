#pragma once

#include <sys/types.h>

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "net/io_strand.hpp"
#include <boost/system/result.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace spdlog {
class logger;
}

namespace bastion::upstream::stdio {

struct ProcessLimits {
  std::optional<std::uint64_t> address_space_bytes;  // RLIMIT_AS
  std::optional<std::uint64_t> open_files;           // RLIMIT_NOFILE
  std::optional<std::uint64_t> cpu_seconds;          // RLIMIT_CPU (SIGXCPU at the soft limit)
};

struct ProcessOptions {
  std::string name;     // upstream name, used in logs
  std::string command;  // resolved via PATH of the scrubbed env if not absolute
  std::vector<std::string> args;
  std::map<std::string, std::string> env;  // configured env (values may be secrets: never logged)
  std::size_t max_line_bytes = 16 << 20;
  std::size_t max_stdin_queue_bytes = 64 << 20;  // send() fails when the queue is over this
  std::chrono::milliseconds stdin_close_grace{2000};
  std::chrono::milliseconds sigterm_grace{3000};
  std::optional<std::filesystem::path> working_dir;
  ProcessLimits limits;  // applied in the child before exec
  // A single write to stdin that makes no progress for this long means the child stopped reading:
  // it is killed (SIGKILL to its group) and reported through the exit handler. 0 disables; the
  // queue limit alone then bounds memory and send() returns false.
  std::chrono::milliseconds stdin_write_timeout{0};
  // After the child is reaped, how long to keep reading its stdout/stderr for final output.
  std::chrono::milliseconds exit_drain_timeout{1000};
  // stderr lines longer than this are logged truncated; longer than stderr_max_line_bytes dropped.
  std::size_t stderr_log_line_bytes = 4096;
  std::size_t stderr_max_line_bytes = 64 * 1024;
  std::shared_ptr<spdlog::logger> logger;  // null: spdlog's default logger
};

// "exit code 3", "killed by signal 9 (SIGKILL)", ... for logs and error messages.
std::string describe_wait_status(int wait_status);

// One child process speaking newline-delimited messages on stdin/stdout. Linux only.
// All callbacks run on the process's strand. Create with make_shared. start(), send(), pid(),
// running() and the counters may be called from any thread.
class StdioProcess : public std::enable_shared_from_this<StdioProcess> {
 public:
  using LineHandler = std::function<void(std::string line)>;  // one complete stdout line
  using ExitHandler = std::function<void(int wait_status)>;   // the child was reaped
  // A stdout line over max_line_bytes was discarded: its first bytes and the size seen so far.
  using OversizedHandler = std::function<void(std::string_view head, std::size_t size)>;

  StdioProcess(boost::asio::any_io_executor ex, ProcessOptions opts);
  // Safety net: kills the group and reaps synchronously if a live child is still ours. While the
  // child runs its coroutines own the object, so in practice call stop() before tearing down the
  // io_context (Asio 1.81 does not destroy suspended coroutine frames then; PDEATHSIG still ends
  // the child when Bastion exits).
  ~StdioProcess();
  StdioProcess(const StdioProcess&) = delete;
  StdioProcess& operator=(const StdioProcess&) = delete;

  // Spawns the child: own process group, stdin/stdout/stderr pipes, every other fd closed, scrubbed
  // environment (opts.env + PATH, HOME, LANG), default signal dispositions, PR_SET_PDEATHSIG
  // (SIGKILL). Errors are values: ENOENT/EACCES for the command, EINVAL for bad env/args, the errno
  // of chdir/setrlimit/execve in the child, already_connected when called twice.
  boost::system::result<void> start(LineHandler on_line, ExitHandler on_exit);
  // Optional; call before start().
  void set_oversized_handler(OversizedHandler handler) { on_oversized_ = std::move(handler); }

  // Queues one message (a '\n' is appended) for stdin; writes keep order. Returns false if the
  // process is not running, its stdin is closed, or the queue would exceed max_stdin_queue_bytes.
  bool send(std::string line);

  // Graceful stop: close stdin, wait stdin_close_grace, SIGTERM the process group, wait
  // sigterm_grace, SIGKILL the process group. Reaps, runs the exit handler, then returns the wait
  // status. -1 if never started. Safe to call concurrently and after the child exited.
  boost::asio::awaitable<int> stop();

  pid_t pid() const { return pid_.load(); }  // 0 when not running
  bool running() const { return pid_.load() != 0; }
  // Wait status of the reaped child, nullopt while it runs or if it never started.
  std::optional<int> exit_status() const;

  // Counters for the metrics layer.
  std::uint64_t oversized_lines() const { return oversized_lines_.load(); }
  std::uint64_t stdout_lines() const { return stdout_lines_.load(); }
  std::uint64_t stdout_bytes() const { return stdout_bytes_.load(); }
  std::uint64_t send_rejected() const { return send_rejected_.load(); }
  std::size_t stdin_queued_bytes() const;
  bool stdin_stalled() const { return stdin_stalled_.load(); }  // killed by stdin_write_timeout

  const ProcessOptions& options() const { return opts_; }
  net::IoStrand strand() const { return strand_; }

 private:
  using Descriptor = boost::asio::posix::stream_descriptor;
  using Timer = boost::asio::steady_timer;

  // Coroutines run on the strand; `self` keeps the object alive while they are suspended.
  using Self = std::shared_ptr<StdioProcess>;
  boost::asio::awaitable<void> read_stdout(Self self);
  boost::asio::awaitable<void> read_stderr(Self self);
  boost::asio::awaitable<void> write_stdin(Self self);
  boost::asio::awaitable<void> reap(Self self);
  boost::asio::awaitable<int> do_stop(Self self);
  // Waits until the exit was reported or `d` passes; returns true when it was reported.
  boost::asio::awaitable<bool> wait_exited(std::chrono::steady_clock::duration d);
  // Strand-only helpers.
  void close_stdin();
  void reader_done();
  void signal_group(int sig);
  void on_stdin_stall();
  // stdout reached EOF or stdin refused a write while the child may still run: it can no longer
  // take part in the conversation, so unless it exits by itself it is stopped (SIGTERM, then
  // SIGKILL) and reported through the exit handler like any other exit.
  void on_pipe_lost(const char* what);
  boost::asio::awaitable<void> stop_after_pipe_loss(Self self, const char* what);
  void spawn_guarded(boost::asio::awaitable<void> task, const char* what);
  spdlog::logger& log() const;

  ProcessOptions opts_;
  net::IoStrand strand_;
  std::shared_ptr<spdlog::logger> logger_;

  // Strand-only state.
  Descriptor stdin_;
  Descriptor stdout_;
  Descriptor stderr_;
  Descriptor pidfd_;
  Timer writer_wake_;
  Timer drain_timer_;
  Timer write_watchdog_;
  std::vector<Timer*> reap_waiters_;
  LineHandler on_line_;
  ExitHandler on_exit_;
  OversizedHandler on_oversized_;
  int readers_running_ = 0;
  std::uint64_t write_gen_ = 0;  // lets a late write watchdog recognise it is stale
  bool started_ = false;
  bool stdin_closed_ = false;
  bool reaped_ = false;         // waitid done; no more signals may be sent
  bool exit_notified_ = false;  // exit handler ran; no more lines are delivered
  bool pipe_lost_ = false;      // on_pipe_lost() already acted
  pid_t pgid_ = 0;  // stays set after reaping for logs; signals only go out while !reaped_

  // Shared with send() on any thread.
  mutable std::mutex mu_;
  std::deque<std::string> queue_;
  std::size_t queued_bytes_ = 0;  // queued + in flight
  bool accepting_ = false;
  bool writer_idle_ = false;
  std::optional<int> exit_status_;

  std::atomic<pid_t> pid_{0};
  std::atomic<bool> start_called_{false};
  std::atomic<bool> stdin_stalled_{false};
  std::atomic<std::uint64_t> oversized_lines_{0};
  std::atomic<std::uint64_t> stdout_lines_{0};
  std::atomic<std::uint64_t> stdout_bytes_{0};
  std::atomic<std::uint64_t> send_rejected_{0};
};

}  // namespace bastion::upstream::stdio

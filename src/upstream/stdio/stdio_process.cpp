#include "upstream/stdio/stdio_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <exception>
#include <mutex>
#include <string_view>
#include <utility>

#include "upstream/stdio/line_framer.hpp"
#include "upstream/stdio/process_env.hpp"

namespace bastion::upstream::stdio {

namespace asio = boost::asio;
using asio::as_tuple;
using asio::use_awaitable;

namespace {

constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kMaxWriteBatch = 64;  // messages gathered into one write
// After SIGKILL only an uninterruptible sleep in the kernel can keep a process alive.
constexpr std::chrono::seconds kKillWait{10};
// A child that closes stdout is usually exiting: give the exit this long to show before acting.
constexpr std::chrono::milliseconds kPipeLossGrace{500};

// What the child reports through the CLOEXEC error pipe when it fails before exec.
enum class ChildStage : int { setpgid = 1, pdeathsig, dup2, close_fds, rlimit, chdir, exec };

struct ChildReport {
  int stage;
  int err;
};

const char* stage_name(int stage) {
  switch (static_cast<ChildStage>(stage)) {
    case ChildStage::setpgid:
      return "setpgid";
    case ChildStage::pdeathsig:
      return "prctl(PR_SET_PDEATHSIG)";
    case ChildStage::dup2:
      return "dup2";
    case ChildStage::close_fds:
      return "close_range";
    case ChildStage::rlimit:
      return "setrlimit";
    case ChildStage::chdir:
      return "chdir";
    case ChildStage::exec:
      return "execve";
  }
  return "spawn";
}

boost::system::error_code sys_error(int err) {
  return boost::system::error_code(err, boost::system::system_category());
}

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~UniqueFd() { reset(); }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// Keeps pipe ends off 0..2 so the child's dup2 onto stdin/stdout/stderr cannot clobber another end
// (possible when Bastion itself runs with a closed standard fd).
boost::system::result<UniqueFd> lift_fd(UniqueFd fd) {
  if (fd.get() > 2) return fd;
  const int lifted = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3);
  if (lifted < 0) return sys_error(errno);
  return UniqueFd(lifted);
}

boost::system::result<std::pair<UniqueFd, UniqueFd>> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return sys_error(errno);
  auto r = lift_fd(UniqueFd(fds[0]));
  auto w = lift_fd(UniqueFd(fds[1]));
  if (!r) return r.error();
  if (!w) return w.error();
  return std::pair{std::move(*r), std::move(*w)};
}

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0u)); }

int pidfd_send_signal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0u));
}

// siginfo from waitid -> the classic waitpid status, so WIFEXITED & co. work for callers.
int to_wait_status(const siginfo_t& info) {
  switch (info.si_code) {
    case CLD_EXITED:
      return (info.si_status & 0xff) << 8;
    case CLD_KILLED:
      return info.si_status & 0x7f;
    case CLD_DUMPED:
      return (info.si_status & 0x7f) | 0x80;
    default:
      return -1;
  }
}

// Without this, a write to the stdin of a child that already exited raises SIGPIPE and kills
// Bastion (Asio's descriptor writes use plain write(2)). Only replaces the default action.
void ignore_sigpipe_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction old {};
    if (::sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL &&
        (old.sa_flags & SA_SIGINFO) == 0) {
      struct sigaction ign {};
      ign.sa_handler = SIG_IGN;
      sigemptyset(&ign.sa_mask);
      ::sigaction(SIGPIPE, &ign, nullptr);
    }
  });
}

// Control characters from a child's stderr must not reach an operator's terminal or break a log
// line.
std::string sanitize_log_line(std::string_view line, std::size_t max_bytes) {
  const bool truncated = line.size() > max_bytes;
  std::string out(line.substr(0, max_bytes));
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) c = '?';
  }
  if (truncated) out += "... (" + std::to_string(line.size()) + " bytes)";
  return out;
}

struct SpawnPlan {
  std::string path;
  std::vector<std::string> argv_storage;
  std::vector<std::string> envp_storage;
  std::vector<char*> argv;
  std::vector<char*> envp;
  std::optional<std::string> working_dir;
  std::optional<rlimit> as_limit;
  std::optional<rlimit> nofile_limit;
  std::optional<rlimit> cpu_limit;
};

// Runs in the forked child: async-signal-safe calls only, no allocation, no locks.
[[noreturn]] void child_after_fork(const SpawnPlan& plan, int in_r, int out_w, int err_w,
                                   int report_w, pid_t parent) {
  auto fail = [report_w](ChildStage stage) {
    ChildReport r{static_cast<int>(stage), errno};
    [[maybe_unused]] ssize_t n = ::write(report_w, &r, sizeof r);
    ::_exit(127);
  };

  // Handlers installed by Bastion must not run here, and ignored signals (SIGPIPE) must not stay
  // ignored across exec. Signals are still blocked from before fork.
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ::sigaction(sig, &dfl, nullptr);  // fails harmlessly for glibc's reserved signals
  }

  // Own process group: stop() and the reaper signal the whole tree with kill(-pgid).
  if (::setpgid(0, 0) != 0) fail(ChildStage::setpgid);
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail(ChildStage::pdeathsig);
  // Bastion may have died between fork and prctl: then nobody would send the signal.
  if (::getppid() != parent) ::_exit(127);

  if (::dup2(in_r, STDIN_FILENO) < 0 || ::dup2(out_w, STDOUT_FILENO) < 0 ||
      ::dup2(err_w, STDERR_FILENO) < 0) {
    fail(ChildStage::dup2);
  }

  // Every inherited fd other than 0..2 goes away at exec (also ones opened without O_CLOEXEC by
  // libraries); the report pipe survives until exec so a failure can still be reported.
  if (::close_range(3, ~0u, CLOSE_RANGE_CLOEXEC) != 0) {
    rlimit nofile{};
    if (::getrlimit(RLIMIT_NOFILE, &nofile) != 0) fail(ChildStage::close_fds);
    const rlim_t cap = std::min<rlim_t>(nofile.rlim_cur, 1 << 20);
    for (rlim_t fd = 3; fd < cap; ++fd) {
      if (static_cast<int>(fd) != report_w) ::close(static_cast<int>(fd));
    }
  }

  // Limits after closing fds, so a low RLIMIT_NOFILE cannot hide fds from the close loop above.
  if (plan.as_limit && ::setrlimit(RLIMIT_AS, &*plan.as_limit) != 0) fail(ChildStage::rlimit);
  if (plan.nofile_limit && ::setrlimit(RLIMIT_NOFILE, &*plan.nofile_limit) != 0) {
    fail(ChildStage::rlimit);
  }
  if (plan.cpu_limit && ::setrlimit(RLIMIT_CPU, &*plan.cpu_limit) != 0) fail(ChildStage::rlimit);
  if (plan.working_dir && ::chdir(plan.working_dir->c_str()) != 0) fail(ChildStage::chdir);

  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);

  ::execve(plan.path.c_str(), plan.argv.data(), plan.envp.data());
  fail(ChildStage::exec);
  ::_exit(127);  // unreachable; keeps [[noreturn]] obvious
}

}  // namespace

std::string describe_wait_status(int status) {
  if (status < 0) return "unknown";
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* abbrev = ::sigabbrev_np(sig);
    std::string out = "killed by signal " + std::to_string(sig);
    if (abbrev) out += std::string(" (SIG") + abbrev + ")";
    if (WCOREDUMP(status)) out += ", core dumped";
    return out;
  }
  return "status " + std::to_string(status);
}

StdioProcess::StdioProcess(asio::any_io_executor ex, ProcessOptions opts)
    : opts_(std::move(opts)),
      strand_(net::make_io_strand(ex)),
      logger_(opts_.logger ? opts_.logger : spdlog::default_logger()),
      stdin_(strand_),
      stdout_(strand_),
      stderr_(strand_),
      pidfd_(strand_),
      writer_wake_(strand_),
      drain_timer_(strand_),
      write_watchdog_(strand_) {}

StdioProcess::~StdioProcess() {
  // Normally unreachable with a live child (its coroutines own us); if it happens, no coroutine
  // will ever reap it, so do it here (SIGKILL cannot be ignored; the wait is short).
  if (pid_.load() == 0 || reaped_) return;
  const int fd = pidfd_.is_open() ? pidfd_.native_handle() : -1;
  ::kill(-pgid_, SIGKILL);
  if (fd >= 0) {
    pidfd_send_signal(fd, SIGKILL);
    siginfo_t info{};
    while (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(fd), &info, WEXITED) != 0 &&
           errno == EINTR) {
    }
  }
}

spdlog::logger& StdioProcess::log() const { return *logger_; }

std::optional<int> StdioProcess::exit_status() const {
  std::lock_guard lock(mu_);
  return exit_status_;
}

std::size_t StdioProcess::stdin_queued_bytes() const {
  std::lock_guard lock(mu_);
  return queued_bytes_;
}

boost::system::result<void> StdioProcess::start(LineHandler on_line, ExitHandler on_exit) {
  namespace errc = boost::system::errc;
  if (start_called_.exchange(true)) return errc::make_error_code(errc::already_connected);
  ignore_sigpipe_once();

  auto env = build_child_env(opts_.env, process_env_lookup);
  if (!env) return env.error();
  for (const auto& a : opts_.args) {
    if (a.find('\0') != std::string::npos) return errc::make_error_code(errc::invalid_argument);
  }
  auto path = resolve_command(opts_.command, env->at("PATH"), opts_.working_dir);
  if (!path) {
    log().warn("[upstream {}] cannot start '{}': {}", opts_.name, opts_.command,
               path.error().message());
    return path.error();
  }

  // Everything the child needs is built now: after fork only async-signal-safe calls are allowed.
  SpawnPlan plan;
  plan.path = path->string();
  plan.argv_storage.reserve(opts_.args.size() + 1);
  plan.argv_storage.push_back(opts_.command);
  plan.argv_storage.insert(plan.argv_storage.end(), opts_.args.begin(), opts_.args.end());
  plan.envp_storage = to_envp_strings(*env);
  for (auto& s : plan.argv_storage) plan.argv.push_back(s.data());
  plan.argv.push_back(nullptr);
  for (auto& s : plan.envp_storage) plan.envp.push_back(s.data());
  plan.envp.push_back(nullptr);
  if (opts_.working_dir) plan.working_dir = opts_.working_dir->string();
  if (opts_.limits.address_space_bytes) {
    const auto v = static_cast<rlim_t>(*opts_.limits.address_space_bytes);
    plan.as_limit = rlimit{v, v};
  }
  if (opts_.limits.open_files) {
    const auto v = static_cast<rlim_t>(*opts_.limits.open_files);
    plan.nofile_limit = rlimit{v, v};
  }
  if (opts_.limits.cpu_seconds) {
    // Soft limit first (SIGXCPU, catchable), hard limit a little later (SIGKILL).
    const auto v = static_cast<rlim_t>(*opts_.limits.cpu_seconds);
    plan.cpu_limit = rlimit{v, v + 5};
  }

  auto in = make_pipe();
  auto out = make_pipe();
  auto err = make_pipe();
  auto report = make_pipe();
  for (auto* p : {&in, &out, &err, &report}) {
    if (!*p) return p->error();
  }
  auto& [in_r, in_w] = *in;
  auto& [out_r, out_w] = *out;
  auto& [err_r, err_w] = *err;
  auto& [report_r, report_w] = *report;

  const pid_t parent = ::getpid();
  // Block every signal across fork so no Bastion handler runs in the child before it resets them.
  sigset_t all, saved;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &saved);
  const pid_t child = ::fork();
  if (child == 0) {
    child_after_fork(plan, in_r.get(), out_w.get(), err_w.get(), report_w.get(), parent);
  }
  const int fork_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  if (child < 0) {
    log().error("[upstream {}] fork failed: {}", opts_.name, std::strerror(fork_errno));
    return sys_error(fork_errno);
  }

  // Also from the parent, so the group exists before we ever signal it (no race with the child).
  ::setpgid(child, child);
  in_r.reset();
  out_w.reset();
  err_w.reset();
  report_w.reset();

  // Opened before the child can be reaped, so the pidfd cannot refer to a recycled pid.
  UniqueFd pidfd(pidfd_open(child));
  const int pidfd_errno = errno;

  ChildReport rep{};
  ssize_t n;
  do {
    n = ::read(report_r.get(), &rep, sizeof rep);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof rep) || pidfd.get() < 0) {
    if (n != static_cast<ssize_t>(sizeof rep)) ::kill(child, SIGKILL);
    int st = 0;
    while (::waitpid(child, &st, 0) < 0 && errno == EINTR) {
    }
    if (n == static_cast<ssize_t>(sizeof rep)) {
      log().warn("[upstream {}] cannot start '{}': {} failed: {}", opts_.name, opts_.command,
                 stage_name(rep.stage), std::strerror(rep.err));
      return sys_error(rep.err);
    }
    log().error("[upstream {}] pidfd_open failed: {}", opts_.name, std::strerror(pidfd_errno));
    return sys_error(pidfd_errno);
  }

  boost::system::error_code ec;
  stdin_.assign(in_w.release(), ec);
  if (!ec) stdout_.assign(out_r.release(), ec);
  if (!ec) stderr_.assign(err_r.release(), ec);
  if (!ec) pidfd_.assign(pidfd.release(), ec);
  if (!ec) stdin_.non_blocking(true, ec);
  if (!ec) stdout_.non_blocking(true, ec);
  if (!ec) stderr_.non_blocking(true, ec);
  pid_ = child;
  pgid_ = child;
  started_ = true;
  if (ec) {
    // Registration with the reactor failed: do not leave a child nobody watches.
    log().error("[upstream {}] cannot watch pid {}: {}", opts_.name, child, ec.message());
    ::kill(-child, SIGKILL);
    siginfo_t info{};
    if (pidfd_.is_open()) {
      while (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_.native_handle()),
                      &info, WEXITED) != 0 &&
             errno == EINTR) {
      }
    } else {
      int st = 0;
      while (::waitpid(child, &st, 0) < 0 && errno == EINTR) {
      }
    }
    reaped_ = true;
    pid_ = 0;
    return ec;
  }

  on_line_ = std::move(on_line);
  on_exit_ = std::move(on_exit);
  {
    std::lock_guard lock(mu_);
    accepting_ = true;
  }
  readers_running_ = 2;
  log().info("[upstream {}] started pid {} ({})", opts_.name, child, plan.path);

  auto self = shared_from_this();
  spawn_guarded(read_stdout(self), "stdout reader");
  spawn_guarded(read_stderr(self), "stderr reader");
  spawn_guarded(write_stdin(self), "stdin writer");
  spawn_guarded(reap(self), "reaper");
  return {};
}

void StdioProcess::spawn_guarded(asio::awaitable<void> task, const char* what) {
  // The completion handler is the error barrier: an unexpected exception is logged, never rethrown
  // into the io_context.
  asio::co_spawn(strand_, std::move(task), [self = shared_from_this(), what](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      self->log().error("[upstream {}] {} failed: {}", self->opts_.name, what, x.what());
    } catch (...) {
      self->log().error("[upstream {}] {} failed", self->opts_.name, what);
    }
  });
}

bool StdioProcess::send(std::string line) {
  line.push_back('\n');
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (!accepting_ || line.size() > opts_.max_stdin_queue_bytes ||
        queued_bytes_ > opts_.max_stdin_queue_bytes - line.size()) {
      ++send_rejected_;
      return false;
    }
    queued_bytes_ += line.size();
    queue_.push_back(std::move(line));
    wake = std::exchange(writer_idle_, false);
  }
  // The writer marked itself idle under the lock and suspends on the strand before this posted
  // cancel can run, so the wake-up cannot be lost.
  if (wake) asio::post(strand_, [self = shared_from_this()] { self->writer_wake_.cancel(); });
  return true;
}

asio::awaitable<void> StdioProcess::write_stdin(std::shared_ptr<StdioProcess> self) {
  std::vector<std::string> batch;
  std::vector<asio::const_buffer> buffers;
  batch.reserve(kMaxWriteBatch);
  buffers.reserve(kMaxWriteBatch);
  while (!stdin_closed_) {
    std::size_t bytes = 0;
    {
      std::lock_guard lock(mu_);
      while (!queue_.empty() && batch.size() < kMaxWriteBatch) {
        bytes += queue_.front().size();
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      if (batch.empty()) writer_idle_ = true;
    }
    if (batch.empty()) {
      writer_wake_.expires_at(Timer::time_point::max());
      co_await writer_wake_.async_wait(as_tuple(use_awaitable));
      continue;
    }

    buffers.clear();
    for (const auto& m : batch) buffers.emplace_back(asio::buffer(m));
    const std::uint64_t gen = ++write_gen_;
    if (opts_.stdin_write_timeout.count() > 0) {
      write_watchdog_.expires_after(opts_.stdin_write_timeout);
      write_watchdog_.async_wait([weak = weak_from_this(), gen](boost::system::error_code ec) {
        auto p = weak.lock();
        if (!ec && p && p->write_gen_ == gen) p->on_stdin_stall();
      });
    }
    auto [ec, n] = co_await asio::async_write(stdin_, buffers, as_tuple(use_awaitable));
    ++write_gen_;  // a watchdog that already fired for this write is now stale
    write_watchdog_.cancel();
    batch.clear();
    {
      std::lock_guard lock(mu_);
      queued_bytes_ -= bytes;
    }
    if (ec) {
      if (ec != asio::error::operation_aborted) {
        log().debug("[upstream {}] stdin closed: {}", opts_.name, ec.message());
        on_pipe_lost("closed its stdin");
      }
      close_stdin();
    }
  }
  (void)self;
}

void StdioProcess::on_stdin_stall() {
  if (reaped_) return;
  stdin_stalled_ = true;
  log().warn("[upstream {}] pid {} has not read stdin for {} ms; killing it", opts_.name,
             pid_.load(), opts_.stdin_write_timeout.count());
  signal_group(SIGKILL);
}

void StdioProcess::close_stdin() {
  if (stdin_closed_) return;
  stdin_closed_ = true;
  {
    std::lock_guard lock(mu_);
    accepting_ = false;
    writer_idle_ = false;
    for (const auto& m : queue_) queued_bytes_ -= m.size();
    queue_.clear();
  }
  boost::system::error_code ec;
  stdin_.close(ec);  // aborts a pending write; the child sees EOF
  writer_wake_.cancel();
  write_watchdog_.cancel();
}

asio::awaitable<void> StdioProcess::read_stdout(std::shared_ptr<StdioProcess> self) {
  std::array<char, kReadChunk> buf;
  LineFramer framer(opts_.max_line_bytes);
  auto deliver = [this](std::string_view line) {
    if (exit_notified_) return;  // a read that completed while the exit was being reported
    ++stdout_lines_;
    if (!on_line_) return;
    try {
      on_line_(std::string(line));
    } catch (const std::exception& x) {
      log().error("[upstream {}] line handler threw: {}", opts_.name, x.what());
    }
  };
  auto oversized = [this, &framer](std::size_t size) {
    ++oversized_lines_;
    log().warn("[upstream {}] stdout line over {} bytes discarded ({} bytes so far)", opts_.name,
               opts_.max_line_bytes, size);
    if (exit_notified_ || !on_oversized_) return;
    try {
      on_oversized_(framer.oversized_head(), size);
    } catch (const std::exception& x) {
      log().error("[upstream {}] oversized-line handler threw: {}", opts_.name, x.what());
    }
  };
  for (;;) {
    auto [ec, n] = co_await stdout_.async_read_some(asio::buffer(buf), as_tuple(use_awaitable));
    if (n > 0) {
      stdout_bytes_ += n;
      framer.feed(std::string_view(buf.data(), n), deliver, oversized);
    }
    if (ec) {
      if (ec == asio::error::eof) framer.finish(deliver);
      if (ec != asio::error::operation_aborted) on_pipe_lost("closed its stdout");
      break;
    }
  }
  reader_done();
  (void)self;
}

void StdioProcess::on_pipe_lost(const char* what) {
  if (reaped_ || pipe_lost_) return;
  pipe_lost_ = true;
  spawn_guarded(stop_after_pipe_loss(shared_from_this(), what), "pipe loss handler");
}

asio::awaitable<void> StdioProcess::stop_after_pipe_loss(std::shared_ptr<StdioProcess> self,
                                                         const char* what) {
  // Written as plain statements: GCC 12 mis-handles co_await inside an if condition here.
  bool exited = co_await wait_exited(kPipeLossGrace);  // it was exiting anyway
  if (!exited) {
    log().warn("[upstream {}] pid {} {} but keeps running; stopping it", opts_.name, pid_.load(),
               what);
    close_stdin();
    signal_group(SIGTERM);
    exited = co_await wait_exited(opts_.sigterm_grace);
  }
  if (!exited) signal_group(SIGKILL);
  (void)self;
}

asio::awaitable<void> StdioProcess::read_stderr(std::shared_ptr<StdioProcess> self) {
  std::array<char, kReadChunk> buf;
  LineFramer framer(std::max<std::size_t>(opts_.stderr_max_line_bytes, 1));
  auto log_line = [this](std::string_view line) {
    log().info("[upstream {}] {}", opts_.name,
               sanitize_log_line(line, std::max<std::size_t>(opts_.stderr_log_line_bytes, 1)));
  };
  auto oversized = [this](std::size_t size) {
    log().warn("[upstream {}] stderr line over {} bytes dropped ({} bytes so far)", opts_.name,
               opts_.stderr_max_line_bytes, size);
  };
  for (;;) {
    auto [ec, n] = co_await stderr_.async_read_some(asio::buffer(buf), as_tuple(use_awaitable));
    if (n > 0) framer.feed(std::string_view(buf.data(), n), log_line, oversized);
    if (ec) {
      if (ec == asio::error::eof) framer.finish(log_line);
      break;
    }
  }
  reader_done();
  (void)self;
}

void StdioProcess::reader_done() {
  if (--readers_running_ == 0) drain_timer_.cancel();
}

void StdioProcess::signal_group(int sig) {
  // Only while the child is unreaped: its zombie pins the pid, so neither the group id nor the
  // pidfd can name a recycled process. The pidfd reaches the child even if it left its group.
  if (reaped_ || pgid_ <= 0) return;
  ::kill(-pgid_, sig);
  if (pidfd_.is_open()) pidfd_send_signal(pidfd_.native_handle(), sig);
}

asio::awaitable<void> StdioProcess::reap(std::shared_ptr<StdioProcess> self) {
  auto [wait_ec] = co_await pidfd_.async_wait(Descriptor::wait_read, as_tuple(use_awaitable));
  if (wait_ec == asio::error::operation_aborted) co_return;  // torn down; the destructor reaps
  if (wait_ec) {
    // Cannot watch the child any more: kill it rather than block in waitid on a live process.
    log().error("[upstream {}] pidfd wait failed: {}", opts_.name, wait_ec.message());
    pidfd_send_signal(pidfd_.native_handle(), SIGKILL);
  }

  // The child is a zombie now. Kill what is left of its group (grandchildren) before reaping,
  // while the zombie still pins the group id.
  ::kill(-pgid_, SIGKILL);
  siginfo_t info{};
  int rc;
  do {
    rc = ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_.native_handle()), &info,
                  WEXITED);
  } while (rc != 0 && errno == EINTR);
  const int status = rc == 0 ? to_wait_status(info) : -1;
  if (rc != 0) log().error("[upstream {}] waitid failed: {}", opts_.name, std::strerror(errno));
  const pid_t old_pid = pid_.exchange(0);
  reaped_ = true;
  {
    std::lock_guard lock(mu_);
    exit_status_ = status;
  }
  close_stdin();
  boost::system::error_code ec;
  pidfd_.close(ec);

  // Let the readers deliver what the child wrote just before exiting, but not forever: a
  // grandchild that escaped the group could hold the pipes open.
  if (readers_running_ > 0) {
    drain_timer_.expires_after(opts_.exit_drain_timeout);
    co_await drain_timer_.async_wait(as_tuple(use_awaitable));
  }
  stdout_.close(ec);
  stderr_.close(ec);

  log().info("[upstream {}] pid {} exited: {}", opts_.name, old_pid, describe_wait_status(status));
  exit_notified_ = true;
  // Handlers often capture their owner; dropping them here breaks the ownership cycle.
  auto on_exit = std::move(on_exit_);
  on_exit_ = nullptr;
  on_line_ = nullptr;
  on_oversized_ = nullptr;
  if (on_exit) {
    try {
      on_exit(status);
    } catch (const std::exception& x) {
      log().error("[upstream {}] exit handler threw: {}", opts_.name, x.what());
    }
  }
  for (Timer* t : reap_waiters_) t->cancel();
  (void)self;
}

asio::awaitable<bool> StdioProcess::wait_exited(std::chrono::steady_clock::duration d) {
  if (exit_notified_) co_return true;
  Timer timer(strand_);
  timer.expires_after(d);
  reap_waiters_.push_back(&timer);
  struct Unregister {
    std::vector<Timer*>& list;
    Timer* t;
    ~Unregister() { std::erase(list, t); }
  } unregister{reap_waiters_, &timer};
  co_await timer.async_wait(as_tuple(use_awaitable));
  co_return exit_notified_;
}

asio::awaitable<int> StdioProcess::do_stop(std::shared_ptr<StdioProcess> self) {
  if (!started_) co_return -1;
  if (!exit_notified_) {
    // Each step escalates only if the previous one did not end the process.
    close_stdin();
    bool done = co_await wait_exited(opts_.stdin_close_grace);
    if (!done) {
      signal_group(SIGTERM);
      done = co_await wait_exited(opts_.sigterm_grace);
    }
    if (!done) {
      if (!reaped_) {
        log().warn("[upstream {}] pid {} ignored SIGTERM for {} ms; sending SIGKILL", opts_.name,
                   pid_.load(), opts_.sigterm_grace.count());
      }
      signal_group(SIGKILL);
      done = co_await wait_exited(kKillWait + opts_.exit_drain_timeout);
    }
    if (!done) {
      log().error("[upstream {}] pid {} did not die after SIGKILL", opts_.name, pid_.load());
      co_return -1;
    }
  }
  (void)self;
  std::lock_guard lock(mu_);
  co_return exit_status_.value_or(-1);
}

asio::awaitable<int> StdioProcess::stop() {
  // Not a coroutine itself, so the reference is taken at the call. The sequence runs on the
  // strand; the caller resumes on its own executor.
  return asio::co_spawn(strand_, do_stop(shared_from_this()), use_awaitable);
}

}  // namespace bastion::upstream::stdio

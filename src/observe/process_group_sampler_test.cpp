#include "observe/process_group_sampler.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace bastion::observe {
namespace {

// Kills and reaps a child we forked, by PID, whatever the test outcome.
struct ChildGuard {
  pid_t pid = -1;
  ~ChildGuard() { reap(); }
  void reap() {
    if (pid <= 0) return;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    pid = -1;
  }
};

// Waits up to timeout_ms for fd to become readable or hit EOF; returns the read() result.
ssize_t read_with_timeout(int fd, char* byte, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) != 1) return -2;
  return ::read(fd, byte, 1);
}

double process_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double monotonic_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

constexpr std::size_t kAllocation = 64u << 20;

TEST(ProcessGroupSampler, SumsALiveGroupAndFollowsItsMembers) {
  // Leader: `sleep` in its own process group. A close-on-exec pipe reports a successful exec as EOF.
  int exec_pipe[2];
  ASSERT_EQ(::pipe2(exec_pipe, O_CLOEXEC), 0);
  const pid_t leader = ::fork();
  ASSERT_GE(leader, 0);
  if (leader == 0) {
    ::setpgid(0, 0);
    ::execlp("sleep", "sleep", "120", static_cast<char*>(nullptr));
    const char failed = 1;
    (void)!::write(exec_pipe[1], &failed, 1);
    ::_exit(127);
  }
  ChildGuard leader_guard{leader};
  ::setpgid(leader, leader);  // also from the parent, so the group exists whoever runs first
  ::close(exec_pipe[1]);
  char byte = 0;
  ASSERT_EQ(read_with_timeout(exec_pipe[0], &byte, 10000), 0) << "exec of sleep failed";
  ::close(exec_pipe[0]);

  const ProcessGroupSampler sampler;
  const auto base = sampler.sample(leader);
  EXPECT_EQ(base.processes, 1u);
  // No check on base.rss_bytes: right after exec the new image may not have touched a page yet.

  // Member: joins the group, touches 64 MiB and burns some CPU, then reports and waits to be killed.
  int ready[2];
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  const pid_t member = ::fork();
  ASSERT_GE(member, 0);
  if (member == 0) {
    ::setpgid(0, leader);
    void* memory = ::mmap(nullptr, kAllocation, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) ::_exit(1);
    auto* bytes = static_cast<volatile char*>(memory);
    for (std::size_t i = 0; i < kAllocation; i += 4096) bytes[i] = 1;
    const double deadline = monotonic_seconds() + 30;
    volatile std::uint64_t spin = 0;
    while (process_cpu_seconds() < 0.3 && monotonic_seconds() < deadline) {
      for (int k = 0; k < 100000; ++k) spin = spin + 1;
    }
    const char ok = 'r';
    (void)!::write(ready[1], &ok, 1);
    for (;;) ::pause();
  }
  ChildGuard member_guard{member};
  ::setpgid(member, leader);
  ::close(ready[1]);
  ASSERT_EQ(read_with_timeout(ready[0], &byte, 60000), 1) << "member did not get ready";
  ::close(ready[0]);

  const auto grown = sampler.sample(leader);
  EXPECT_EQ(grown.processes, 2u);
  EXPECT_GE(grown.rss_bytes, base.rss_bytes + kAllocation);
  EXPECT_GE(grown.cpu_seconds, 0.25);

  // One scan for several groups agrees; our own group is separate.
  const auto both = sampler.sample(std::vector<pid_t>{leader, ::getpgrp(), 0});
  ASSERT_EQ(both.size(), 3u);
  EXPECT_EQ(both[0].processes, 2u);
  EXPECT_GE(both[1].processes, 1u);
  EXPECT_EQ(both[2].processes, 0u);

  // A killed but unreaped member is a zombie: no longer counted.
  ASSERT_EQ(::kill(member, SIGKILL), 0);
  siginfo_t info{};
  ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(member), &info, WEXITED | WNOWAIT), 0);
  const auto zombie = sampler.sample(leader);
  EXPECT_EQ(zombie.processes, 1u);
  EXPECT_LT(zombie.rss_bytes, grown.rss_bytes - kAllocation / 2);

  member_guard.reap();
  leader_guard.reap();
  const auto gone = sampler.sample(leader);
  EXPECT_EQ(gone.processes, 0u);
  EXPECT_EQ(gone.rss_bytes, 0u);
  EXPECT_EQ(gone.cpu_seconds, 0.0);
}

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

std::string stat_line(int pid, std::string_view comm, char state, int pgrp, int utime, int stime, int rss) {
  return std::to_string(pid) + " (" + std::string(comm) + ") " + state + " 1 " + std::to_string(pgrp) + " " +
         std::to_string(pgrp) + " 0 -1 4194560 0 0 0 0 " + std::to_string(utime) + " " + std::to_string(stime) +
         " 0 0 20 0 1 0 1000 1000000 " + std::to_string(rss) + " 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0\n";
}

TEST(ProcessGroupSampler, SkipsVanishedGarbageAndZombieEntries) {
  char dir_template[] = "/tmp/bastion-fakeproc-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::filesystem::path root(dir_template);
  write_file(root / "100" / "stat", stat_line(100, "agent", 'S', 50, 100, 50, 10));
  write_file(root / "101" / "stat", stat_line(101, "we) ird (name", 'R', 50, 10, 0, 5));
  write_file(root / "102" / "stat", stat_line(102, "other", 'S', 51, 7, 7, 99));
  std::filesystem::create_directories(root / "103");  // vanished: no stat file
  write_file(root / "104" / "stat", "garbage");
  write_file(root / "105" / "stat", stat_line(105, "dead", 'Z', 50, 500, 500, 0));
  write_file(root / "self" / "stat", stat_line(100, "agent", 'S', 50, 100, 50, 10));  // not numeric
  write_file(root / "stat", "btime 1\n");

  const ProcessGroupSampler sampler(ProcessGroupSamplerOptions{.proc_root = root.string(), .page_size = 4096,
                                                               .clock_ticks = 100});
  const auto usage = sampler.sample(50);
  EXPECT_EQ(usage.processes, 2u);
  EXPECT_EQ(usage.rss_bytes, 15u * 4096);
  EXPECT_DOUBLE_EQ(usage.cpu_seconds, 1.6);
  EXPECT_EQ(sampler.sample(51).processes, 1u);
  EXPECT_EQ(sampler.sample(52).processes, 0u);

  const ProcessGroupSampler missing(ProcessGroupSamplerOptions{.proc_root = (root / "nope").string()});
  EXPECT_EQ(missing.sample(50).processes, 0u);
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace bastion::observe

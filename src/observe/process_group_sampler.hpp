#pragma once
// Resource usage of whole process groups (a stdio agent and everything it spawned), from /proc.
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace bastion::observe {

struct GroupUsage {
  std::uint64_t rss_bytes = 0;
  // utime + stime of the members alive now: drops when a member exits, so export it as a gauge.
  double cpu_seconds = 0.0;
  std::size_t processes = 0;
};

struct ProcessGroupSamplerOptions {
  std::string proc_root = "/proc";
  long page_size = 0;    // 0: sysconf(_SC_PAGESIZE)
  long clock_ticks = 0;  // 0: sysconf(_SC_CLK_TCK)
};

// Scans <proc_root>/<pid>/stat for members of the group(s). RSS is the stat rss field (the same
// kernel counter as statm's resident column, so one read per process). Zombies are not counted.
// Processes that vanish or are unreadable mid-scan are skipped. Cost: one small read per process on
// the host, so sample every few seconds, not per request. Thread-safe (no mutable state).
class ProcessGroupSampler {
 public:
  explicit ProcessGroupSampler(ProcessGroupSamplerOptions options = {});

  GroupUsage sample(pid_t pgid) const;
  // One scan for many groups; the result is parallel to pgids.
  std::vector<GroupUsage> sample(const std::vector<pid_t>& pgids) const;

 private:
  ProcessGroupSamplerOptions options_;
};

}  // namespace bastion::observe

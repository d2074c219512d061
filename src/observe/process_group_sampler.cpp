#include "observe/process_group_sampler.hpp"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>

#include "observe/proc_stat.hpp"

namespace bastion::observe {

namespace {

bool all_digits(const char* s) {
  if (*s == '\0') return false;
  for (; *s != '\0'; ++s) {
    if (*s < '0' || *s > '9') return false;
  }
  return true;
}

}  // namespace

ProcessGroupSampler::ProcessGroupSampler(ProcessGroupSamplerOptions options) : options_(std::move(options)) {
  if (options_.page_size <= 0) options_.page_size = ::sysconf(_SC_PAGESIZE);
  if (options_.clock_ticks <= 0) options_.clock_ticks = ::sysconf(_SC_CLK_TCK);
  if (options_.page_size <= 0) options_.page_size = 4096;
  if (options_.clock_ticks <= 0) options_.clock_ticks = 100;
}

GroupUsage ProcessGroupSampler::sample(pid_t pgid) const { return sample(std::vector<pid_t>{pgid}).front(); }

std::vector<GroupUsage> ProcessGroupSampler::sample(const std::vector<pid_t>& pgids) const {
  std::vector<GroupUsage> usage(pgids.size());
  DIR* dir = ::opendir(options_.proc_root.c_str());
  if (dir == nullptr) return usage;
  std::vector<std::uint64_t> ticks(pgids.size(), 0);
  std::string path;
  while (const dirent* entry = ::readdir(dir)) {
    if (!all_digits(entry->d_name)) continue;
    path.assign(options_.proc_root).append("/").append(entry->d_name).append("/stat");
    const auto text = read_small_file(path, 4096);
    if (!text) continue;  // exited since readdir
    const auto stat = parse_proc_stat(*text);
    if (!stat || stat->state == 'Z' || stat->state == 'X') continue;
    for (std::size_t i = 0; i < pgids.size(); ++i) {
      if (pgids[i] <= 0 || stat->pgrp != pgids[i]) continue;
      usage[i].processes += 1;
      usage[i].rss_bytes += static_cast<std::uint64_t>(std::max<std::int64_t>(stat->rss_pages, 0)) *
                            static_cast<std::uint64_t>(options_.page_size);
      ticks[i] += stat->utime_ticks + stat->stime_ticks;
    }
  }
  ::closedir(dir);
  for (std::size_t i = 0; i < pgids.size(); ++i) {
    usage[i].cpu_seconds = static_cast<double>(ticks[i]) / static_cast<double>(options_.clock_ticks);
  }
  return usage;
}

}  // namespace bastion::observe

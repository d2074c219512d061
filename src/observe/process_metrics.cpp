#include "observe/process_metrics.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstring>

#include "observe/proc_stat.hpp"

namespace bastion::observe {

namespace {

std::optional<ProcStat> self_stat() {
  const auto text = read_small_file("/proc/self/stat");
  if (!text) return std::nullopt;
  return parse_proc_stat(*text);
}

double clock_ticks() {
  const long ticks = ::sysconf(_SC_CLK_TCK);
  return ticks > 0 ? static_cast<double>(ticks) : 100.0;
}

double page_size() {
  const long size = ::sysconf(_SC_PAGESIZE);
  return size > 0 ? static_cast<double>(size) : 4096.0;
}

std::optional<double> open_fds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return std::nullopt;
  double count = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (std::strcmp(entry->d_name, ".") != 0 && std::strcmp(entry->d_name, "..") != 0) ++count;
  }
  ::closedir(dir);
  return count > 0 ? count - 1 : 0;  // not counting the descriptor of the listing itself
}

std::optional<double> max_fds() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return std::nullopt;
  return static_cast<double>(limit.rlim_cur);
}

std::optional<double> start_time_seconds() {
  const auto stat = self_stat();
  const auto proc_stat = read_small_file("/proc/stat", 1 << 20);
  if (!stat || !proc_stat) return std::nullopt;
  const auto boot = parse_boot_time(*proc_stat);
  if (!boot) return std::nullopt;
  return static_cast<double>(*boot) + static_cast<double>(stat->starttime_ticks) / clock_ticks();
}

CallbackFn optional_sample(std::optional<double> (*read)()) {
  return [read] {
    std::vector<CallbackSample> out;
    if (const auto v = read()) out.push_back(CallbackSample{{}, *v});
    return out;
  };
}

}  // namespace

std::optional<ProcessSnapshot> read_process_snapshot() {
  const auto stat = self_stat();
  if (!stat) return std::nullopt;
  ProcessSnapshot snapshot;
  snapshot.cpu_seconds = static_cast<double>(stat->utime_ticks + stat->stime_ticks) / clock_ticks();
  snapshot.resident_memory_bytes = static_cast<double>(stat->rss_pages) * page_size();
  snapshot.virtual_memory_bytes = static_cast<double>(stat->vsize_bytes);
  snapshot.open_fds = open_fds().value_or(0.0);
  snapshot.max_fds = max_fds().value_or(0.0);
  snapshot.start_time_seconds = start_time_seconds().value_or(0.0);
  return snapshot;
}

void register_process_metrics(Registry& registry) {
  registry.callback_counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", {},
                            optional_sample(+[]() -> std::optional<double> {
                              const auto stat = self_stat();
                              if (!stat) return std::nullopt;
                              return static_cast<double>(stat->utime_ticks + stat->stime_ticks) / clock_ticks();
                            }));
  registry.callback_gauge("process_resident_memory_bytes", "Resident memory size in bytes.", {},
                          optional_sample(+[]() -> std::optional<double> {
                            const auto stat = self_stat();
                            if (!stat) return std::nullopt;
                            return static_cast<double>(stat->rss_pages) * page_size();
                          }));
  registry.callback_gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", {},
                          optional_sample(+[]() -> std::optional<double> {
                            const auto stat = self_stat();
                            if (!stat) return std::nullopt;
                            return static_cast<double>(stat->vsize_bytes);
                          }));
  registry.callback_gauge("process_open_fds", "Number of open file descriptors.", {}, optional_sample(&open_fds));
  registry.callback_gauge("process_max_fds", "Maximum number of open file descriptors.", {},
                          optional_sample(&max_fds));
  // Constant for the life of the process: computed once.
  const auto start = start_time_seconds();
  registry.callback_gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", {},
                          [start] {
                            std::vector<CallbackSample> out;
                            if (start) out.push_back(CallbackSample{{}, *start});
                            return out;
                          });
}

}  // namespace bastion::observe

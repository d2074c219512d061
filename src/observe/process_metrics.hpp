#pragma once
// The standard process_* metrics of this process, read from /proc/self at scrape time.
#include <optional>

#include "observe/metrics.hpp"

namespace bastion::observe {

struct ProcessSnapshot {
  double cpu_seconds = 0.0;            // utime + stime
  double resident_memory_bytes = 0.0;
  double virtual_memory_bytes = 0.0;
  double open_fds = 0.0;
  double max_fds = 0.0;                // soft RLIMIT_NOFILE
  double start_time_seconds = 0.0;     // since the epoch
};

// Reads everything once; nullopt when /proc is unavailable.
std::optional<ProcessSnapshot> read_process_snapshot();

// Registers process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
// process_open_fds, process_max_fds and process_start_time_seconds as callback metrics. A value
// that cannot be read is simply absent from that scrape. Idempotent.
void register_process_metrics(Registry& registry);

}  // namespace bastion::observe

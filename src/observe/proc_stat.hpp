#pragma once
// Parsing of the Linux /proc files the process samplers read. Pure parsers plus one bounded reader.
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bastion::observe {

// The fields of /proc/<pid>/stat (proc(5)) that the samplers use.
struct ProcStat {
  pid_t pid = 0;
  char state = '?';
  pid_t ppid = 0;
  pid_t pgrp = 0;
  std::uint64_t utime_ticks = 0;
  std::uint64_t stime_ticks = 0;
  std::uint64_t starttime_ticks = 0;  // since boot
  std::uint64_t vsize_bytes = 0;
  std::int64_t rss_pages = 0;  // same counter as the resident column of statm
};

// The command name may contain spaces and ')' so fields are counted after the last ')'.
std::optional<ProcStat> parse_proc_stat(std::string_view text);
// The "btime" line of /proc/stat: boot time in seconds since the epoch.
std::optional<std::uint64_t> parse_boot_time(std::string_view proc_stat_text);
// Reads a whole (pseudo-)file up to max_bytes; nullopt when it cannot be opened or read, e.g. a
// process that exited between listing and reading.
std::optional<std::string> read_small_file(const std::string& path, std::size_t max_bytes = 64 * 1024);

}  // namespace bastion::observe

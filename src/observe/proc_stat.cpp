#include "observe/proc_stat.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <vector>

namespace bastion::observe {

namespace {

template <class T>
bool parse_number(std::string_view s, T& out) {
  const auto result = std::from_chars(s.data(), s.data() + s.size(), out);
  return result.ec == std::errc{} && result.ptr == s.data() + s.size();
}

}  // namespace

std::optional<ProcStat> parse_proc_stat(std::string_view text) {
  const auto open = text.find('(');
  const auto close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) return std::nullopt;
  ProcStat stat;
  auto pid_text = text.substr(0, open);
  while (!pid_text.empty() && pid_text.back() == ' ') pid_text.remove_suffix(1);
  if (!parse_number(pid_text, stat.pid)) return std::nullopt;

  // Fields from 3 (state) on; we need up to 24 (rss).
  std::vector<std::string_view> fields;
  fields.reserve(24);
  std::size_t pos = close + 1;
  while (pos < text.size() && fields.size() < 22) {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\n')) ++pos;
    const auto end = text.find_first_of(" \n", pos);
    const auto token = text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    if (token.empty()) break;
    fields.push_back(token);
    pos = end == std::string_view::npos ? text.size() : end;
  }
  if (fields.size() < 22) return std::nullopt;
  const auto field = [&](int number) { return fields[static_cast<std::size_t>(number - 3)]; };
  if (field(3).size() != 1) return std::nullopt;
  stat.state = field(3)[0];
  if (!parse_number(field(4), stat.ppid) || !parse_number(field(5), stat.pgrp) ||
      !parse_number(field(14), stat.utime_ticks) || !parse_number(field(15), stat.stime_ticks) ||
      !parse_number(field(22), stat.starttime_ticks) || !parse_number(field(23), stat.vsize_bytes) ||
      !parse_number(field(24), stat.rss_pages)) {
    return std::nullopt;
  }
  return stat;
}

std::optional<std::uint64_t> parse_boot_time(std::string_view text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    auto line = text.substr(pos, end - pos);
    if (line.starts_with("btime ")) {
      line.remove_prefix(6);
      while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
      while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.remove_suffix(1);
      std::uint64_t value = 0;
      if (parse_number(line, value)) return value;
      return std::nullopt;
    }
    pos = end + 1;
  }
  return std::nullopt;
}

std::optional<std::string> read_small_file(const std::string& path, std::size_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string out;
  char buf[4096];
  bool ok = true;
  while (out.size() < max_bytes) {
    const auto n = ::read(fd, buf, std::min(sizeof buf, max_bytes - out.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      ok = false;  // e.g. ESRCH: the process exited while we were reading
      break;
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace bastion::observe

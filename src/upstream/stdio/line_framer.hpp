#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

namespace bastion::upstream::stdio {

// Splits a byte stream into '\n'-terminated lines (a trailing '\r' is stripped) with a hard cap on
// the bytes it will hold, so a peer that never sends a newline cannot grow memory without bound.
// Pure and socket-free; not thread-safe (one framer per stream).
class LineFramer {
 public:
  explicit LineFramer(std::size_t max_line_bytes) : max_line_bytes_(max_line_bytes) {}

  // Calls on_line(std::string_view) for each complete non-empty line. The view is only valid during
  // the call. A line longer than max_line_bytes (counted before its '\n', a '\r' included) is
  // dropped up to its newline and reported once, when the limit is crossed, through
  // on_oversized(std::size_t size_so_far).
  template <class OnLine, class OnOversized>
  void feed(std::string_view bytes, OnLine&& on_line, OnOversized&& on_oversized) {
    while (!bytes.empty()) {
      const std::size_t nl = bytes.find('\n');
      const bool complete = nl != std::string_view::npos;
      const std::string_view part = complete ? bytes.substr(0, nl) : bytes;
      bytes.remove_prefix(complete ? nl + 1 : bytes.size());

      if (discarding_) {
        discarding_ = !complete;
        continue;
      }
      const std::size_t total = buf_.size() + part.size();
      if (total > max_line_bytes_) {
        // Keep the start of the line: its owner may still recognise whose reply it was.
        oversized_head_.assign(buf_, 0, std::min(buf_.size(), kHeadBytes));
        oversized_head_.append(part.substr(0, kHeadBytes - oversized_head_.size()));
        release_buffer();
        discarding_ = !complete;
        on_oversized(total);
        continue;
      }
      if (!complete) {
        buf_.append(part);
        continue;
      }
      if (buf_.empty()) {
        // Fast path: the whole line is inside this chunk, hand out a view without copying.
        emit(part, on_line);
      } else {
        buf_.append(part);
        emit(std::string_view(buf_), on_line);
        release_buffer();
      }
    }
  }

  // End of stream: a final line without '\n' is delivered as if it had one.
  template <class OnLine>
  void finish(OnLine&& on_line) {
    if (!discarding_ && !buf_.empty()) emit(std::string_view(buf_), on_line);
    release_buffer();
    discarding_ = false;
  }

  std::size_t buffered() const { return buf_.size(); }
  std::size_t max_line_bytes() const { return max_line_bytes_; }
  // True while the rest of an oversized line is being skipped.
  bool discarding() const { return discarding_; }
  // The first bytes (at most kHeadBytes) of the last oversized line; valid during on_oversized.
  std::string_view oversized_head() const { return oversized_head_; }
  static constexpr std::size_t kHeadBytes = 128;

 private:
  template <class OnLine>
  static void emit(std::string_view line, OnLine& on_line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) on_line(line);
  }

  void release_buffer() {
    // Do not keep a multi-megabyte allocation alive per idle stream after one large line.
    if (buf_.capacity() > kKeepCapacity) {
      std::string().swap(buf_);
    } else {
      buf_.clear();
    }
  }

  static constexpr std::size_t kKeepCapacity = 64 * 1024;
  std::size_t max_line_bytes_;
  std::string buf_;
  std::string oversized_head_;
  bool discarding_ = false;
};

}  // namespace bastion::upstream::stdio

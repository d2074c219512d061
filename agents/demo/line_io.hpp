// Newline-delimited stdio framing: a bounded line reader and a serialized, flushed line writer.
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <variant>

namespace bastion::demo {

namespace json = boost::json;

// MCP stdio: one message per line. A line longer than the limit is skipped up to its newline.
inline constexpr std::size_t kMaxLineBytes = 16 * 1024 * 1024;

class LineReader {
 public:
  struct Line {
    std::string text;
  };
  struct Oversized {};   // a line exceeded the limit; it was discarded
  struct EndOfInput {};  // EOF, a read error, or a stop request through the wake fd

  // wake_fd becoming readable makes next() return EndOfInput (stop without closing stdin).
  LineReader(int fd, int wake_fd, std::size_t max_line_bytes);

  // Stdin has no timeout on purpose: an idle client is normal and the parent owns our lifetime.
  std::variant<Line, Oversized, EndOfInput> next();

 private:
  bool fill();  // false on EOF, error or wake-up

  int fd_;
  int wake_fd_;
  std::size_t max_line_bytes_;
  std::string buffer_;
  std::size_t start_ = 0;    // first unconsumed byte
  std::size_t scanned_ = 0;  // bytes after start_ already known to hold no newline
  bool discarding_ = false;
  bool eof_ = false;
};

class MessageWriter {
 public:
  // A write that cannot make progress for stall_timeout marks the writer broken: a client that
  // stops reading must not wedge every thread of the agent.
  MessageWriter(int fd, std::chrono::milliseconds stall_timeout);

  // Called once, from the writing thread, when the writer breaks.
  void on_broken(std::function<void()> callback);

  // One JSON message (or batch reply), one line, written whole under the lock. False once the
  // peer is gone.
  bool write(const json::object& message);
  bool write(const json::array& batch);

 private:
  bool write_line(std::string line);
  bool write_all(const std::string& bytes);

  int fd_;
  std::chrono::milliseconds stall_timeout_;
  std::mutex mutex_;
  bool broken_ = false;
  std::function<void()> on_broken_;
};

}  // namespace bastion::demo

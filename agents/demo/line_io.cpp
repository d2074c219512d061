#include "demo/line_io.hpp"

#include <poll.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

namespace bastion::demo {
namespace {

constexpr std::size_t kReadChunk = 64 * 1024;

}  // namespace

LineReader::LineReader(int fd, int wake_fd, std::size_t max_line_bytes)
    : fd_(fd), wake_fd_(wake_fd), max_line_bytes_(max_line_bytes) {}

bool LineReader::fill() {
  if (eof_) {
    return false;
  }
  for (;;) {
    std::array<pollfd, 2> fds{};
    fds[0] = {fd_, POLLIN, 0};
    fds[1] = {wake_fd_, POLLIN, 0};
    const int ready = ::poll(fds.data(), wake_fd_ >= 0 ? 2 : 1, -1);
    if (ready < 0) {
      if (errno == EINTR) {
        continue;
      }
      eof_ = true;
      return false;
    }
    if (wake_fd_ >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      eof_ = true;
      return false;
    }
    if (fds[0].revents == 0) {
      continue;
    }
    // Compact before growing so the buffer never holds more than one line plus one chunk.
    if (start_ > 0) {
      buffer_.erase(0, start_);
      start_ = 0;
    }
    const std::size_t old_size = buffer_.size();
    buffer_.resize(old_size + kReadChunk);
    const ssize_t n = ::read(fd_, buffer_.data() + old_size, kReadChunk);
    if (n < 0 && errno == EINTR) {
      buffer_.resize(old_size);
      continue;
    }
    if (n <= 0) {
      buffer_.resize(old_size);
      eof_ = true;
      return false;
    }
    buffer_.resize(old_size + static_cast<std::size_t>(n));
    return true;
  }
}

std::variant<LineReader::Line, LineReader::Oversized, LineReader::EndOfInput> LineReader::next() {
  for (;;) {
    const std::size_t newline = buffer_.find('\n', start_ + scanned_);
    if (newline != std::string::npos) {
      const std::size_t length = newline - start_;
      if (discarding_ || length > max_line_bytes_) {
        discarding_ = false;
        start_ = newline + 1;
        scanned_ = 0;
        return Oversized{};
      }
      std::string text = buffer_.substr(start_, length);
      start_ = newline + 1;
      scanned_ = 0;
      if (!text.empty() && text.back() == '\r') {
        text.pop_back();
      }
      return Line{std::move(text)};
    }
    scanned_ = buffer_.size() - start_;
    if (scanned_ > max_line_bytes_) {
      // Drop what we have and keep dropping until the newline that ends this line.
      discarding_ = true;
      buffer_.clear();
      start_ = 0;
      scanned_ = 0;
    }
    if (!fill()) {
      const bool had_partial = buffer_.size() > start_;
      if (discarding_) {
        discarding_ = false;
        buffer_.clear();
        start_ = 0;
        return Oversized{};
      }
      if (had_partial) {
        // A final line without its newline is still a message.
        std::string text = buffer_.substr(start_);
        buffer_.clear();
        start_ = 0;
        scanned_ = 0;
        return Line{std::move(text)};
      }
      return EndOfInput{};
    }
  }
}

MessageWriter::MessageWriter(int fd, std::chrono::milliseconds stall_timeout)
    : fd_(fd), stall_timeout_(stall_timeout) {}

void MessageWriter::on_broken(std::function<void()> callback) {
  std::lock_guard lock(mutex_);
  on_broken_ = std::move(callback);
}

bool MessageWriter::write_all(const std::string& bytes) {
  std::size_t offset = 0;
  while (offset < bytes.size()) {
    pollfd out{fd_, POLLOUT, 0};
    const int ready = ::poll(&out, 1, static_cast<int>(stall_timeout_.count()));
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    if (ready <= 0 || (out.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) {
      return false;  // timed out, or the reader is gone
    }
    const ssize_t n = ::write(fd_, bytes.data() + offset, bytes.size() - offset);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) {
        continue;
      }
      return false;
    }
    offset += static_cast<std::size_t>(n);
  }
  return true;
}

bool MessageWriter::write(const json::object& message) {
  // Serialized outside the lock; json::serialize escapes control characters, so no raw newline.
  return write_line(json::serialize(message));
}

bool MessageWriter::write(const json::array& batch) { return write_line(json::serialize(batch)); }

bool MessageWriter::write_line(std::string line) {
  line += '\n';
  std::function<void()> notify;
  {
    std::lock_guard lock(mutex_);
    if (broken_) {
      return false;
    }
    if (write_all(line)) {
      return true;
    }
    broken_ = true;
    notify = std::move(on_broken_);
  }
  if (notify) {
    notify();
  }
  return false;
}

}  // namespace bastion::demo

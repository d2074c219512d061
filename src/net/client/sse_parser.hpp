// Incremental text/event-stream parser (WHATWG HTML "server-sent events", section 9.2.6).
// Pure: no I/O, feed it bytes as they arrive in any split.
#pragma once

#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

namespace bastion::net::client {

struct SseEvent {
  std::string id;     // the last-event-id in force when this event was dispatched
  std::string event;  // "message" when the stream gave no `event:` field
  std::string data;   // `data:` lines joined with '\n'
  std::optional<std::chrono::milliseconds> retry;  // a `retry:` field inside this event's block
};

enum class SseErrc {
  event_too_large = 1,  // one event (or one line) grew beyond the configured maximum
};

const boost::system::error_category& sse_category() noexcept;
boost::system::error_code make_error_code(SseErrc e) noexcept;

class SseParser {
 public:
  static constexpr std::size_t kDefaultMaxEventBytes = 16u << 20;

  explicit SseParser(std::size_t max_event_bytes = kDefaultMaxEventBytes);

  // Parses `bytes` and appends every completed event to `out`. Events with empty data are not
  // dispatched, but their `id:` still updates last_event_id() (MCP "priming" events rely on it).
  // After an error the parser stays failed and returns the same error.
  boost::system::error_code feed(std::string_view bytes, std::vector<SseEvent>& out);

  // Last event id seen (survives across events; an `id:` with an empty value resets it).
  const std::string& last_event_id() const noexcept { return last_event_id_; }
  // Most recent valid `retry:` value seen on this stream, dispatched or not.
  std::optional<std::chrono::milliseconds> reconnection_time() const noexcept { return retry_; }

  // Starts a new stream (new connection): drops a partial event and the BOM state, keeps the
  // last event id and reconnection time, which the spec carries across reconnections.
  void reset_stream() noexcept;

 private:
  void process_line(std::string_view line, std::vector<SseEvent>& out);
  void dispatch(std::vector<SseEvent>& out);
  std::size_t pending_bytes() const noexcept {
    return line_.size() + data_.size() + event_type_.size() + id_buffer_.size();
  }

  std::size_t max_event_bytes_;
  std::string line_;        // current, not yet terminated line
  std::string data_;        // data buffer of the event being built
  std::string event_type_;  // event type buffer
  std::string id_buffer_;   // last event ID buffer
  std::string last_event_id_;
  std::optional<std::chrono::milliseconds> retry_;
  std::optional<std::chrono::milliseconds> event_retry_;
  std::size_t bom_matched_ = 0;  // bytes of a leading UTF-8 BOM matched so far
  bool bom_done_ = false;
  bool after_cr_ = false;  // previous byte was CR: a following LF belongs to the same line end
  boost::system::error_code failed_;
};

}  // namespace bastion::net::client

template <>
struct boost::system::is_error_code_enum<bastion::net::client::SseErrc> : std::true_type {};

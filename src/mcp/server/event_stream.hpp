#pragma once
// One SSE stream of an MCP session: a bounded log of events (for Last-Event-ID resumption) written
// by a producer (the call being relayed) and read by at most one consumer (the HTTP response that
// currently carries the stream). The producer never waits for the consumer: a client that went
// away can come back and replay what it missed, up to the log's bound.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace bastion::mcp {

class EventStream {
 public:
  using Signal = boost::asio::experimental::concurrent_channel<void(boost::system::error_code)>;

  EventStream(std::uint64_t stream_number, std::size_t max_events);

  std::uint64_t number() const { return number_; }
  // Appends one event (its data is one serialized JSON-RPC message); returns its sequence number.
  std::uint64_t append(std::string data);
  void end();  // no more events: consumers finish once they have read everything
  bool ended() const;

  struct Event {
    std::uint64_t seq;
    std::string data;
  };
  // Events with seq > after; `gap` is set when some were already evicted from the log.
  std::vector<Event> since(std::uint64_t after, bool& gap) const;
  std::size_t size() const;

  // Attaches a consumer's wake-up signal (replacing any previous consumer, which is woken with
  // an error so it stops).
  void attach(std::shared_ptr<Signal> signal);
  void detach(const std::shared_ptr<Signal>& signal);

  // Highest sequence a consumer has written out (a new consumer without Last-Event-ID resumes
  // after it, so messages queued while nobody listened are not lost).
  std::uint64_t delivered() const;
  void mark_delivered(std::uint64_t seq);

  // "<stream>_<seq>": the SSE event id for an event of this stream.
  std::string event_id(std::uint64_t seq) const;
  // Parses an SSE event id back into stream number and sequence.
  static std::optional<std::pair<std::uint64_t, std::uint64_t>> parse_event_id(std::string_view id);

 private:
  void wake_locked();

  std::uint64_t number_;
  std::size_t max_events_;
  mutable std::mutex mutex_;
  std::deque<Event> log_;
  std::uint64_t next_seq_ = 1;
  std::uint64_t delivered_ = 0;
  bool ended_ = false;
  std::shared_ptr<Signal> consumer_;
};

}  // namespace bastion::mcp

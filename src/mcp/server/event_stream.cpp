#include "mcp/server/event_stream.hpp"

#include <algorithm>
#include <charconv>

namespace bastion::mcp {

EventStream::EventStream(std::uint64_t stream_number, std::size_t max_events)
    : number_(stream_number), max_events_(max_events == 0 ? 1 : max_events) {}

std::uint64_t EventStream::append(std::string data) {
  std::lock_guard lock(mutex_);
  auto seq = next_seq_++;
  log_.push_back(Event{seq, std::move(data)});
  while (log_.size() > max_events_) log_.pop_front();
  wake_locked();
  return seq;
}

void EventStream::end() {
  std::lock_guard lock(mutex_);
  ended_ = true;
  wake_locked();
}

bool EventStream::ended() const {
  std::lock_guard lock(mutex_);
  return ended_;
}

std::size_t EventStream::size() const {
  std::lock_guard lock(mutex_);
  return log_.size();
}

std::vector<EventStream::Event> EventStream::since(std::uint64_t after, bool& gap) const {
  std::lock_guard lock(mutex_);
  std::vector<Event> out;
  gap = !log_.empty() && log_.front().seq > after + 1;
  for (const auto& e : log_) {
    if (e.seq > after) out.push_back(e);
  }
  return out;
}

std::uint64_t EventStream::delivered() const {
  std::lock_guard lock(mutex_);
  return delivered_;
}

void EventStream::mark_delivered(std::uint64_t seq) {
  std::lock_guard lock(mutex_);
  delivered_ = std::max(delivered_, seq);
}

void EventStream::attach(std::shared_ptr<Signal> signal) {
  std::lock_guard lock(mutex_);
  if (consumer_) consumer_->try_send(boost::asio::error::operation_aborted);
  consumer_ = std::move(signal);
  wake_locked();
}

void EventStream::detach(const std::shared_ptr<Signal>& signal) {
  std::lock_guard lock(mutex_);
  if (consumer_ == signal) consumer_.reset();
}

void EventStream::wake_locked() {
  // Capacity 1: one pending wake-up is enough, the consumer reads everything new when it wakes.
  if (consumer_) consumer_->try_send(boost::system::error_code{});
}

std::string EventStream::event_id(std::uint64_t seq) const {
  return std::to_string(number_) + "_" + std::to_string(seq);
}

std::optional<std::pair<std::uint64_t, std::uint64_t>> EventStream::parse_event_id(std::string_view id) {
  auto sep = id.find('_');
  if (sep == std::string_view::npos) return std::nullopt;
  std::uint64_t stream = 0, seq = 0;
  auto a = std::from_chars(id.data(), id.data() + sep, stream);
  auto b = std::from_chars(id.data() + sep + 1, id.data() + id.size(), seq);
  if (a.ec != std::errc{} || a.ptr != id.data() + sep || b.ec != std::errc{} ||
      b.ptr != id.data() + id.size()) {
    return std::nullopt;
  }
  return std::make_pair(stream, seq);
}

}  // namespace bastion::mcp

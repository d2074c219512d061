#include "net/client/sse_parser.hpp"

#include <algorithm>
#include <cstdint>

namespace bastion::net::client {

namespace {

// boost::system::error_category has a protected non-virtual destructor by design.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class SseCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "bastion.sse"; }
  std::string message(int ev) const override {
    switch (static_cast<SseErrc>(ev)) {
      case SseErrc::event_too_large:
        return "server-sent event exceeds the maximum event size";
    }
    return "unknown SSE error";
  }
};
#pragma GCC diagnostic pop

constexpr std::string_view kBom = "\xEF\xBB\xBF";

// `retry:` must be ASCII digits only; values that do not fit are ignored like invalid ones.
std::optional<std::chrono::milliseconds> parse_retry(std::string_view value) {
  if (value.empty() || value.size() > 12) return std::nullopt;
  std::int64_t ms = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    ms = ms * 10 + (c - '0');
  }
  return std::chrono::milliseconds{ms};
}

}  // namespace

const boost::system::error_category& sse_category() noexcept {
  static const SseCategory category;
  return category;
}

boost::system::error_code make_error_code(SseErrc e) noexcept {
  return {static_cast<int>(e), sse_category()};
}

SseParser::SseParser(std::size_t max_event_bytes) : max_event_bytes_(max_event_bytes) {}

void SseParser::reset_stream() noexcept {
  line_.clear();
  data_.clear();
  event_type_.clear();
  event_retry_.reset();
  id_buffer_ = last_event_id_;
  bom_matched_ = 0;
  bom_done_ = false;
  after_cr_ = false;
  failed_ = {};
}

boost::system::error_code SseParser::feed(std::string_view bytes, std::vector<SseEvent>& out) {
  if (failed_) return failed_;

  // A BOM may arrive split across feeds; bytes that turn out not to be one are replayed.
  while (!bom_done_ && !bytes.empty()) {
    if (bytes.front() == kBom[bom_matched_]) {
      bytes.remove_prefix(1);
      if (++bom_matched_ == kBom.size()) bom_done_ = true;
      continue;
    }
    bom_done_ = true;
    if (bom_matched_ > 0) {
      auto replay = std::string(kBom.substr(0, bom_matched_));
      bom_matched_ = 0;
      if (auto ec = feed(replay, out)) return ec;
    }
  }

  while (!bytes.empty()) {
    if (after_cr_) {
      after_cr_ = false;
      if (bytes.front() == '\n') {
        bytes.remove_prefix(1);
        continue;
      }
    }
    const auto eol = bytes.find_first_of("\r\n");
    const auto chunk = bytes.substr(0, eol);
    if (pending_bytes() + chunk.size() > max_event_bytes_) {
      failed_ = make_error_code(SseErrc::event_too_large);
      return failed_;
    }
    line_.append(chunk);
    if (eol == std::string_view::npos) break;
    after_cr_ = bytes[eol] == '\r';
    bytes.remove_prefix(eol + 1);
    process_line(line_, out);
    line_.clear();
  }
  return {};
}

void SseParser::process_line(std::string_view line, std::vector<SseEvent>& out) {
  if (line.empty()) {
    dispatch(out);
    return;
  }
  if (line.front() == ':') return;  // comment (servers use these as keep-alives)

  std::string_view field = line;
  std::string_view value;
  if (const auto colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }

  if (field == "event") {
    event_type_.assign(value);
  } else if (field == "data") {
    data_.append(value);
    data_.push_back('\n');
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) id_buffer_.assign(value);
  } else if (field == "retry") {
    if (auto ms = parse_retry(value)) {
      retry_ = ms;
      event_retry_ = ms;
    }
  }
  // Unknown fields are ignored, as the spec requires.
}

void SseParser::dispatch(std::vector<SseEvent>& out) {
  last_event_id_ = id_buffer_;
  if (!data_.empty() && data_.back() == '\n') data_.pop_back();
  if (data_.empty()) {
    event_type_.clear();
    event_retry_.reset();
    return;
  }
  SseEvent ev;
  ev.id = last_event_id_;
  ev.event = event_type_.empty() ? std::string("message") : std::move(event_type_);
  ev.data = std::move(data_);
  ev.retry = event_retry_;
  out.push_back(std::move(ev));
  data_.clear();
  event_type_.clear();
  event_retry_.reset();
}

}  // namespace bastion::net::client

#include "mcp/trace_context.hpp"

#include <openssl/rand.h>

#include <array>
#include <random>

namespace bastion::mcp {

namespace {

bool lower_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool all_zero(std::string_view s) { return s.find_first_not_of('0') == std::string_view::npos; }

std::string random_hex(std::size_t bytes) {
  std::array<unsigned char, 16> buffer{};
  if (RAND_bytes(buffer.data(), static_cast<int>(bytes)) != 1) {
    // The CSPRNG is not needed for ids, only uniqueness: fall back to a seeded engine.
    thread_local std::mt19937_64 engine{std::random_device{}()};
    for (std::size_t i = 0; i < bytes; ++i) buffer[i] = static_cast<unsigned char>(engine());
  }
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(bytes * 2, '0');
  for (std::size_t i = 0; i < bytes; ++i) {
    out[2 * i] = digits[buffer[i] >> 4];
    out[2 * i + 1] = digits[buffer[i] & 0xf];
  }
  if (all_zero(out)) out.back() = '1';  // all-zero ids are invalid
  return out;
}

}  // namespace

std::optional<ParentContext> parse_traceparent(std::string_view text) {
  // version "-" trace-id "-" parent-id "-" flags: 2 + 1 + 32 + 1 + 16 + 1 + 2 = 55
  if (text.size() < 55) return std::nullopt;
  auto version = text.substr(0, 2);
  if (!lower_hex(version) || version == "ff") return std::nullopt;
  if (text[2] != '-' || text[35] != '-' || text[52] != '-') return std::nullopt;
  if (version == "00" && text.size() != 55) return std::nullopt;
  if (text.size() > 55 && text[55] != '-') return std::nullopt;  // a later version may append fields
  auto trace_id = text.substr(3, 32), span_id = text.substr(36, 16), flags = text.substr(53, 2);
  if (!lower_hex(trace_id) || !lower_hex(span_id) || !lower_hex(flags)) return std::nullopt;
  if (all_zero(trace_id) || all_zero(span_id)) return std::nullopt;
  const int flag_bits = std::stoi(std::string(flags), nullptr, 16);
  return ParentContext{std::string(trace_id), std::string(span_id), (flag_bits & 1) != 0};
}

std::string format_traceparent(const SpanContext& span) {
  return "00-" + span.trace_id + "-" + span.span_id + (span.sampled ? "-01" : "-00");
}

SpanContext start_span(const std::optional<ParentContext>& parent) {
  SpanContext span;
  if (parent) {
    span.trace_id = parent->trace_id;
    span.parent_span_id = parent->span_id;
    span.sampled = parent->sampled;
  } else {
    span.trace_id = random_hex(16);
  }
  span.span_id = random_hex(8);
  return span;
}

}  // namespace bastion::mcp

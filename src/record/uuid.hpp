#pragma once
// UUIDv7 (RFC 9562) text ids for interaction rows: time-ordered, so ids sort like timestamps and
// the primary-key index stays append-mostly.
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace bastion::record {

// Layout: 48-bit Unix milliseconds | ver 7 | 12-bit rand_a | var 10 | 62-bit rand_b.
// Monotonic (RFC 9562 §6.2 method 1): rand_a and the top 30 bits of rand_b form a 42-bit counter
// seeded randomly (top bit clear) each new millisecond and incremented within one; the low 32 bits
// stay random. When the counter overflows or the clock steps back, the timestamp is advanced past
// the last one instead, so successive ids from one generator always compare greater.
class UuidV7Generator {
 public:
  // Thread-safe.
  std::string next();
  // As next(), for a given clock reading (tests).
  std::string next_at(std::int64_t unix_ms);

 private:
  std::mutex mutex_;
  std::int64_t last_ms_ = -1;
  std::uint64_t counter_ = 0;  // 42 bits
};

// A process-wide generator.
std::string make_uuid_v7();

// The Unix milliseconds of a canonical UUIDv7 text (36 chars, lower- or upper-case hex), or
// nullopt.
std::optional<std::int64_t> uuid_v7_unix_ms(std::string_view text);

}  // namespace bastion::record

#pragma once
// PostgreSQL binary wire formats used by PostgresStore (parameters, COPY and FETCH results) and
// the text hygiene rules of its `text` columns. Pure functions: no libpq, no I/O.
#include <cstdint>
#include <string>
#include <string_view>

#include "record/interaction.hpp"

namespace bastion::record::pg {

// Binary timestamptz: microseconds since 2000-01-01 00:00:00 UTC.
inline constexpr std::int64_t kPgEpochUnixMicros = 946'684'800'000'000;

// Interaction timestamps have millisecond precision: sub-millisecond parts are floored away so
// PostgreSQL and SQLite hold the same value.
std::int64_t to_pg_micros(Clock::time_point time);
// Values outside what Clock can represent (including +-infinity) are clamped to its range.
Clock::time_point from_pg_micros(std::int64_t micros);

// Big-endian fixed-width encoders (appended to `out`) and decoders (from 8/4/2/1 bytes).
void put_i16(std::string& out, std::int16_t value);
void put_i32(std::string& out, std::int32_t value);
void put_i64(std::string& out, std::int64_t value);
void put_f64(std::string& out, double value);
std::int64_t get_i64(const char* bytes);
double get_f64(const char* bytes);

// PostgreSQL `text` accepts only valid UTF-8 without NUL bytes; anything else would fail the
// whole batch forever (a poison batch in the spool). Invalid bytes and NUL become U+FFFD.
bool is_storable_text(std::string_view text);
std::string to_storable_text(std::string_view text);

// Removes every occurrence of `secret` (when non-empty) and trims trailing whitespace; multi-line
// libpq messages are joined with "; ".
std::string clean_message(std::string_view message, std::string_view secret);

}  // namespace bastion::record::pg

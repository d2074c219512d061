#pragma once
// The one text form of interaction timestamps: ISO-8601 UTC with milliseconds,
// "2026-11-28T17:31:47.123Z". Fixed width, so text order is time order (SQLite stores this text;
// the spool and the dataset export use it too).
#include <optional>
#include <string>
#include <string_view>

#include "record/interaction.hpp"

namespace bastion::record {

// Truncates toward the past to whole milliseconds (what every store keeps).
Clock::time_point floor_millis(Clock::time_point t);

// "YYYY-MM-DDTHH:MM:SS.mmmZ" (years 0000..9999; sub-millisecond digits dropped).
std::string format_timestamp(Clock::time_point t);

// Accepts "YYYY-MM-DDTHH:MM:SS[.f…]" followed by "Z" or "±HH:MM" (also lower-case 't'/'z', or a
// space for 'T'), and a bare date "YYYY-MM-DD" (midnight UTC). Fractions beyond milliseconds are
// truncated. nullopt for anything else, including impossible dates (2026-02-30).
std::optional<Clock::time_point> parse_timestamp(std::string_view text);

}  // namespace bastion::record

#pragma once
// Lower-case hex, as the token files, the record's hashes and the UUIDs write it.
#include <optional>
#include <string>
#include <string_view>

namespace bastion::core {

std::string hex_encode(std::string_view bytes);
// Lower- or upper-case hex; odd lengths and other characters are rejected.
std::optional<std::string> hex_decode(std::string_view text);
// The value of one hex digit (either case), or -1.
int hex_digit(char c);

}  // namespace bastion::core

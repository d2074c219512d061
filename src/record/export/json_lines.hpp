#pragma once
// Compact JSON text for the export files. Boost.JSON 1.81 prints 0.9 as "9E-1"; datasets are read
// by people and by Python tooling, so numbers use the shortest round-trip form ("0.9", "12",
// "1e+21"), members keep insertion order, and invalid UTF-8 in strings becomes U+FFFD so every
// line is valid JSON.
#include <boost/json/value.hpp>
#include <string>
#include <string_view>

namespace bastion::record {

void append_json(std::string& out, const boost::json::value& value);
void append_json_string(std::string& out, std::string_view text);
void append_json_number(std::string& out, double value);  // non-finite -> null
std::string to_json_text(const boost::json::value& value);

}  // namespace bastion::record

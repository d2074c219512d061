#pragma once
// RFC 8785 JSON Canonicalization Scheme (JCS) and the SHA-256 hashes the interaction record uses
// for `input_hash` / `output_hash`: equal JSON values (whatever their key order or number
// spelling) hash equally.
#include <boost/json/value.hpp>
#include <boost/system/error_code.hpp>
#include <string>
#include <string_view>

#include "core/sha256.hpp"

namespace bastion::record {

// JCS text of `value`: object members sorted by the UTF-16 code units of their names, no
// whitespace, strings escaped as RFC 8785 §3.2.2.2, numbers as ECMAScript Number::toString.
// Integers with |v| <= 2^53 print exactly; larger int64/uint64 are first converted to double,
// as every I-JSON number is a double (so 2^63 prints "9223372036854776000").
// Non-finite doubles (only constructible in memory, never parsed) print "null", as JSON.stringify.
std::string canonical_json(const boost::json::value& value);

// The ECMAScript Number::toString form of one finite double ("1e+21", "0.000001", -0 -> "0").
std::string es_number(double value);

// Parses JSON like boost::json::parse, but with correctly rounded doubles. Boost.JSON 1.81's
// default number parser can be one ulp off (it reads "333333333.33333329" as
// 333333333.33333325), which changes the JCS text. Hash inputs parsed from text should come
// from here when the hash must match other JCS implementations. Returns null and sets `ec` on
// error.
boost::json::value parse_json_precise(std::string_view text, boost::system::error_code& ec,
                                      std::size_t max_depth = 64);

// Lower-case hex SHA-256 of the bytes; "" only when OpenSSL cannot provide SHA-256.
using core::sha256_hex;

// sha256_hex(canonical_json(value)).
std::string canonical_hash(const boost::json::value& value);

}  // namespace bastion::record

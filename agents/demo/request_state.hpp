// Opaque, integrity-protected MRTR requestState (SEP-2322). The client echoes it back verbatim;
// the agent keeps no per-request memory between rounds, so everything it needs rides in here,
// MAC'd with a per-process random key so a tampered or foreign state is rejected.
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace bastion::demo {

namespace json = boost::json;

struct StateError {
  std::string reason;
};

class RequestStateCodec {
 public:
  // Larger tokens are refused before any parsing work is done.
  static constexpr std::size_t kMaxTokenBytes = 256 * 1024;

  RequestStateCodec(std::string key, std::chrono::seconds max_age);

  // A codec keyed with 32 bytes from std::random_device: states die with the process.
  static RequestStateCodec with_random_key(std::chrono::seconds max_age);

  // Signs payload (plus an issue time) into a token.
  std::string seal(json::object payload, std::int64_t now_unix) const;

  // The payload when the token is authentic and not older than max_age.
  std::variant<json::object, StateError> open(std::string_view token, std::int64_t now_unix) const;

 private:
  std::string mac(std::string_view signed_part) const;

  std::string key_;
  std::chrono::seconds max_age_;
};

}  // namespace bastion::demo

#include "demo/request_state.hpp"

#include <random>
#include <utility>

#include "demo/digest.hpp"
#include "demo/encoding.hpp"

namespace bastion::demo {
namespace {

constexpr std::string_view kVersionPrefix = "v1.";
// Tolerated clock skew for an issue time in the future (the clock may step).
constexpr std::int64_t kFutureSkewSeconds = 60;

}  // namespace

RequestStateCodec::RequestStateCodec(std::string key, std::chrono::seconds max_age)
    : key_(std::move(key)), max_age_(max_age) {}

RequestStateCodec RequestStateCodec::with_random_key(std::chrono::seconds max_age) {
  std::random_device device;
  std::string key(32, '\0');
  for (char& c : key) {
    c = static_cast<char>(device() & 0xff);
  }
  return RequestStateCodec(std::move(key), max_age);
}

std::string RequestStateCodec::mac(std::string_view signed_part) const {
  return to_hex(hmac_sha256(key_, signed_part));
}

std::string RequestStateCodec::seal(json::object payload, std::int64_t now_unix) const {
  payload["iat"] = now_unix;
  std::string token(kVersionPrefix);
  token += base64url_encode(json::serialize(payload));
  const std::string tag = mac(token);
  token += '.';
  token += tag;
  return token;
}

std::variant<json::object, StateError> RequestStateCodec::open(std::string_view token,
                                                               std::int64_t now_unix) const {
  if (token.size() > kMaxTokenBytes) {
    return StateError{"requestState is too large"};
  }
  if (!token.starts_with(kVersionPrefix)) {
    return StateError{"requestState has an unknown format"};
  }
  const std::size_t dot = token.rfind('.');
  if (dot == std::string_view::npos || dot < kVersionPrefix.size()) {
    return StateError{"requestState has an unknown format"};
  }
  const std::string_view signed_part = token.substr(0, dot);
  const std::string_view tag = token.substr(dot + 1);
  // Verify before decoding anything: unauthenticated bytes are never parsed.
  if (!constant_time_equal(mac(signed_part), tag)) {
    return StateError{"requestState failed integrity verification"};
  }
  const auto decoded = base64url_decode(signed_part.substr(kVersionPrefix.size()));
  if (!decoded) {
    return StateError{"requestState failed integrity verification"};
  }
  std::error_code ec;
  json::value parsed = json::parse(*decoded, ec);
  if (ec || !parsed.is_object()) {
    return StateError{"requestState failed integrity verification"};
  }
  json::object payload = std::move(parsed.get_object());
  const json::value* issued = payload.if_contains("iat");
  if (issued == nullptr || !issued->is_int64()) {
    return StateError{"requestState failed integrity verification"};
  }
  const std::int64_t age = now_unix - issued->get_int64();
  if (age > max_age_.count() || age < -kFutureSkewSeconds) {
    return StateError{"requestState has expired"};
  }
  return payload;
}

}  // namespace bastion::demo

#pragma once
// What of a request/response payload the interaction record may keep (store.capture):
//   hashed   - nothing (the row still has input_hash/output_hash);
//   redacted - the JSON with secrets masked as "***";
//   full     - the JSON as is.
// Redacted and full payloads are capped at max_payload_bytes (see cap_payload).
#include <boost/json/value.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bastion::record {

enum class CaptureMode { hashed, redacted, full };

std::optional<CaptureMode> parse_capture_mode(
    std::string_view text);  // "hashed" | "redacted" | "full"
std::string_view to_string(CaptureMode mode);

inline constexpr std::string_view kRedactedText = "***";

struct CaptureConfig {
  CaptureMode mode = CaptureMode::hashed;
  // RFC 6901 JSON Pointers whose values are masked in redacted mode, e.g. "/arguments/ssn".
  // A "*" token matches any member name or array index ("/arguments/users/*/email");
  // "" masks the whole payload.
  std::vector<std::string> redact_paths;
  std::size_t max_payload_bytes = 64 << 10;  // floor: kMinPayloadCap
};

inline constexpr std::size_t kMinPayloadCap = 128;

// Config validation: an error message naming the first invalid redact path, or nullopt.
std::optional<std::string> capture_config_error(const CaptureConfig& config);

// The tokens of an RFC 6901 pointer ("~1" -> "/", "~0" -> "~"), or nullopt when malformed.
std::optional<std::vector<std::string>> parse_json_pointer(std::string_view pointer);

// A member name that looks like it holds a secret. Case-insensitive after dropping '-', '_', '.'
// and ' ': equal to "pwd" or "auth", or ending in password, passwd, passphrase, secret, token,
// apikey, accesskey, privatekey, authorization, cookie, credential(s), sessionid.
// ("max_tokens" is not a secret: it ends in "tokens".)
bool is_secret_key(std::string_view key);

// Masks secret-shaped substrings of free text, keeping the rest:
//   "Bearer <token>" (any case; the word "Bearer" is kept), JWTs "eyJ….….…",
//   "sk-…" API keys (OpenAI, Anthropic), GitHub tokens ("ghp_", "gho_", "ghu_", "ghs_", "ghr_",
//   "github_pat_"), AWS access key ids ("AKIA"/"ASIA" + 16), Slack tokens ("xox?-"), and PEM
//   "-----BEGIN … PRIVATE KEY-----" blocks.
std::string mask_secret_shapes(std::string_view text);

// The redacted copy of a payload: secret-named members, configured pointers, and secret-shaped
// strings replaced. Invalid pointers are skipped (validate with capture_config_error first).
boost::json::value redact_payload(const boost::json::value& payload,
                                  const std::vector<std::string>& redact_paths);

// `text` when it fits in max_bytes; otherwise a JSON marker that fits and says so:
//   {"_truncated":true,"bytes":<original size>,"prefix":"<first bytes of the text>"}
// (the prefix is cut on a UTF-8 boundary, so the result is always valid JSON).
std::string cap_payload(std::string text, std::size_t max_bytes);

class PayloadCapture {
 public:
  explicit PayloadCapture(CaptureConfig config);
  // The text to store in the `input` / `output` column, or nullopt in hashed mode.
  std::optional<std::string> capture(const boost::json::value& payload) const;
  const CaptureConfig& config() const { return config_; }

 private:
  CaptureConfig config_;
};

}  // namespace bastion::record

#pragma once
// Opaque bearer tokens "bst_<id>_<secret>" checked against a tokens file that keeps only a salted
// hash per token, one JSON object per line. No Asio here.
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "guard/auth/principal.hpp"

namespace bastion::guard::auth {

// One line of the tokens file:
// {"id":..,"name":..,"salt":..,"hash":..,"scopes":[..],"tools":[..],"created":..}
struct TokenEntry {
  std::string id;                   // public part of the token, used for lookup
  std::string name;                 // principal name (appears in logs and records)
  std::string salt;                 // hex, 16 random bytes
  std::string hash;                 // hex(SHA-256(salt || secret)), 32 bytes
  std::vector<std::string> scopes;
  std::vector<std::string> tools;   // empty = all tools
  std::string created;              // RFC 3339 UTC, e.g. "2025-11-25T10:00:00Z"
};

struct CreatedToken {
  std::string token;  // shown once to the operator, never stored
  TokenEntry entry;   // what goes into the file
};

// A fresh random token; std::nullopt only when the CSPRNG fails.
std::optional<CreatedToken> create_token(std::string name, std::vector<std::string> scopes,
                                         std::vector<std::string> tools);

// Serialises the entry as one JSON line (no trailing newline).
std::string serialize_token_entry(const TokenEntry& entry);

// Appends one line to the tokens file, creating it with mode 0600. Refuses (error message, nothing
// written) when the file is not a regular file, is a symlink, or is readable/writable by group or
// others. Returns an empty string on success.
std::string append_token_file(const std::string& path, const TokenEntry& entry);

struct TokenStoreLoadResult;

// Immutable after load; verify() is safe from any thread. Reload = load again and swap.
class TokenStore {
 public:
  static constexpr std::size_t kMaxFileBytes = 16u << 20;
  static constexpr std::size_t kMaxLineBytes = 64u * 1024;

  TokenStore() = default;
  static TokenStoreLoadResult load(const std::string& path);
  // Parses file contents; `path` only labels error messages.
  static TokenStoreLoadResult parse(std::string_view contents, const std::string& path);

  // The principal (kind "token") for a valid token; std::nullopt for malformed, unknown or wrong
  // tokens. Constant-time in the secret, and unknown ids cost the same as known ones.
  std::optional<Principal> verify(std::string_view presented) const;

  std::size_t size() const { return entries_.size(); }

 private:
  struct Stored {
    std::string salt;  // raw bytes
    std::string hash;  // raw 32 bytes
    Principal principal;
  };
  std::unordered_map<std::string, Stored> entries_;
};

struct TokenStoreLoadResult {
  std::optional<TokenStore> store;  // set only when errors is empty
  std::vector<std::string> errors;  // "FILE:LINE: message"
  std::vector<std::string> warnings;  // e.g. loose file permissions
  bool ok() const { return errors.empty(); }
};

// Splits "bst_<id>_<secret>" and decodes the secret; std::nullopt when malformed.
struct ParsedToken {
  std::string_view id;
  std::string secret;  // raw 32 bytes
};
std::optional<ParsedToken> parse_token(std::string_view presented);

// `bastion token create NAME --tokens-file F [--scopes S,..] [--tools T,..]`
struct TokenCreateOptions {
  std::string name;
  std::string tokens_file;
  std::vector<std::string> scopes;  // elements may also hold comma-separated lists
  std::vector<std::string> tools;   // ditto; exact tool names or globs like "demo__*"
};
// Prints only the token (and a newline) on `out` and a one-line note on `err`.
// Returns 0 on success, 2 on invalid arguments or when the file cannot be written.
int run_token_create(const TokenCreateOptions& opts, std::ostream& out, std::ostream& err);

}  // namespace bastion::guard::auth

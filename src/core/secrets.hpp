#pragma once
// Secrets come only from files: a config `*_file` key, a `BASTION_<KEY>_FILE` environment
// variable naming a file, or a systemd credential (`credential:NAME` resolves against
// $CREDENTIALS_DIRECTORY). Values read here are registered so the logger can mask them; they
// are never put into error messages, argv or a child's environment.
#include <optional>
#include <string>
#include <string_view>

namespace bastion::core {

struct SecretRead {
  std::optional<std::string> value;
  std::string error;  // names the file, never its content
};

// Where a secret lives: BASTION_<ENV_KEY>_FILE wins over the configured path; "credential:NAME"
// means $CREDENTIALS_DIRECTORY/NAME. std::nullopt when neither is set.
std::optional<std::string> secret_file_path(const std::optional<std::string>& configured,
                                            std::string_view env_key);

// Reads a secret file (at most 1 MiB; one trailing newline removed) and registers the value
// for redaction. Warns once when the file is readable by others.
SecretRead read_secret_file(const std::string& path);

// Masks registered secret values and well-known credential shapes (Authorization bearer
// values, Bastion tokens, JWTs, PEM private keys) in text bound for logs.
std::string redact_secrets(std::string_view text);
void register_secret(std::string_view value);

}  // namespace bastion::core

#include "core/secrets.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <vector>

namespace bastion::core {
namespace {

struct Registry {
  std::mutex mutex;
  std::vector<std::string> values;
};

Registry& registry() {
  static Registry r;
  return r;
}

bool token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '~' ||
         c == '+' || c == '/' || c == '=';
}

// Replaces the run of token characters starting at `from` with ***.
std::size_t mask_run(std::string& text, std::size_t from) {
  std::size_t end = from;
  while (end < text.size() && token_char(text[end])) ++end;
  if (end == from) return from;
  text.replace(from, end - from, "***");
  return from + 3;
}

// Characters that continue an identifier: a shape only starts after none of these.
bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'; }

bool starts_with_ci(std::string_view text, std::size_t at, std::string_view prefix) {
  if (text.size() - at < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[at + i])) != prefix[i]) return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> secret_file_path(const std::optional<std::string>& configured,
                                            std::string_view env_key) {
  std::string env_name = "BASTION_" + std::string(env_key) + "_FILE";
  std::optional<std::string> path;
  if (const char* from_env = std::getenv(env_name.c_str()); from_env && *from_env) path = from_env;
  else path = configured;
  if (path && path->rfind("credential:", 0) == 0) {
    const char* dir = std::getenv("CREDENTIALS_DIRECTORY");
    std::string name = path->substr(11);
    if (!dir || !*dir || name.empty() || name.find('/') != std::string::npos) return path;  // read fails clearly
    return std::string(dir) + "/" + name;
  }
  return path;
}

SecretRead read_secret_file(const std::string& path) {
  SecretRead out;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    out.error = "cannot read secret file " + path;
    return out;
  }
  if (!S_ISREG(st.st_mode)) {
    out.error = "secret file " + path + " is not a regular file";
    return out;
  }
  if (st.st_size > (1 << 20)) {
    out.error = "secret file " + path + " is larger than 1 MiB";
    return out;
  }
  if (st.st_mode & S_IROTH) spdlog::warn("secret file {} is readable by every user; chmod 600 it", path);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    out.error = "cannot read secret file " + path;
    return out;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string value = buffer.str();
  if (!value.empty() && value.back() == '\n') value.pop_back();
  if (!value.empty() && value.back() == '\r') value.pop_back();
  register_secret(value);
  out.value = std::move(value);
  return out;
}

void register_secret(std::string_view value) {
  // Short values would mask ordinary words; files with several lines register each line too.
  auto add = [](std::string_view v) {
    if (v.size() < 6) return;
    auto& r = registry();
    std::lock_guard lock(r.mutex);
    for (const auto& existing : r.values) {
      if (existing == v) return;
    }
    r.values.emplace_back(v);
  };
  add(value);
  std::size_t start = 0;
  while (start < value.size()) {
    auto nl = value.find('\n', start);
    auto line = value.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    if (line.size() != value.size()) {
      add(line);
      // "Name: value" header lines: the value alone is the secret.
      if (auto colon = line.find(':'); colon != std::string_view::npos) {
        auto v = line.substr(colon + 1);
        while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
        add(v);
      }
    }
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
}

std::string redact_secrets(std::string_view input) {
  std::string text(input);
  {
    auto& r = registry();
    std::lock_guard lock(r.mutex);
    for (const auto& secret : r.values) {
      for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3)) {
        text.replace(at, secret.size(), "***");
      }
    }
  }
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (starts_with_ci(text, i, "bearer ")) {
      // Only credential-looking values: "bearer token(s) loaded" is prose.
      std::size_t end = i + 7;
      while (end < text.size() && token_char(text[end])) ++end;
      if (end - (i + 7) >= 8) i = mask_run(text, i + 7);
    } else if (text.compare(i, 4, "bst_") == 0 && (i == 0 || !word_char(text[i - 1]))) {
      i = mask_run(text, i);
    } else if (text.compare(i, 3, "eyJ") == 0 && (i == 0 || !word_char(text[i - 1]))) {
      // A JWT: three base64url parts joined by dots.
      std::size_t end = i;
      int dots = 0;
      while (end < text.size() && word_char(text[end])) dots += text[end++] == '.';
      if (dots >= 2) {
        text.replace(i, end - i, "***");
        i += 2;
      }
    } else if (text.compare(i, 11, "-----BEGIN ") == 0) {
      auto line_end = text.find("-----", i + 11);
      if (line_end != std::string::npos && text.compare(line_end - 11, 11, "PRIVATE KEY") == 0) {
        auto end = text.find("-----END", line_end);
        auto stop = end == std::string::npos ? text.size() : text.find("-----", end + 8);
        stop = stop == std::string::npos ? text.size() : stop + 5;
        text.replace(i, stop - i, "***PRIVATE KEY***");
        i += 16;
      }
    }
  }
  return text;
}

}  // namespace bastion::core

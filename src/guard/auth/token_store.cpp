#include "guard/auth/token_store.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <ostream>
#include <set>
#include <sstream>

#include "guard/auth/encoding.hpp"

namespace bastion::guard::auth {
namespace json = boost::json;

namespace {

constexpr std::string_view kPrefix = "bst_";
constexpr std::size_t kSecretBytes = 32;
constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kIdChars = 12;  // 60 random bits: unique in practice, and it is public anyway
constexpr std::size_t kMinIdChars = 8;
constexpr std::size_t kMaxIdChars = 32;
constexpr char kBase32[] = "abcdefghijklmnopqrstuvwxyz234567";

bool is_id_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'); }

bool valid_id(std::string_view id) {
  if (id.size() < kMinIdChars || id.size() > kMaxIdChars) return false;
  for (char c : id) {
    if (!is_id_char(c)) return false;
  }
  return true;
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  if (name.front() == ' ' || name.back() == ' ') return false;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

// RFC 6749 scope-token: NQCHAR = %x21 / %x23-5B / %x5D-7E.
bool valid_scope(std::string_view scope) {
  if (scope.empty() || scope.size() > 128) return false;
  for (unsigned char c : scope) {
    if (!(c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e))) return false;
  }
  return true;
}

bool valid_tool_pattern(std::string_view tool) {
  if (tool.empty() || tool.size() > 256) return false;
  for (unsigned char c : tool) {
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\') return false;
  }
  return true;
}

std::string now_rfc3339() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<std::string> random_id() {
  auto bytes = random_bytes(kIdChars);
  if (!bytes) return std::nullopt;
  std::string id;
  for (unsigned char b : *bytes) id += kBase32[b & 31];  // 32 divides 256: no modulo bias
  return id;
}

// Stored hash: SHA-256(salt || secret). The secret is 256 bits from the CSPRNG, so a slow
// password KDF (bcrypt, Argon2) would add latency without adding security: nobody can brute-force
// a 2^256 space; the salt only keeps equal secrets from producing equal lines.
std::array<std::uint8_t, 32> token_hash(std::string_view salt, std::string_view secret) {
  std::string buf;
  buf.reserve(salt.size() + secret.size());
  buf.append(salt);
  buf.append(secret);
  auto h = sha256(buf);
  OPENSSL_cleanse(buf.data(), buf.size());
  return h;
}

std::vector<std::string> split_list(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  for (const auto& item : in) {
    std::size_t start = 0;
    while (start <= item.size()) {
      const auto comma = item.find(',', start);
      const auto end = comma == std::string::npos ? item.size() : comma;
      std::string part = item.substr(start, end - start);
      // Trim spaces around list elements ("a, b").
      const auto first = part.find_first_not_of(' ');
      const auto last = part.find_last_not_of(' ');
      if (first != std::string::npos) out.push_back(part.substr(first, last - first + 1));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return out;
}

std::optional<std::vector<std::string>> string_array(const json::value* v) {
  if (v == nullptr) return std::vector<std::string>{};
  if (!v->is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& item : v->get_array()) {
    if (!item.is_string()) return std::nullopt;
    out.emplace_back(item.get_string());
  }
  return out;
}

}  // namespace

std::optional<ParsedToken> parse_token(std::string_view presented) {
  if (presented.size() > 256 || presented.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  const auto rest = presented.substr(kPrefix.size());
  // The id alphabet has no '_', the secret's may: split at the first '_'.
  const auto sep = rest.find('_');
  if (sep == std::string_view::npos) return std::nullopt;
  const auto id = rest.substr(0, sep);
  if (!valid_id(id)) return std::nullopt;
  auto secret = base64url_decode(rest.substr(sep + 1));
  if (!secret || secret->size() != kSecretBytes) return std::nullopt;
  return ParsedToken{id, std::move(*secret)};
}

std::optional<CreatedToken> create_token(std::string name, std::vector<std::string> scopes,
                                         std::vector<std::string> tools) {
  auto id = random_id();
  auto secret = random_bytes(kSecretBytes);
  auto salt = random_bytes(kSaltBytes);
  if (!id || !secret || !salt) return std::nullopt;
  const auto hash = token_hash(*salt, *secret);
  CreatedToken out;
  out.token = std::string(kPrefix) + *id + "_" + base64url_encode(*secret);
  OPENSSL_cleanse(secret->data(), secret->size());
  out.entry.id = std::move(*id);
  out.entry.name = std::move(name);
  out.entry.salt = hex_encode(*salt);
  out.entry.hash = hex_encode({reinterpret_cast<const char*>(hash.data()), hash.size()});
  out.entry.scopes = std::move(scopes);
  out.entry.tools = std::move(tools);
  out.entry.created = now_rfc3339();
  return out;
}

std::string serialize_token_entry(const TokenEntry& e) {
  json::object o;
  o["id"] = e.id;
  o["name"] = e.name;
  o["salt"] = e.salt;
  o["hash"] = e.hash;
  json::array scopes;
  for (const auto& s : e.scopes) scopes.emplace_back(s);
  o["scopes"] = std::move(scopes);
  json::array tools;
  for (const auto& t : e.tools) tools.emplace_back(t);
  o["tools"] = std::move(tools);
  o["created"] = e.created;
  return json::serialize(o);
}

std::string append_token_file(const std::string& path, const TokenEntry& entry) {
  // O_NOFOLLOW: a symlink planted at the path must not redirect the write.
  const int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return path + ": cannot open: " + std::strerror(errno);
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};

  struct stat st{};
  if (::fstat(fd, &st) != 0) return path + ": cannot stat: " + std::strerror(errno);
  if (!S_ISREG(st.st_mode)) return path + ": not a regular file";
  if ((st.st_mode & 077) != 0) {
    std::ostringstream msg;
    msg << path << ": permissions 0" << std::oct << (st.st_mode & 0777)
        << " allow group/other access; run chmod 600 " << path;
    return msg.str();
  }

  std::string line = serialize_token_entry(entry) + "\n";
  // Keep one object per line even when the file was edited by hand without a final newline.
  if (st.st_size > 0) {
    char last = '\n';
    if (::pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n') line.insert(0, "\n");
  }
  std::size_t written = 0;
  while (written < line.size()) {
    const auto n = ::write(fd, line.data() + written, line.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return path + ": write failed: " + std::strerror(errno);
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return path + ": fsync failed: " + std::strerror(errno);
  return {};
}

TokenStoreLoadResult TokenStore::load(const std::string& path) {
  TokenStoreLoadResult result;
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) {
    result.errors.push_back(path + ":0: cannot open: " + std::strerror(errno));
    return result;
  }
  if (!S_ISREG(st.st_mode)) {
    result.errors.push_back(path + ":0: not a regular file");
    return result;
  }
  if (static_cast<std::size_t>(st.st_size) > kMaxFileBytes) {
    result.errors.push_back(path + ":0: file larger than " + std::to_string(kMaxFileBytes) +
                            " bytes");
    return result;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    result.errors.push_back(path + ":0: cannot open: " + std::strerror(errno));
    return result;
  }
  std::string contents(static_cast<std::size_t>(st.st_size), '\0');
  in.read(contents.data(), static_cast<std::streamsize>(contents.size()));
  contents.resize(static_cast<std::size_t>(in.gcount()));
  result = parse(contents, path);
  if ((st.st_mode & 077) != 0) {
    // Hashes of 256-bit secrets are not useful to a reader, so this is a warning, not an error.
    std::ostringstream msg;
    msg << path << ":0: permissions 0" << std::oct << (st.st_mode & 0777)
        << " allow group/other access; chmod 600 is recommended";
    result.warnings.push_back(msg.str());
  }
  return result;
}

TokenStoreLoadResult TokenStore::parse(std::string_view contents, const std::string& path) {
  TokenStoreLoadResult result;
  TokenStore store;
  std::size_t line_no = 0;
  std::size_t pos = 0;
  static const std::set<std::string_view> kKnown = {"id",     "name",  "salt",   "hash",
                                                    "scopes", "tools", "created"};
  while (pos < contents.size()) {
    ++line_no;
    auto end = contents.find('\n', pos);
    if (end == std::string_view::npos) end = contents.size();
    auto line = contents.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto err = [&](const std::string& message) {
      result.errors.push_back(path + ":" + std::to_string(line_no) + ": " + message);
    };
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') continue;
    if (line.size() > kMaxLineBytes) {
      err("line longer than " + std::to_string(kMaxLineBytes) + " bytes");
      continue;
    }
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object()) {
      err("not a JSON object");
      continue;
    }
    const auto& o = v.get_object();
    bool bad = false;
    for (const auto& kv : o) {
      if (!kKnown.contains(std::string_view(kv.key()))) {
        err("unknown key \"" + std::string(kv.key()) + "\"");
        bad = true;
      }
    }
    auto str = [&](std::string_view key, bool required) -> std::optional<std::string> {
      const auto* f = o.if_contains(key);
      if (f == nullptr) {
        if (required) err("missing \"" + std::string(key) + "\"");
        return required ? std::nullopt : std::optional<std::string>(std::string{});
      }
      if (!f->is_string()) {
        err("\"" + std::string(key) + "\" must be a string");
        return std::nullopt;
      }
      return std::string(f->get_string());
    };
    auto id = str("id", true);
    auto name = str("name", true);
    auto salt_hex = str("salt", true);
    auto hash_hex = str("hash", true);
    auto created = str("created", false);
    auto scopes = string_array(o.if_contains("scopes"));
    auto tools = string_array(o.if_contains("tools"));
    if (!id || !name || !salt_hex || !hash_hex || !created || bad) continue;
    if (!valid_id(*id)) {
      err("\"id\" must be 8-32 characters of a-z and 2-7");
      continue;
    }
    if (!valid_name(*name)) {
      err("\"name\" must be 1-128 printable characters");
      continue;
    }
    auto salt = hex_decode(*salt_hex);
    if (!salt || salt->size() < 8 || salt->size() > 64) {
      err("\"salt\" must be 8-64 bytes of hex");
      continue;
    }
    auto hash = hex_decode(*hash_hex);
    if (!hash || hash->size() != 32) {
      err("\"hash\" must be 32 bytes of hex (SHA-256)");
      continue;
    }
    if (!scopes || !tools) {
      err("\"scopes\" and \"tools\" must be arrays of strings");
      continue;
    }
    bool items_ok = true;
    for (const auto& s : *scopes) items_ok = items_ok && valid_scope(s);
    for (const auto& t : *tools) items_ok = items_ok && valid_tool_pattern(t);
    if (!items_ok) {
      err("invalid scope or tool pattern (no spaces, quotes or control characters)");
      continue;
    }
    if (store.entries_.contains(*id)) {
      err("duplicate id \"" + *id + "\"");
      continue;
    }
    Stored s;
    s.salt = std::move(*salt);
    s.hash = std::move(*hash);
    s.principal = Principal{std::move(*name), std::move(*scopes), std::move(*tools), "token"};
    store.entries_.emplace(std::move(*id), std::move(s));
  }
  if (result.errors.empty()) result.store = std::move(store);
  return result;
}

std::optional<Principal> TokenStore::verify(std::string_view presented) const {
  auto parsed = parse_token(presented);
  if (!parsed) return std::nullopt;  // the format is public: rejecting it early leaks nothing
  // For an unknown id do the same work against a dummy entry, so the response time does not
  // tell an attacker which ids exist.
  static const Stored kDummy = [] {
    Stored d;
    d.salt = std::string(kSaltBytes, '\x5a');
    d.hash = std::string(32, '\xa5');
    return d;
  }();
  const auto it = entries_.find(std::string(parsed->id));
  const Stored& entry = it == entries_.end() ? kDummy : it->second;
  const auto computed = token_hash(entry.salt, parsed->secret);
  OPENSSL_cleanse(parsed->secret.data(), parsed->secret.size());
  const bool equal = entry.hash.size() == computed.size() &&
                     CRYPTO_memcmp(entry.hash.data(), computed.data(), computed.size()) == 0;
  if (!equal || it == entries_.end()) return std::nullopt;
  return entry.principal;
}

int run_token_create(const TokenCreateOptions& opts, std::ostream& out, std::ostream& err) {
  if (!valid_name(opts.name)) {
    err << "bastion token create: NAME must be 1-128 printable characters\n";
    return 2;
  }
  if (opts.tokens_file.empty()) {
    err << "bastion token create: --tokens-file is required\n";
    return 2;
  }
  auto scopes = split_list(opts.scopes);
  auto tools = split_list(opts.tools);
  for (const auto& s : scopes) {
    if (!valid_scope(s)) {
      err << "bastion token create: invalid scope \"" << s << "\"\n";
      return 2;
    }
  }
  for (const auto& t : tools) {
    if (!valid_tool_pattern(t)) {
      err << "bastion token create: invalid tool \"" << t << "\"\n";
      return 2;
    }
  }
  auto created = create_token(opts.name, std::move(scopes), std::move(tools));
  if (!created) {
    err << "bastion token create: the random number generator failed\n";
    return 2;
  }
  if (auto e = append_token_file(opts.tokens_file, created->entry); !e.empty()) {
    err << "bastion token create: " << e << "\n";
    return 2;
  }
  out << created->token << "\n";
  err << "token \"" << created->entry.name << "\" (id " << created->entry.id << ") added to "
      << opts.tokens_file << "; it is shown only this once\n";
  return 0;
}

}  // namespace bastion::guard::auth

#include "net/tls/tls_server_context.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstring>
#include <map>

namespace bastion::net::tls {

namespace asio = boost::asio;
namespace ssl = asio::ssl;

namespace {

constexpr const char* kGroups = "X25519:P-256:P-384";
constexpr std::string_view kAlpnHttp11 = "http/1.1";

// Every TLS 1.3 suite OpenSSL implements (RFC 8446 B.4); set explicitly so the table below
// also knows the CCM ones, which are not enabled by default.
constexpr const char* kAllTls13 =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:"
    "TLS_AES_128_CCM_SHA256:TLS_AES_128_CCM_8_SHA256";

struct SuiteInfo {
  bool tls13 = false;
  bool ecdhe = false;  // TLS 1.2: ECDHE key exchange
  bool aead = false;
  bool signed_by_cert = false;  // RSA or ECDSA authentication (not PSK, SRP, anonymous)
};

// Every suite name this libssl knows, with the properties the policy checks. Built once.
const std::map<std::string, SuiteInfo, std::less<>>& known_suites() {
  static const auto table = [] {
    std::map<std::string, SuiteInfo, std::less<>> out;
    SSL_CTX* ctx = SSL_CTX_new(TLS_method());
    if (ctx == nullptr) return out;
    // SECLEVEL=0 so weak suites are still listed (and can be named in the error).
    if (SSL_CTX_set_cipher_list(ctx, "ALL:COMPLEMENTOFALL:@SECLEVEL=0") == 1 &&
        SSL_CTX_set_ciphersuites(ctx, kAllTls13) == 1) {
      STACK_OF(SSL_CIPHER)* list = SSL_CTX_get_ciphers(ctx);
      for (int i = 0; i < sk_SSL_CIPHER_num(list); ++i) {
        const SSL_CIPHER* c = sk_SSL_CIPHER_value(list, i);
        SuiteInfo info;
        const int kx = SSL_CIPHER_get_kx_nid(c);
        const int auth = SSL_CIPHER_get_auth_nid(c);
        info.tls13 = kx == NID_kx_any;
        info.ecdhe = kx == NID_kx_ecdhe;
        info.aead = SSL_CIPHER_is_aead(c) == 1;
        info.signed_by_cert =
            auth == NID_auth_rsa || auth == NID_auth_ecdsa || auth == NID_auth_any;
        out.emplace(SSL_CIPHER_get_name(c), info);
      }
    }
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return out;
  }();
  return table;
}

std::vector<std::string> split_list(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ':' || c == ',' || c == ' ') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += sep;
    out += item;
  }
  return out;
}

// Drains OpenSSL's error queue into one line.
std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? std::string("unknown OpenSSL error") : out;
}

// Never prompt on a terminal for an encrypted key: a server has no one to answer.
int no_password(char*, int, int, void*) { return 0; }

void free_ring(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<std::shared_ptr<TicketKeyRing>*>(ptr);
}

int ring_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, free_ring);
  return index;
}

// A copy of a key that is wiped when it goes out of scope.
struct WipedKey {
  TicketKeyRing::Key key;
  ~WipedKey() { OPENSSL_cleanse(&key, sizeof key); }
};

bool set_ticket_mac(EVP_MAC_CTX* hctx, TicketKeyRing::Key& key) {
  char digest[] = "SHA256";
  OSSL_PARAM params[3];
  params[0] =
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.hmac.data(), key.hmac.size());
  params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
  params[2] = OSSL_PARAM_construct_end();
  return EVP_MAC_CTX_set_params(hctx, params) == 1;
}

// RFC 5077-style ticket protection: AES-256-CBC + HMAC-SHA256 under the ring's keys.
int ticket_key_callback(SSL* s, unsigned char* key_name, unsigned char* iv, EVP_CIPHER_CTX* cctx,
                        EVP_MAC_CTX* hctx, int enc) {
  auto* holder = static_cast<std::shared_ptr<TicketKeyRing>*>(
      SSL_CTX_get_ex_data(SSL_get_SSL_CTX(s), ring_index()));
  if (holder == nullptr || !*holder) return enc ? 0 : -1;
  TicketKeyRing& ring = **holder;
  const auto now = TicketKeyRing::Clock::now();
  const EVP_CIPHER* cipher = EVP_aes_256_cbc();
  if (enc) {
    auto found = ring.encryption_key(now);
    if (!found) return 0;  // no ticket this time; the handshake still completes
    WipedKey k{*found};
    OPENSSL_cleanse(&*found, sizeof *found);
    if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(cipher)) != 1) return 0;
    std::memcpy(key_name, k.key.name.data(), k.key.name.size());
    if (EVP_EncryptInit_ex(cctx, cipher, nullptr, k.key.aes.data(), iv) != 1) return -1;
    if (!set_ticket_mac(hctx, k.key)) return -1;
    return 1;
  }
  TicketKeyRing::Use use = TicketKeyRing::Use::none;
  auto found = ring.decryption_key(key_name, now, use);
  if (!found) return 0;  // unknown or expired key: full handshake, new ticket
  WipedKey k{*found};
  OPENSSL_cleanse(&*found, sizeof *found);
  if (!set_ticket_mac(hctx, k.key)) return -1;
  if (EVP_DecryptInit_ex(cctx, cipher, nullptr, k.key.aes.data(), iv) != 1) return -1;
  // 2: resume, and issue a ticket under the current key.
  return use == TicketKeyRing::Use::previous ? 2 : 1;
}

// RFC 7301: we speak HTTP/1.1 only; a client that offers ALPN without it gets the
// no_application_protocol alert instead of a protocol it did not ask for.
int alpn_select(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  unsigned int i = 0;
  while (i < inlen) {
    const unsigned int len = in[i];
    if (len == 0 || i + 1 + len > inlen) break;
    if (std::string_view(reinterpret_cast<const char*>(in + i + 1), len) == kAlpnHttp11) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(len);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

std::string bio_string(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

TlsContextProvider::FileStamp stamp_of(const std::string& path) {
  TlsContextProvider::FileStamp s;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return s;
  s.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  s.size = static_cast<std::int64_t>(st.st_size);
  s.inode = static_cast<std::uint64_t>(st.st_ino);
  s.device = static_cast<std::uint64_t>(st.st_dev);
  return s;
}

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};

}  // namespace

std::optional<std::string> validate_cipher_config(const TlsServerOptions& options) {
  const auto& known = known_suites();
  std::vector<std::string> problems;

  const auto tls12 = split_list(options.ciphers_tls12);
  std::vector<std::string> unknown, misplaced, weak;
  for (const auto& name : tls12) {
    auto it = known.find(name);
    if (it == known.end()) {
      unknown.push_back(name);
    } else if (it->second.tls13) {
      misplaced.push_back(name);
    } else if (!it->second.ecdhe || !it->second.aead || !it->second.signed_by_cert) {
      weak.push_back(name);
    }
  }
  if (tls12.empty()) problems.push_back("ciphers_tls12 is empty");
  if (!unknown.empty()) {
    problems.push_back("unknown TLS 1.2 cipher suite name(s): " + join(unknown, ", ") +
                       " (OpenSSL has no suites by these names; list exact suite names such as "
                       "ECDHE-RSA-AES128-GCM-SHA256, without aliases or operators)");
  }
  if (!misplaced.empty()) {
    problems.push_back("TLS 1.3 suite(s) in ciphers_tls12: " + join(misplaced, ", ") +
                       " (they belong in ciphersuites_tls13)");
  }
  if (!weak.empty()) {
    problems.push_back("TLS 1.2 cipher suite(s) without ECDHE key exchange and AEAD encryption: " +
                       join(weak, ", ") +
                       " (only ECDHE-ECDSA/ECDHE-RSA with GCM or CHACHA20-POLY1305 is allowed)");
  }

  const auto tls13 = split_list(options.ciphersuites_tls13);
  std::vector<std::string> unknown13;
  for (const auto& name : tls13) {
    auto it = known.find(name);
    if (it == known.end() || !it->second.tls13 || !it->second.aead) unknown13.push_back(name);
  }
  if (tls13.empty()) problems.push_back("ciphersuites_tls13 is empty");
  if (!unknown13.empty()) {
    problems.push_back(
        "unknown TLS 1.3 cipher suite name(s): " + join(unknown13, ", ") +
        " (known: TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256)");
  }
  if (problems.empty()) return std::nullopt;
  return join(problems, "; ");
}

// ---------------------------------------------------------------------------------------------

TicketKeyRing::TicketKeyRing(std::chrono::seconds rotation) : rotation_(rotation) {}

TicketKeyRing::~TicketKeyRing() {
  for (auto& k : keys_) OPENSSL_cleanse(&k, sizeof k);
}

void TicketKeyRing::prune(Clock::time_point now) {
  // A key encrypts for one period and decrypts for one more.
  while (!keys_.empty() && now >= keys_.back().created + 2 * rotation_) {
    OPENSSL_cleanse(&keys_.back(), sizeof(Key));
    keys_.pop_back();
  }
}

std::optional<TicketKeyRing::Key> TicketKeyRing::encryption_key(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  prune(now);
  if (keys_.empty() || now >= keys_.front().created + rotation_) {
    Key k;
    if (RAND_bytes(k.name.data(), static_cast<int>(k.name.size())) != 1 ||
        RAND_bytes(k.aes.data(), static_cast<int>(k.aes.size())) != 1 ||
        RAND_bytes(k.hmac.data(), static_cast<int>(k.hmac.size())) != 1) {
      OPENSSL_cleanse(&k, sizeof k);
      ERR_clear_error();
      return std::nullopt;
    }
    k.created = now;
    keys_.push_front(k);
    OPENSSL_cleanse(&k, sizeof k);
  }
  return keys_.front();
}

std::optional<TicketKeyRing::Key> TicketKeyRing::decryption_key(const unsigned char* name,
                                                                Clock::time_point now, Use& use) {
  std::lock_guard lock(mutex_);
  prune(now);
  use = Use::none;
  for (std::size_t i = 0; i < keys_.size(); ++i) {
    if (CRYPTO_memcmp(keys_[i].name.data(), name, keys_[i].name.size()) != 0) continue;
    const bool current = i == 0 && now < keys_[i].created + rotation_;
    use = current ? Use::current : Use::previous;
    return keys_[i];
  }
  return std::nullopt;
}

std::size_t TicketKeyRing::size() const {
  std::lock_guard lock(mutex_);
  return keys_.size();
}

// ---------------------------------------------------------------------------------------------

ContextResult build_server_context(const TlsServerOptions& options,
                                   std::shared_ptr<TicketKeyRing> ring) {
  ERR_clear_error();
  if (auto problem = validate_cipher_config(options))
    return {nullptr, "invalid TLS cipher configuration: " + *problem};
  if (!ring) return {nullptr, "internal error: no ticket key ring"};
  if (options.cert_file.empty() || options.key_file.empty())
    return {nullptr, "tls needs both cert_file and key_file"};

  std::shared_ptr<ssl::context> ctx;
  try {
    ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  } catch (const std::exception& e) {
    return {nullptr, std::string("cannot create an OpenSSL context: ") + e.what()};
  }
  SSL_CTX* native = ctx->native_handle();
  auto fail = [](std::string what) -> ContextResult {
    return {nullptr, what + ": " + openssl_errors()};
  };

  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(native, TLS1_3_VERSION) != 1) {
    return fail("cannot restrict protocol versions to TLS 1.2-1.3");
  }
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (options.prefer_server_ciphers) {
    SSL_CTX_set_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE);
  } else {
    SSL_CTX_clear_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE);
  }
  SSL_CTX_clear_options(native, SSL_OP_NO_TICKET);
  // Names were checked above; joining with ':' hands OpenSSL exactly the validated list.
  const auto tls12 = join(split_list(options.ciphers_tls12), ":");
  const auto tls13 = join(split_list(options.ciphersuites_tls13), ":");
  if (SSL_CTX_set_cipher_list(native, tls12.c_str()) != 1)
    return fail("ciphers_tls12 rejected by OpenSSL");
  if (SSL_CTX_set_ciphersuites(native, tls13.c_str()) != 1)
    return fail("ciphersuites_tls13 rejected by OpenSSL");
  if (SSL_CTX_set1_groups_list(native, kGroups) != 1)
    return fail(std::string("cannot set ECDH groups ") + kGroups);

  // Resumption only through stateless tickets: no server-side session cache to grow or share.
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
  // A ticket is only good while its key still decrypts (at least one rotation period), so the
  // lifetime hint sent to clients never promises more than that (OpenSSL's default is 2 h).
  SSL_CTX_set_timeout(
      native, static_cast<long>(std::min<std::int64_t>(7200, options.ticket_key_rotation.count())));
  static const unsigned char kSessionContext[] = "bastion";
  SSL_CTX_set_session_id_context(native, kSessionContext, sizeof kSessionContext - 1);
  auto* holder = new std::shared_ptr<TicketKeyRing>(std::move(ring));
  if (SSL_CTX_set_ex_data(native, ring_index(), holder) != 1) {
    delete holder;
    return fail("cannot attach the ticket key ring");
  }
  if (SSL_CTX_set_tlsext_ticket_key_evp_cb(native, ticket_key_callback) != 1) {
    return fail("cannot install the session ticket key callback");
  }
  SSL_CTX_set_alpn_select_cb(native, alpn_select, nullptr);
  SSL_CTX_set_default_passwd_cb(native, no_password);

  if (SSL_CTX_use_certificate_chain_file(native, options.cert_file.c_str()) != 1) {
    return fail("cannot load the certificate chain from '" + options.cert_file + "'");
  }
  X509* leaf = SSL_CTX_get0_certificate(native);
  if (leaf == nullptr) return fail("no certificate in '" + options.cert_file + "'");

  std::unique_ptr<BIO, BioDeleter> key_bio(BIO_new_file(options.key_file.c_str(), "r"));
  if (!key_bio) return fail("cannot open the private key file '" + options.key_file + "'");
  std::unique_ptr<EVP_PKEY, PkeyDeleter> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, no_password, nullptr));
  if (!key) {
    return fail("cannot read a PEM private key from '" + options.key_file +
                "' (encrypted keys are not supported)");
  }
  if (X509_check_private_key(leaf, key.get()) != 1) {
    ERR_clear_error();
    return {nullptr, "the private key in '" + options.key_file +
                         "' does not match the certificate in '" + options.cert_file + "'"};
  }
  if (SSL_CTX_use_PrivateKey(native, key.get()) != 1 || SSL_CTX_check_private_key(native) != 1) {
    return fail("cannot use the private key from '" + options.key_file + "'");
  }

  // Warnings, not errors: a renewal may briefly serve an odd file and the old one is no better.
  if (X509_cmp_current_time(X509_get0_notAfter(leaf)) < 0) {
    spdlog::warn("TLS certificate in '{}' has expired", options.cert_file);
  }
  STACK_OF(X509)* extra = nullptr;
  SSL_CTX_get0_chain_certs(native, &extra);
  if (X509_check_issued(leaf, leaf) != X509_V_OK && sk_X509_num(extra) == 0) {
    spdlog::warn(
        "'{}' holds only the leaf certificate; clients may not be able to build the chain "
        "(use the full chain, e.g. certbot's fullchain.pem)",
        options.cert_file);
  }
  struct stat st {};
  if (::stat(options.key_file.c_str(), &st) == 0 && (st.st_mode & S_IROTH) != 0) {
    spdlog::warn("TLS private key '{}' is readable by everyone; chmod 600 it", options.key_file);
  }
  ERR_clear_error();
  return {std::move(ctx), {}};
}

std::optional<CertificateSummary> summarize(const ssl::context& context) {
  X509* leaf = SSL_CTX_get0_certificate(const_cast<ssl::context&>(context).native_handle());
  if (leaf == nullptr) return std::nullopt;
  CertificateSummary out;
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new(BIO_s_mem()));
  if (!bio) return std::nullopt;
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(leaf), 0, XN_FLAG_RFC2253);
  out.subject = bio_string(bio.get());
  BIO_reset(bio.get());
  ASN1_TIME_print(bio.get(), X509_get0_notAfter(leaf));
  out.not_after = bio_string(bio.get());
  if (BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), nullptr)) {
    if (char* hex = BN_bn2hex(bn)) {
      out.serial_hex = hex;
      OPENSSL_free(hex);
    }
    BN_free(bn);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

struct TlsContextProvider::WatchState {
  std::atomic<bool> stopped{false};
  asio::any_io_executor executor;
  std::weak_ptr<asio::steady_timer> timer;  // owned by the watching coroutine
};

TlsContextProvider::TlsContextProvider(TlsServerOptions options) : options_(std::move(options)) {}

TlsContextProvider::~TlsContextProvider() { stop_watching(); }

TlsContextProvider::Created TlsContextProvider::create(TlsServerOptions options) {
  if (options.ticket_key_rotation <= std::chrono::seconds::zero()) {
    return {nullptr, "ticket_key_rotation must be positive"};
  }
  if (options.reload_poll <= std::chrono::milliseconds::zero())
    return {nullptr, "reload_poll must be positive"};
  auto provider = std::make_shared<TlsContextProvider>(std::move(options));
  provider->ring_ = std::make_shared<TicketKeyRing>(provider->options_.ticket_key_rotation);
  provider->stamp_ = provider->stamp_files();
  auto built = build_server_context(provider->options_, provider->ring_);
  if (!built) return {nullptr, std::move(built.error)};
  provider->current_ = std::move(built.context);
  return {std::move(provider), {}};
}

std::shared_ptr<ssl::context> TlsContextProvider::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

std::uint64_t TlsContextProvider::generation() const {
  std::lock_guard lock(mutex_);
  return generation_;
}

std::pair<TlsContextProvider::FileStamp, TlsContextProvider::FileStamp>
TlsContextProvider::stamp_files() const {
  std::string cert, key;
  {
    std::lock_guard lock(mutex_);
    cert = options_.cert_file;
    key = options_.key_file;
  }
  return {stamp_of(cert), stamp_of(key)};
}

std::optional<std::string> TlsContextProvider::reload() {
  // Stamp before reading: a write racing with the build shows up as a change at the next poll.
  auto stamp = stamp_files();
  TlsServerOptions options;
  {
    std::lock_guard lock(mutex_);
    options = options_;
  }
  auto built = build_server_context(options, ring_);
  {
    std::lock_guard lock(mutex_);
    stamp_ = stamp;
    if (built) {
      current_ = built.context;
      ++generation_;
    }
  }
  if (!built) {
    spdlog::error("TLS reload failed, still serving the previous certificate: {}", built.error);
    return built.error;
  }
  if (auto s = summarize(*built.context)) {
    spdlog::info("TLS certificate loaded from '{}': subject {}, serial {}, valid until {}",
                 options.cert_file, s->subject, s->serial_hex, s->not_after);
  }
  return std::nullopt;
}

std::optional<std::string> TlsContextProvider::reload_from(std::string cert_file, std::string key_file) {
  TlsServerOptions options;
  {
    std::lock_guard lock(mutex_);
    options = options_;
  }
  options.cert_file = std::move(cert_file);
  options.key_file = std::move(key_file);
  auto built = build_server_context(options, ring_);
  if (!built) {
    spdlog::error("TLS: new certificate refused, still serving the previous one: {}", built.error);
    return built.error;
  }
  auto stamp = std::make_pair(stamp_of(options.cert_file), stamp_of(options.key_file));
  {
    std::lock_guard lock(mutex_);
    options_.cert_file = options.cert_file;
    options_.key_file = options.key_file;
    current_ = built.context;
    stamp_ = stamp;
    ++generation_;
  }
  if (auto s = summarize(*built.context)) {
    spdlog::info("TLS certificate loaded from '{}': subject {}, serial {}, valid until {}", options.cert_file,
                 s->subject, s->serial_hex, s->not_after);
  }
  return std::nullopt;
}

void TlsContextProvider::watch(asio::any_io_executor executor) {
  stop_watching();
  auto state = std::make_shared<WatchState>();
  state->executor = executor;
  auto timer = std::make_shared<asio::steady_timer>(executor);
  state->timer = timer;
  {
    std::lock_guard lock(mutex_);
    watch_ = state;
  }
  std::weak_ptr<TlsContextProvider> weak = weak_from_this();
  const auto poll = options_.reload_poll;
  auto loop = [](std::weak_ptr<TlsContextProvider> weak_self, std::shared_ptr<WatchState> st,
                 std::shared_ptr<asio::steady_timer> t,
                 std::chrono::milliseconds every) -> asio::awaitable<void> {
    for (;;) {
      t->expires_after(every);
      auto [ec] = co_await t->async_wait(asio::as_tuple(asio::use_awaitable));
      if (ec || st->stopped) co_return;
      auto self = weak_self.lock();
      if (!self) co_return;
      const auto now = self->stamp_files();
      bool changed = false;
      {
        std::lock_guard lock(self->mutex_);
        changed = now != self->stamp_;
      }
      if (changed) self->reload();
    }
  };
  asio::co_spawn(executor, loop(std::move(weak), state, std::move(timer), poll), asio::detached);
}

void TlsContextProvider::stop_watching() {
  std::shared_ptr<WatchState> state;
  {
    std::lock_guard lock(mutex_);
    state = std::move(watch_);
  }
  if (!state) return;
  state->stopped = true;
  // The timer lives in the coroutine frame; if the frame is gone there is nothing to cancel.
  if (auto t = state->timer.lock()) {
    asio::post(state->executor, [t] { t->cancel(); });
  }
}

}  // namespace bastion::net::tls

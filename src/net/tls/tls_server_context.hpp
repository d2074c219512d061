#pragma once
// TLS for the public listener: a validated OpenSSL 3 server context (TLS 1.2/1.3, ECDHE + AEAD
// only, no compression or renegotiation, ALPN http/1.1, stateless session tickets with rotating
// in-memory keys) and a provider that swaps in a rebuilt context when the certificate files change.
#include <array>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace bastion::net::tls {

struct TlsServerOptions {
  std::string cert_file;  // full chain PEM: leaf first, then intermediates
  std::string key_file;   // PEM private key (a secret: its contents never reach a log)
  // TLS 1.2 suites by exact OpenSSL name; each must be ECDHE with an AEAD cipher.
  std::string ciphers_tls12 =
      "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
      "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
  std::string ciphersuites_tls13 =
      "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
  bool prefer_server_ciphers = false;  // clients know whether they have AES hardware
  std::chrono::seconds ticket_key_rotation{12 * 3600};
  std::chrono::milliseconds reload_poll{5000};
};

// Checks the two cipher strings without touching any file: every name must be a suite OpenSSL
// knows (aliases such as HIGH or !aNULL are not accepted: the list must say exactly what is
// offered) and every TLS 1.2 suite must be ECDHE key exchange with an AEAD cipher.
// Returns the reason when the configuration is unacceptable.
std::optional<std::string> validate_cipher_config(const TlsServerOptions& options);

// Session-ticket keys: the newest key encrypts new tickets; a key that has been replaced still
// decrypts for one more rotation period, so tickets survive one rotation. Keys come from
// RAND_bytes and live only in memory. Thread-safe; time is passed in so the logic is testable.
class TicketKeyRing {
 public:
  using Clock = std::chrono::steady_clock;
  struct Key {
    std::array<unsigned char, 16> name{};
    std::array<unsigned char, 32> aes{};
    std::array<unsigned char, 32> hmac{};
    Clock::time_point created;
  };
  enum class Use { none, current, previous };

  explicit TicketKeyRing(std::chrono::seconds rotation);
  ~TicketKeyRing();
  TicketKeyRing(const TicketKeyRing&) = delete;
  TicketKeyRing& operator=(const TicketKeyRing&) = delete;

  // The key to encrypt with at `now`, rotating first when the current one is due.
  std::optional<Key> encryption_key(Clock::time_point now);
  // The key with this name if it may still decrypt at `now`; `use` says whether it is the
  // current key (previous: the ticket should be renewed).
  std::optional<Key> decryption_key(const unsigned char* name, Clock::time_point now, Use& use);
  std::size_t size() const;
  std::chrono::seconds rotation() const { return rotation_; }

 private:
  void prune(Clock::time_point now);
  std::chrono::seconds rotation_;
  mutable std::mutex mutex_;
  std::deque<Key> keys_;  // newest first
};

// Outcome of building a context: the context, or why it could not be built.
struct ContextResult {
  std::shared_ptr<boost::asio::ssl::context> context;  // null on failure
  std::string error;
  explicit operator bool() const { return context != nullptr; }
};

// Builds and validates a server context from `options` (reads the certificate and key files).
// Tickets are encrypted with keys from `ring`, which the context keeps alive.
ContextResult build_server_context(const TlsServerOptions& options,
                                   std::shared_ptr<TicketKeyRing> ring);

// For logs and tests: the leaf certificate a context serves.
struct CertificateSummary {
  std::string subject;
  std::string serial_hex;
  std::string not_after;  // as OpenSSL prints it
};
std::optional<CertificateSummary> summarize(const boost::asio::ssl::context& context);

// What the watcher compares between polls (a missing file has the default stamp).
struct FileStamp {
  std::int64_t mtime_ns = -1;
  std::int64_t size = -1;
  std::uint64_t inode = 0;
  std::uint64_t device = 0;
  bool operator==(const FileStamp&) const = default;
};

// Owns the current context for a listener. New handshakes take `current()`; a connection keeps
// the shared_ptr it started with, so a swap never disturbs open connections. Thread-safe.
class TlsContextProvider : public std::enable_shared_from_this<TlsContextProvider> {
 public:
  struct Created {
    std::shared_ptr<TlsContextProvider> provider;  // null on failure
    std::string error;
  };
  // Builds the first context; a failure here is a start-up (configuration) error.
  static Created create(TlsServerOptions options);

  std::shared_ptr<boost::asio::ssl::context> current() const;
  // Rebuilds from the files and swaps only if the new context is valid. On failure the old
  // context stays in use and the reason is returned (and logged).
  std::optional<std::string> reload();
  // Switches to other files (an ACME client's newly issued pair); the watch follows them.
  std::optional<std::string> reload_from(std::string cert_file, std::string key_file);
  // Polls the files' mtime/size/inode every `reload_poll` on `executor` and reloads when they
  // change (certbot/ACME renewals). A broken file is retried only after it changes again.
  void watch(boost::asio::any_io_executor executor);
  // Stops the watcher (it ends at its next tick; its timer is cancelled now).
  void stop_watching();

  // Number of successful swaps since creation (0 = still the first context).
  std::uint64_t generation() const;
  const TlsServerOptions& options() const { return options_; }
  const std::shared_ptr<TicketKeyRing>& ticket_keys() const { return ring_; }

  using FileStamp = tls::FileStamp;
  std::pair<FileStamp, FileStamp> stamp_files() const;

  explicit TlsContextProvider(TlsServerOptions options);  // use create()
  ~TlsContextProvider();
  TlsContextProvider(const TlsContextProvider&) = delete;
  TlsContextProvider& operator=(const TlsContextProvider&) = delete;

 private:
  struct WatchState;
  TlsServerOptions options_;
  std::shared_ptr<TicketKeyRing> ring_;
  mutable std::mutex mutex_;
  std::shared_ptr<boost::asio::ssl::context> current_;
  std::uint64_t generation_ = 0;
  std::pair<FileStamp, FileStamp> stamp_;  // files as they were at the last (attempted) load
  std::shared_ptr<WatchState> watch_;
};

}  // namespace bastion::net::tls

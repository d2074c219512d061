#pragma once
// Automatic HTTPS: obtains a certificate for the configured domains from an ACME CA, keeps it
// on disk, renews it at two thirds of its lifetime, retries failures with exponential backoff
// and tells the TLS listener when a new certificate/key pair is ready.
//
// Storage, in <data_dir>/acme/<first-domain>/ (directories 0700, files 0600):
//   account.key                  the ACME account key (EC P-256, PKCS#8 PEM)
//   gen-<unix-ms>/key.pem        the certificate key of one issuance
//   gen-<unix-ms>/cert.pem       its certificate chain (leaf first)
//   current -> gen-<unix-ms>     symlink to the live generation
// Why a directory per generation: a certificate and its key are two files, and no rename can
// replace two files at once. Each generation directory is written completely (key first, then
// the chain, each through temp file + fsync + rename) and never modified afterwards; only then is
// `current` switched with one atomic rename of a new symlink. The paths handed to the callback
// point into the immutable generation directory, so a reader that opens cert and key from them
// can never see a mismatched pair. (A watcher that opens current/cert.pem and current/key.pem
// separately could straddle a switch; it should check that the key matches and retry.) The
// previous generation is kept (a listener may still be reading it); older ones are removed.
//
// Threading: run() must execute on a strand (or a single-threaded io_context); start() makes
// one. status(), renew_now() and stop() are thread-safe. The callback runs on that strand and
// must be quick (load the files into a new SSL_CTX and swap it in).
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "net/acme/acme_client.hpp"
#include "net/acme/challenge_store.hpp"
#include "net/acme/csr.hpp"

namespace bastion::net::acme {

struct AcmeConfig {
  std::string directory_url;         // e.g. https://acme-v02.api.letsencrypt.org/directory
  std::string email;                 // contact (mailto:), optional
  std::vector<std::string> domains;  // first one names the storage directory and the CN
  std::optional<std::string> ca_file;  // extra trusted CA for the ACME server (tests: Pebble)
  std::filesystem::path data_dir;      // files go to <data_dir>/acme/<first-domain>/

  std::chrono::milliseconds retry_initial{60'000};               // first backoff after a failure
  std::chrono::milliseconds retry_max{6 * 3'600'000};            // backoff cap
  std::chrono::milliseconds max_sleep{3'600'000};                // re-check at least this often
  std::chrono::milliseconds request_timeout{30'000};             // each ACME HTTP exchange
  std::chrono::milliseconds connect_timeout{10'000};             // TCP + TLS handshake
  std::chrono::milliseconds poll_interval{1'000};                // authorization/order polling
  int max_polls = 60;                                            // per authorization/order
};

// Validates the configuration (domains, directory URL, data_dir); a message per problem.
std::vector<std::string> validate(const AcmeConfig& config);

struct AcmeStatus {
  using TimePoint = std::chrono::system_clock::time_point;
  bool running = false;
  std::optional<TimePoint> last_attempt;
  std::optional<TimePoint> last_success;
  std::string last_error;                // message of the last failed attempt; cleared on success
  std::uint32_t consecutive_failures = 0;
  std::optional<TimePoint> next_attempt;  // next renewal check or retry
  std::optional<TimePoint> renewal_at;    // two thirds of the current certificate's lifetime
  std::optional<TimePoint> not_after;     // of the current certificate
  std::string serial_hex;                 // of the current certificate
  std::filesystem::path cert_path;        // current pair (immutable generation files)
  std::filesystem::path key_path;
  std::uint64_t certificates_issued = 0;  // by this process
};

using CertificateCallback =
    std::function<void(const std::filesystem::path& cert_path, const std::filesystem::path& key_path)>;

class CertificateManager : public std::enable_shared_from_this<CertificateManager> {
 public:
  // Fails (with the validate() messages joined) on an invalid configuration. `store` is the
  // one the HTTP listener answers challenges from.
  static boost::system::result<std::shared_ptr<CertificateManager>, std::string> create(
      AcmeConfig config, std::shared_ptr<ChallengeStore> store, CertificateCallback on_certificate);

  CertificateManager(const CertificateManager&) = delete;
  CertificateManager& operator=(const CertificateManager&) = delete;
  ~CertificateManager();

  // Spawns run() on a new strand of `executor`; `on_exit` (optional) is called once run() ended.
  void start(boost::asio::any_io_executor executor, std::function<void()> on_exit = {});
  // Stops the loop: cancels the current attempt and wait when started by start(); a run() spawned
  // by the caller ends at its next wait (or use the caller's own cancellation). Thread-safe.
  void stop();
  // The loop itself, for callers that co_spawn it (on a strand) with their own cancellation.
  // Returns when cancelled (terminal). Never throws for ACME, network or disk failures.
  boost::asio::awaitable<void> run();
  // Renew now, whatever the renewal point says (admin action; tests). Thread-safe.
  void renew_now();
  // Called on the run() strand after every attempt, successful or not, with the new status
  // (metrics, alerts, tests). Set it before start()/run().
  void set_attempt_listener(std::function<void(const AcmeStatus&)> listener);

  AcmeStatus status() const;
  std::filesystem::path storage_dir() const;
  const AcmeConfig& config() const noexcept { return config_; }

 private:
  CertificateManager(AcmeConfig config, std::shared_ptr<ChallengeStore> store, CertificateCallback cb);

  struct Installed {
    CertificateInfo info;
    std::filesystem::path cert_path;
    std::filesystem::path key_path;
  };
  std::optional<Installed> load_current() const;
  boost::system::result<Installed> install(const EcKey& key, const std::string& chain_pem);
  boost::asio::awaitable<AcmeResult<Installed>> obtain();
  bool covers_domains(const CertificateInfo& info) const;
  std::chrono::milliseconds backoff(std::uint32_t failures) const;
  void wake();

  AcmeConfig config_;
  std::shared_ptr<ChallengeStore> store_;
  CertificateCallback on_certificate_;
  std::function<void(const AcmeStatus&)> attempt_listener_;
  std::unique_ptr<AcmeClient> client_;  // only touched on the run() strand

  mutable std::mutex mutex_;  // guards everything below
  AcmeStatus status_;
  bool force_renewal_ = false;
  bool stop_requested_ = false;
  std::optional<boost::asio::any_io_executor> executor_;  // run()'s strand, for wake()
  std::function<void()> wake_timer_;                      // cancels run()'s wait (on the strand)
  boost::asio::cancellation_signal stop_signal_;          // emitted on the strand by stop()
};

}  // namespace bastion::net::acme

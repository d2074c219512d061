#include "net/acme/certificate_manager.hpp"

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url/parse.hpp>

#include "net/acme/atomic_file.hpp"

namespace bastion::net::acme {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using Clock = std::chrono::system_clock;

namespace {

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxPemBytes = 1 << 20;

AcmeError local_error(std::string detail) {
  AcmeError e;
  e.kind = AcmeError::Kind::local;
  e.detail = std::move(detail);
  return e;
}

bool is_cancelled(const asio::cancellation_state& cs) { return cs.cancelled() != asio::cancellation_type::none; }

// User callbacks must not end the renewal loop: a throwing reload is logged, not fatal.
template <class Fn, class... Args>
void call_safely(const char* what, const Fn& fn, const Args&... args) {
  if (!fn) return;
  try {
    fn(args...);
  } catch (const std::exception& e) {
    spdlog::error("acme: {} callback failed: {}", what, e.what());
  } catch (...) {
    spdlog::error("acme: {} callback failed", what);
  }
}

std::string utc(Clock::time_point t) {
  std::time_t tt = Clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

std::vector<std::string> validate(const AcmeConfig& config) {
  std::vector<std::string> errors;
  auto url = boost::urls::parse_absolute_uri(config.directory_url);
  if (!url || (url->scheme() != "https" && url->scheme() != "http")) {
    errors.push_back("acme.directory_url must be an absolute https:// URL");
  }
  if (config.domains.empty()) errors.push_back("acme.domains must name at least one domain");
  if (config.domains.size() > 100) errors.push_back("acme.domains: at most 100 names per certificate");
  for (const auto& d : config.domains) {
    if (!valid_domain(d)) errors.push_back("acme.domains: invalid or wildcard domain '" + d + "'");
  }
  for (std::size_t i = 0; i < config.domains.size(); ++i) {
    if (std::find(config.domains.begin(), config.domains.begin() + static_cast<long>(i), config.domains[i]) !=
        config.domains.begin() + static_cast<long>(i)) {
      errors.push_back("acme.domains: duplicate '" + config.domains[i] + "'");
    }
  }
  if (config.data_dir.empty()) errors.push_back("acme: a data directory is required");
  if (config.email.find_first_of(",;<>\r\n ") != std::string::npos) errors.push_back("acme.email is invalid");
  if (config.retry_initial <= std::chrono::milliseconds::zero() || config.retry_max < config.retry_initial) {
    errors.push_back("acme: retry_initial must be > 0 and <= retry_max");
  }
  if (config.max_polls <= 0) errors.push_back("acme: max_polls must be > 0");
  return errors;
}

boost::system::result<std::shared_ptr<CertificateManager>, std::string> CertificateManager::create(
    AcmeConfig config, std::shared_ptr<ChallengeStore> store, CertificateCallback on_certificate) {
  auto errors = validate(config);
  if (!store) errors.push_back("acme: a challenge store is required");
  if (!errors.empty()) {
    std::string joined;
    for (const auto& e : errors) joined += (joined.empty() ? "" : "; ") + e;
    return joined;
  }
  return std::shared_ptr<CertificateManager>(
      new CertificateManager(std::move(config), std::move(store), std::move(on_certificate)));
}

CertificateManager::CertificateManager(AcmeConfig config, std::shared_ptr<ChallengeStore> store,
                                       CertificateCallback cb)
    : config_(std::move(config)), store_(std::move(store)), on_certificate_(std::move(cb)) {}

CertificateManager::~CertificateManager() = default;

fs::path CertificateManager::storage_dir() const { return config_.data_dir / "acme" / config_.domains.front(); }

AcmeStatus CertificateManager::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

bool CertificateManager::covers_domains(const CertificateInfo& info) const {
  return std::all_of(config_.domains.begin(), config_.domains.end(), [&](const std::string& d) {
    return std::find(info.dns_names.begin(), info.dns_names.end(), d) != info.dns_names.end();
  });
}

std::chrono::milliseconds CertificateManager::backoff(std::uint32_t failures) const {
  auto delay = config_.retry_initial;
  for (std::uint32_t i = 1; i < failures && delay < config_.retry_max; ++i) delay *= 2;
  return std::min(delay, config_.retry_max);
}

void CertificateManager::start(asio::any_io_executor executor, std::function<void()> on_exit) {
  auto strand = asio::make_strand(executor);
  auto self = shared_from_this();
  {
    std::lock_guard lock(mutex_);
    executor_ = strand;
  }
  asio::co_spawn(strand, run(),
                 asio::bind_cancellation_slot(stop_signal_.slot(), [self, on_exit](std::exception_ptr e) {
                   if (e) {
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& error) {
                       spdlog::error("acme: certificate manager ended by an unexpected error: {}", error.what());
                     }
                   }
                   if (on_exit) on_exit();
                 }));
}

void CertificateManager::stop() {
  std::optional<asio::any_io_executor> ex;
  {
    std::lock_guard lock(mutex_);
    stop_requested_ = true;
    ex = executor_;
  }
  if (!ex) return;
  // The signal and the timer belong to the strand; touch them only there.
  asio::post(*ex, [self = shared_from_this()] {
    self->stop_signal_.emit(asio::cancellation_type::terminal);
    self->wake();
  });
}

void CertificateManager::renew_now() {
  std::optional<asio::any_io_executor> ex;
  {
    std::lock_guard lock(mutex_);
    force_renewal_ = true;
    ex = executor_;
  }
  if (ex) asio::post(*ex, [self = shared_from_this()] { self->wake(); });
}

void CertificateManager::set_attempt_listener(std::function<void(const AcmeStatus&)> listener) {
  attempt_listener_ = std::move(listener);
}

// Runs on the strand.
void CertificateManager::wake() {
  std::function<void()> fn;
  {
    std::lock_guard lock(mutex_);
    fn = wake_timer_;
  }
  if (fn) fn();
}

std::optional<CertificateManager::Installed> CertificateManager::load_current() const {
  std::error_code ec;
  auto target = fs::canonical(storage_dir() / "current", ec);
  if (ec) return std::nullopt;
  Installed out{{}, target / "cert.pem", target / "key.pem"};
  auto pem = read_file_limited(out.cert_path, kMaxPemBytes);
  if (!pem) return std::nullopt;
  auto info = parse_certificate_pem(*pem);
  if (!info) return std::nullopt;
  auto key = EcKey::load(out.key_path);
  if (!key || !key_matches_certificate(*key, *pem)) {
    spdlog::warn("acme: {} does not match its key; a new certificate will be requested", out.cert_path.string());
    return std::nullopt;
  }
  out.info = std::move(*info);
  return out;
}

boost::system::result<CertificateManager::Installed> CertificateManager::install(const EcKey& key,
                                                                                 const std::string& chain_pem) {
  auto info = parse_certificate_pem(chain_pem);
  if (!info) return info.error();
  const auto dir = storage_dir();
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
  std::string name = "gen-" + std::to_string(millis);
  // Two issuances within one millisecond cannot happen through the loop, but keep names unique.
  std::error_code exists_ec;
  for (int i = 1; fs::exists(dir / name, exists_ec) && i < 1000; ++i) {
    name = "gen-" + std::to_string(millis) + "-" + std::to_string(i);
  }
  const auto gen = dir / name;
  if (auto r = ensure_private_dir(gen); !r) return r.error();

  auto key_pem = key.private_pem();
  auto written = write_file_atomic(gen / "key.pem", key_pem, 0600);
  OPENSSL_cleanse(key_pem.data(), key_pem.size());
  if (!written) return written.error();
  if (auto r = write_file_atomic(gen / "cert.pem", chain_pem, 0600); !r) return r.error();

  // Switch `current` atomically: a new symlink renamed over the old one.
  const auto link_tmp = dir / ("current.tmp-" + std::to_string(::getpid()));
  std::error_code ec;
  fs::remove(link_tmp, ec);
  fs::create_directory_symlink(name, link_tmp, ec);
  if (ec) return boost::system::error_code(ec.value(), boost::system::system_category());
  fs::rename(link_tmp, dir / "current", ec);
  if (ec) {
    fs::remove(link_tmp, ec);
    return boost::system::error_code(ec.value(), boost::system::system_category());
  }
  sync_dir(dir);

  // Keep the new and the previous generation; older ones are no longer referenced. Names are
  // gen-<13-digit unix ms>[-n], so name order is creation order.
  std::vector<fs::path> generations;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::error_code type_ec;
    if (entry.path().filename().string().rfind("gen-", 0) == 0 && entry.is_directory(type_ec)) {
      generations.push_back(entry.path());
    }
  }
  std::sort(generations.begin(), generations.end());
  for (std::size_t i = 0; i + 2 < generations.size(); ++i) {
    if (generations[i] != gen) fs::remove_all(generations[i], ec);
  }
  return Installed{std::move(*info), gen / "cert.pem", gen / "key.pem"};
}

asio::awaitable<AcmeResult<CertificateManager::Installed>> CertificateManager::obtain() {
  const auto dir = storage_dir();
  if (auto r = ensure_private_dir(dir); !r) co_return local_error("cannot create " + dir.string() + ": " + r.error().message());
  if (!client_) {
    // The account key survives restarts: the CA recognises it and returns the same account.
    const auto key_file = dir / "account.key";
    auto key = EcKey::load(key_file);
    if (!key) {
      std::error_code exists_ec;
      if (fs::exists(key_file, exists_ec)) co_return local_error("cannot read " + key_file.string() + ": " + key.error().message());
      key = EcKey::generate();
      if (!key) co_return local_error("cannot generate the account key");
      if (auto saved = key->save(key_file); !saved) {
        co_return local_error("cannot write " + key_file.string() + ": " + saved.error().message());
      }
    }
    client::PoolOptions pool_options;
    pool_options.ca_file = config_.ca_file;
    pool_options.connect_timeout = config_.connect_timeout;
    pool_options.io_timeout = config_.request_timeout;
    pool_options.max_idle_per_origin = 2;
    pool_options.user_agent = "bastion-acme";
    auto pool = client::HttpClientPool::create(co_await asio::this_coro::executor, pool_options);
    if (!pool) co_return local_error("HTTP client setup failed: " + pool.error().message());
    AcmeClientOptions options;
    options.directory_url = config_.directory_url;
    options.request_timeout = config_.request_timeout;
    options.poll_interval = config_.poll_interval;
    options.max_polls = config_.max_polls;
    client_ = std::make_unique<AcmeClient>(std::move(*pool), options, std::move(*key));
  }
  if (client_->account_url().empty()) {
    std::vector<std::string> emails;
    if (!config_.email.empty()) emails.push_back(config_.email);
    auto account = co_await client_->ensure_account(std::move(emails));
    if (!account) co_return account.error();
    spdlog::info("acme: using account {}", *account);
  }
  // A fresh key per certificate: a leaked old key stops mattering once its certificate expires.
  auto cert_key = EcKey::generate();
  if (!cert_key) co_return local_error("cannot generate the certificate key");
  auto csr = make_csr_der(*cert_key, config_.domains);
  if (!csr) co_return local_error("cannot build the CSR: " + csr.error().message());
  auto issued = co_await client_->obtain_certificate(config_.domains, std::move(*csr), *store_);
  if (!issued) co_return issued.error();
  if (!key_matches_certificate(*cert_key, issued->chain_pem)) co_return local_error("issued certificate does not match our key");
  auto info = parse_certificate_pem(issued->chain_pem);
  if (!info || !covers_domains(*info)) co_return local_error("issued certificate does not cover every configured domain");
  auto installed = install(*cert_key, issued->chain_pem);
  if (!installed) co_return local_error("cannot store the certificate: " + installed.error().message());
  co_return std::move(*installed);
}

asio::awaitable<void> CertificateManager::run() {
  // Expected failures are values here; a cancelled wait must not turn into an exception.
  co_await asio::this_coro::throw_if_cancelled(false);
  auto cs = co_await asio::this_coro::cancellation_state;
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex);
  {
    std::lock_guard lock(mutex_);
    if (!executor_) executor_ = ex;
    wake_timer_ = [&timer] { timer.cancel(); };
    status_.running = true;
  }
  struct Finish {
    CertificateManager& self;
    ~Finish() {
      std::lock_guard lock(self.mutex_);
      self.wake_timer_ = nullptr;
      self.status_.running = false;
      self.status_.next_attempt.reset();
    }
  } finish{*this};

  auto current = load_current();
  if (current && covers_domains(current->info) && Clock::now() < current->info.not_after) {
    {
      std::lock_guard lock(mutex_);
      status_.not_after = current->info.not_after;
      status_.renewal_at = renewal_point(current->info);
      status_.serial_hex = current->info.serial_hex;
      status_.cert_path = current->cert_path;
      status_.key_path = current->key_path;
    }
    // The listener can serve the stored certificate at once, before any renewal.
    call_safely("on_certificate", on_certificate_, current->cert_path, current->key_path);
  } else {
    current.reset();
  }

  bool retrying = false;  // the last attempt failed: the backoff wait ends in another attempt
  for (;;) {
    bool force = false;
    {
      std::lock_guard lock(mutex_);
      if (stop_requested_) break;
      force = std::exchange(force_renewal_, false);
    }
    if (is_cancelled(cs)) break;
    auto now = Clock::now();
    bool due = force || retrying || !current || now >= renewal_point(current->info) || !covers_domains(current->info);
    std::chrono::milliseconds delay{0};
    if (due) {
      {
        std::lock_guard lock(mutex_);
        status_.last_attempt = now;
      }
      spdlog::info("acme: requesting a certificate for {} domain(s), first {}", config_.domains.size(),
                   config_.domains.front());
      auto result = co_await obtain();
      if (is_cancelled(cs) || (!result && result.error().kind == AcmeError::Kind::cancelled)) break;
      retrying = !result;
      if (result) {
        current = std::move(*result);
        auto renew_at = renewal_point(current->info);
        {
          std::lock_guard lock(mutex_);
          status_.last_success = Clock::now();
          status_.last_error.clear();
          status_.consecutive_failures = 0;
          status_.not_after = current->info.not_after;
          status_.renewal_at = renew_at;
          status_.serial_hex = current->info.serial_hex;
          status_.cert_path = current->cert_path;
          status_.key_path = current->key_path;
          ++status_.certificates_issued;
        }
        spdlog::info("acme: certificate {} issued, valid until {}, renewal at {}", current->info.serial_hex,
                     utc(current->info.not_after), utc(renew_at));
        call_safely("on_certificate", on_certificate_, current->cert_path, current->key_path);
        delay = std::chrono::duration_cast<std::chrono::milliseconds>(renew_at - Clock::now());
      } else {
        // Fresh directory, nonce and account on the next attempt (the CA may have forgotten us).
        client_.reset();
        std::uint32_t failures = 0;
        {
          std::lock_guard lock(mutex_);
          status_.last_error = result.error().message();
          failures = ++status_.consecutive_failures;
        }
        delay = backoff(failures);
        spdlog::warn("acme: attempt {} failed: {}; retrying in {} ms", failures, result.error().message(),
                     delay.count());
      }
    } else {
      delay = std::chrono::duration_cast<std::chrono::milliseconds>(renewal_point(current->info) - now);
    }
    delay = std::clamp(delay, std::chrono::milliseconds(0), config_.max_sleep);
    AcmeStatus snapshot;
    bool skip_wait = false;
    {
      std::lock_guard lock(mutex_);
      status_.next_attempt = Clock::now() + delay;
      if (stop_requested_) break;
      skip_wait = force_renewal_;  // asked while we were busy: no wait
      snapshot = status_;
    }
    if (due) call_safely("attempt listener", attempt_listener_, snapshot);
    if (skip_wait) continue;
    timer.expires_after(delay);
    co_await timer.async_wait(kTok);  // ends early on renew_now()/stop() or cancellation
  }
}

}  // namespace bastion::net::acme

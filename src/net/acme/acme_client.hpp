#pragma once
// ACME v2 client (RFC 8555) for HTTP-01 issuance over the shared HttpClientPool.
//
// One AcmeClient serves one account key. It is not thread-safe: use it from one coroutine at a
// time, on a strand (the pool requires awaiting coroutines to run on one). Every request is
// bounded by `request_timeout`; every poll loop by `max_polls`; every error is an AcmeError value
// carrying the ACME problem document's type and detail when the server sent one. Cancellation of
// the awaiting coroutine (terminal) aborts the current request or wait and returns
// AcmeError::Kind::cancelled.
#include <boost/asio/awaitable.hpp>
#include <boost/assert/source_location.hpp>
#include <boost/json/value.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/acme/challenge_store.hpp"
#include "net/acme/jws.hpp"
#include "net/client/http_client.hpp"

namespace bastion::net::acme {

struct AcmeError {
  enum class Kind {
    transport,  // connect/TLS/timeout/HTTP framing (see `code`)
    problem,    // the server answered an RFC 7807 problem document (see `type`, `detail`)
    protocol,   // the server answered something we cannot use (bad JSON, missing field, ...)
    validation, // an authorization or order became invalid (type/detail from the challenge error)
    timeout,    // polling gave up after max_polls
    cancelled,  // the awaiting coroutine was cancelled
    local,      // our side: crypto, storage, invalid configuration
  };
  Kind kind = Kind::protocol;
  std::string type;    // e.g. "urn:ietf:params:acme:error:badNonce"; empty when not a problem
  std::string detail;  // human readable; never contains key material or nonces
  unsigned http_status = 0;
  boost::system::error_code code;  // for transport errors

  std::string message() const;  // "<kind>: <type>: <detail> (HTTP n)" for logs and status
};
const char* to_string(AcmeError::Kind kind);
// Lets boost::system::result<T, AcmeError>::value() throw (we never call it on the hot path).
[[noreturn]] void throw_exception_from_error(const AcmeError& e, const boost::source_location& loc);

template <class T>
using AcmeResult = boost::system::result<T, AcmeError>;

inline constexpr std::string_view kProblemBadNonce = "urn:ietf:params:acme:error:badNonce";

struct AcmeDirectory {
  std::string new_nonce;
  std::string new_account;
  std::string new_order;
  std::string revoke_cert;
  std::string key_change;
  std::string terms_of_service;  // meta.termsOfService, may be empty
};

// Pure parsing helpers (unit-tested without a server).
AcmeResult<AcmeDirectory> parse_directory(std::string_view json);
// The problem document of an error response; a generic problem when the body is not one.
AcmeError parse_problem(std::string_view body, unsigned http_status);
// Retry-After as delta-seconds or an HTTP-date, relative to `now`; nullopt when unparsable.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now);

struct AcmeClientOptions {
  std::string directory_url;
  std::chrono::milliseconds request_timeout{30'000};    // whole exchange of each HTTP request
  std::chrono::milliseconds poll_interval{1'000};       // between polls without Retry-After
  std::chrono::milliseconds max_poll_interval{30'000};  // Retry-After is capped to this
  int max_polls = 60;                                   // per authorization and per order wait
  std::size_t max_response_bytes = 1 << 20;             // JSON documents and the PEM chain
};

struct IssuedCertificate {
  std::string chain_pem;  // leaf first, then intermediates (application/pem-certificate-chain)
  std::string order_url;
  std::string certificate_url;
};

class AcmeClient {
 public:
  AcmeClient(std::shared_ptr<client::HttpClientPool> pool, AcmeClientOptions options, EcKey account_key);

  // GET the directory (done implicitly by the calls below when needed).
  boost::asio::awaitable<AcmeResult<AcmeDirectory>> directory();
  // newAccount with termsOfServiceAgreed and the mailto: contacts. With a key the CA already
  // knows, the CA returns the existing account (RFC 8555 §7.3.1), so this is also "log in".
  boost::asio::awaitable<AcmeResult<std::string>> ensure_account(std::vector<std::string> emails);
  // newOrder -> HTTP-01 for each pending authorization (published in `store`, removed again
  // when this returns) -> finalize with `csr_der` -> download the chain. Calls ensure_account
  // with no contacts if no account is known yet.
  boost::asio::awaitable<AcmeResult<IssuedCertificate>> obtain_certificate(std::vector<std::string> domains,
                                                                           std::string csr_der,
                                                                           ChallengeStore& store);

  const std::string& account_url() const noexcept { return account_url_; }
  const std::string& thumbprint() const noexcept { return thumbprint_; }
  const EcKey& account_key() const noexcept { return key_; }

 private:
  struct Reply {
    unsigned status = 0;
    std::string location;
    std::optional<std::chrono::seconds> retry_after;
    std::string content_type;
    std::string body;
    boost::json::value json;  // null unless the body is JSON
  };
  boost::asio::awaitable<AcmeResult<std::string>> take_nonce();
  // A signed POST; POST-as-GET without `payload`. Retries once on badNonce.
  boost::asio::awaitable<AcmeResult<Reply>> post(std::string url, std::optional<std::string> payload,
                                                 bool use_jwk = false, std::string accept = {});
  // POST-as-GET `url` until its status leaves "pending"/"processing"; returns the last reply.
  boost::asio::awaitable<AcmeResult<Reply>> poll(std::string url, std::optional<std::chrono::seconds> first_delay);
  boost::asio::awaitable<AcmeResult<void>> authorize(std::string authz_url, ChallengeStore& store,
                                                     std::vector<std::string>& published);
  boost::asio::awaitable<AcmeResult<void>> sleep(std::chrono::milliseconds delay);
  void remember_nonce(const boost::beast::http::fields& headers);

  std::shared_ptr<client::HttpClientPool> pool_;
  AcmeClientOptions options_;
  EcKey key_;
  std::string thumbprint_;
  std::optional<AcmeDirectory> directory_;
  std::string account_url_;
  std::optional<std::string> nonce_;
};

}  // namespace bastion::net::acme

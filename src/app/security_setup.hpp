#pragma once
// Builds the long-lived security state from configuration: authenticators (tokens file, JWKS,
// auth_request client) and the rate-limit backend (in-process, or shared through Redis).
// Secrets are read here, from files only.
#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <string>
#include <variant>

#include "core/config.hpp"
#include "guard/auth_guard.hpp"
#include "guard/rate_limit_guard.hpp"

namespace bastion::app {

struct SetupError {
  std::string message;
};

std::variant<std::shared_ptr<const guard::Authenticators>, SetupError> build_authenticators(
    const core::AuthConfig& config, boost::asio::any_io_executor executor);

std::variant<std::shared_ptr<guard::RateLimitBackend>, SetupError> build_rate_limit_backend(
    const core::Config& config, boost::asio::any_io_executor executor);

}  // namespace bastion::app

#pragma once
// What the HTTP server refuses before a request reaches a handler, and how: Beast's parse errors
// mapped to a status and a stable reason (for the counters), plus the message-framing rules of
// RFC 9112 that Beast leaves to the application (one Host, one plain Content-Length, only
// "chunked" as Transfer-Encoding, no obs-fold). Each of these is a request-smuggling vector when
// a proxy in front reads the message differently.
#include <boost/beast/http.hpp>
#include <boost/system/error_code.hpp>
#include <optional>
#include <string_view>

namespace bastion::net {

struct Refusal {
  boost::beast::http::status status;
  std::string_view reason;   // stable label, e.g. "http_bad_content_length"
  std::string_view message;  // for the client
};

// The reply for a failed header or body read (parse error, limit, timeout).
Refusal refusal_for(const boost::system::error_code& ec);

// Framing rules checked once the header is parsed; nullopt when the request may proceed.
std::optional<Refusal> framing_problem(const boost::beast::http::request_header<>& header);

// Whether the header section at the start of `bytes` (up to the first empty line, or all of
// `bytes` while that has not arrived) continues a field on the next line (obs-fold).
bool has_obs_fold(std::string_view bytes);

}  // namespace bastion::net

#include "net/server/request_framing.hpp"

#include <boost/beast/core/error.hpp>
#include <boost/beast/core/string.hpp>

namespace bastion::net {

namespace http = boost::beast::http;
using http::status;

Refusal refusal_for(const boost::system::error_code& ec) {
  using E = http::error;
  if (ec == E::header_limit) return {status::request_header_fields_too_large, "http_header_too_large", "request headers too large"};
  if (ec == E::body_limit) return {status::payload_too_large, "http_body_too_large", "request body too large"};
  if (ec == boost::beast::error::timeout) return {status::request_timeout, "http_timeout", "request not received in time"};
  if (ec == E::bad_method) return {status::bad_request, "http_bad_method", "malformed HTTP request: method"};
  if (ec == E::bad_target) return {status::bad_request, "http_bad_target", "malformed HTTP request: target"};
  if (ec == E::bad_version) return {status::bad_request, "http_bad_version", "malformed HTTP request: version"};
  if (ec == E::bad_field || ec == E::bad_value || ec == E::bad_line_ending) {
    return {status::bad_request, "http_bad_header", "malformed HTTP request: header field"};
  }
  if (ec == E::bad_obs_fold) return {status::bad_request, "http_obs_fold", "malformed HTTP request: folded header line"};
  if (ec == E::bad_content_length || ec == E::multiple_content_length) {
    return {status::bad_request, "http_bad_content_length", "malformed HTTP request: Content-Length"};
  }
  if (ec == E::bad_transfer_encoding) {
    return {status::bad_request, "http_bad_transfer_encoding", "malformed HTTP request: Transfer-Encoding"};
  }
  if (ec == E::bad_chunk || ec == E::bad_chunk_extension) {
    return {status::bad_request, "http_bad_chunk", "malformed HTTP request: chunked body"};
  }
  // The read buffer is full without a complete line: in a body that is a chunk-size line
  // (extensions) longer than the connection's read buffer.
  if (ec == E::buffer_overflow) return {status::bad_request, "http_bad_chunk", "malformed HTTP request: chunk line too long"};
  return {status::bad_request, "http_malformed", "malformed HTTP request"};
}

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

std::optional<Refusal> framing_problem(const http::request_header<>& header) {
  // RFC 9112 §3.2: exactly one Host in HTTP/1.1, never two (a second one could pass the Host
  // check with the first while something else routes on the other).
  const auto hosts = header.count(http::field::host);
  if (hosts > 1 || (hosts == 0 && header.version() >= 11)) {
    return Refusal{status::bad_request, "http_bad_host", "malformed HTTP request: exactly one Host header is required"};
  }
  // One Content-Length line holding one decimal number: Beast folds "4, 4" and repeated equal
  // lines into one value, a front proxy may not.
  const auto lengths = header.count(http::field::content_length);
  if (lengths > 1) {
    return Refusal{status::bad_request, "http_bad_content_length", "malformed HTTP request: repeated Content-Length"};
  }
  if (lengths == 1) {
    auto v = header[http::field::content_length];
    if (!all_digits(trim(std::string_view(v.data(), v.size())))) {
      return Refusal{status::bad_request, "http_bad_content_length", "malformed HTTP request: Content-Length"};
    }
  }
  const auto encodings = header.count(http::field::transfer_encoding);
  if (encodings == 0) return std::nullopt;
  // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means faulty framing; a list whose last coding
  // is not chunked has no determinable length (400). Beast would read such a body as empty and
  // take the body bytes for the next request.
  auto raw = header[http::field::transfer_encoding];
  const std::string_view value = trim(std::string_view(raw.data(), raw.size()));
  if (header.version() < 11 || encodings > 1) {
    return Refusal{status::bad_request, "http_bad_transfer_encoding", "malformed HTTP request: Transfer-Encoding"};
  }
  if (boost::beast::iequals(value, "chunked")) return std::nullopt;
  const auto comma = value.rfind(',');
  const auto last = trim(comma == std::string_view::npos ? value : value.substr(comma + 1));
  if (comma != std::string_view::npos && boost::beast::iequals(last, "chunked")) {
    // Codings before chunked (gzip, ...) are not decoded here (RFC 9112 §6.1: 501).
    return Refusal{status::not_implemented, "http_unsupported_transfer_encoding",
                   "only Transfer-Encoding: chunked is supported"};
  }
  return Refusal{status::bad_request, "http_bad_transfer_encoding", "malformed HTTP request: Transfer-Encoding"};
}

bool has_obs_fold(std::string_view bytes) {
  const auto end = bytes.find("\r\n\r\n");
  const auto section = end == std::string_view::npos ? bytes : bytes.substr(0, end + 2);
  for (auto at = section.find("\r\n"); at != std::string_view::npos; at = section.find("\r\n", at + 2)) {
    if (at + 2 < section.size() && (section[at + 2] == ' ' || section[at + 2] == '\t')) return true;
  }
  return false;
}

}  // namespace bastion::net

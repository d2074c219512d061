#include "net/server/request_framing.hpp"

#include <gtest/gtest.h>

using namespace bastion::net;
namespace http = boost::beast::http;

namespace {

http::request_header<> header(unsigned version, std::initializer_list<std::pair<http::field, const char*>> fields) {
  http::request_header<> h;
  h.method(http::verb::post);
  h.target("/mcp");
  h.version(version);
  for (const auto& [f, v] : fields) h.insert(f, v);
  return h;
}

std::string_view reason(const std::optional<Refusal>& r) { return r ? r->reason : std::string_view("ok"); }

}  // namespace

TEST(RequestFraming, Host) {
  EXPECT_EQ(reason(framing_problem(header(11, {{http::field::host, "a"}}))), "ok");
  EXPECT_EQ(reason(framing_problem(header(11, {}))), "http_bad_host");
  EXPECT_EQ(reason(framing_problem(header(10, {}))), "ok");  // HTTP/1.0 has no Host requirement
  EXPECT_EQ(reason(framing_problem(header(11, {{http::field::host, "a"}, {http::field::host, "b"}}))), "http_bad_host");
  EXPECT_EQ(reason(framing_problem(header(10, {{http::field::host, "a"}, {http::field::host, "a"}}))), "http_bad_host");
}

TEST(RequestFraming, ContentLength) {
  using F = http::field;
  EXPECT_EQ(reason(framing_problem(header(11, {{F::host, "a"}, {F::content_length, "4"}}))), "ok");
  EXPECT_EQ(reason(framing_problem(header(11, {{F::host, "a"}, {F::content_length, "4"}, {F::content_length, "4"}}))),
            "http_bad_content_length");
  EXPECT_EQ(reason(framing_problem(header(11, {{F::host, "a"}, {F::content_length, "4, 4"}}))), "http_bad_content_length");
  EXPECT_EQ(reason(framing_problem(header(11, {{F::host, "a"}, {F::content_length, "+4"}}))), "http_bad_content_length");
  EXPECT_EQ(reason(framing_problem(header(11, {{F::host, "a"}, {F::content_length, ""}}))), "http_bad_content_length");
}

TEST(RequestFraming, TransferEncoding) {
  using F = http::field;
  auto te = [](unsigned version, const char* v) {
    return framing_problem(header(version, {{F::host, "a"}, {F::transfer_encoding, v}}));
  };
  EXPECT_EQ(reason(te(11, "chunked")), "ok");
  EXPECT_EQ(reason(te(11, "Chunked")), "ok");
  EXPECT_EQ(reason(te(11, "chunked ")), "ok");
  EXPECT_EQ(reason(te(11, "xchunked")), "http_bad_transfer_encoding");
  EXPECT_EQ(reason(te(11, "chunked, identity")), "http_bad_transfer_encoding");
  EXPECT_EQ(reason(te(11, "identity")), "http_bad_transfer_encoding");
  EXPECT_EQ(reason(te(10, "chunked")), "http_bad_transfer_encoding");
  auto gzip = te(11, "gzip, chunked");
  EXPECT_EQ(reason(gzip), "http_unsupported_transfer_encoding");
  EXPECT_EQ(gzip->status, http::status::not_implemented);
  EXPECT_EQ(reason(framing_problem(header(11, {{F::host, "a"}, {F::transfer_encoding, "chunked"},
                                               {F::transfer_encoding, "chunked"}}))),
            "http_bad_transfer_encoding");
}

TEST(RequestFraming, ObsFold) {
  EXPECT_FALSE(has_obs_fold("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  EXPECT_TRUE(has_obs_fold("GET / HTTP/1.1\r\nX: a\r\n b\r\nHost: a\r\n\r\n"));
  EXPECT_TRUE(has_obs_fold("GET / HTTP/1.1\r\nX: a\r\n\tb"));  // header not complete yet
  EXPECT_FALSE(has_obs_fold("GET / HTTP/1.1\r\nX: a\r\n"));    // the next line has not arrived
  // Bytes after the header (a body, a pipelined request) are not looked at.
  EXPECT_FALSE(has_obs_fold("POST / HTTP/1.1\r\nHost: a\r\n\r\n{\r\n  \"a\": 1\r\n}"));
}

TEST(RequestFraming, ParseErrorsHaveSpecificReasons) {
  EXPECT_EQ(refusal_for(http::error::header_limit).status, http::status::request_header_fields_too_large);
  EXPECT_EQ(refusal_for(http::error::body_limit).status, http::status::payload_too_large);
  EXPECT_EQ(refusal_for(boost::beast::error::timeout).status, http::status::request_timeout);
  EXPECT_EQ(refusal_for(http::error::multiple_content_length).reason, "http_bad_content_length");
  EXPECT_EQ(refusal_for(http::error::bad_method).reason, "http_bad_method");
  EXPECT_EQ(refusal_for(http::error::bad_value).reason, "http_bad_header");
  EXPECT_EQ(refusal_for(http::error::bad_chunk).reason, "http_bad_chunk");
  EXPECT_EQ(refusal_for(http::error::partial_message).reason, "http_malformed");
}

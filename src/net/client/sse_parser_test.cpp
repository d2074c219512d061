#include "net/client/sse_parser.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace bastion::net::client {
namespace {

using namespace std::chrono_literals;

std::vector<SseEvent> parse_all(std::string_view input, SseParser& parser) {
  std::vector<SseEvent> out;
  EXPECT_FALSE(parser.feed(input, out));
  return out;
}

std::vector<SseEvent> parse_all(std::string_view input) {
  SseParser parser;
  return parse_all(input, parser);
}

std::vector<SseEvent> parse_bytewise(std::string_view input, SseParser& parser) {
  std::vector<SseEvent> out;
  for (char c : input) EXPECT_FALSE(parser.feed(std::string_view(&c, 1), out));
  return out;
}

TEST(SseParser, SingleEventWithDefaults) {
  auto events = parse_all("data: hello\n\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event, "message");
  EXPECT_EQ(events[0].data, "hello");
  EXPECT_EQ(events[0].id, "");
  EXPECT_FALSE(events[0].retry.has_value());
}

TEST(SseParser, MultiLineDataJoinedWithLf) {
  auto events = parse_all("data: a\ndata:b\ndata:  c\n\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "a\nb\n c");  // only one leading space is stripped
}

TEST(SseParser, EventTypeIdAndRetry) {
  SseParser parser;
  auto events = parse_all("event: endpoint\nid: 7\nretry: 1500\ndata: /messages?x=1\n\n", parser);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event, "endpoint");
  EXPECT_EQ(events[0].id, "7");
  EXPECT_EQ(events[0].data, "/messages?x=1");
  ASSERT_TRUE(events[0].retry.has_value());
  EXPECT_EQ(*events[0].retry, 1500ms);
  EXPECT_EQ(parser.last_event_id(), "7");
  EXPECT_EQ(parser.reconnection_time(), std::optional(1500ms));
}

TEST(SseParser, EventTypeDoesNotLeakIntoNextEvent) {
  auto events = parse_all("event: custom\ndata: 1\n\ndata: 2\n\n");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event, "custom");
  EXPECT_EQ(events[1].event, "message");
}

TEST(SseParser, LastEventIdRetainedAcrossEvents) {
  SseParser parser;
  auto events = parse_all("id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\n", parser);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].id, "1");
  EXPECT_EQ(events[1].id, "1");  // no id field: the previous one still applies
  EXPECT_EQ(events[2].id, "");   // `id` with no value resets it
  EXPECT_EQ(parser.last_event_id(), "");
}

TEST(SseParser, IdContainingNulIsIgnored) {
  SseParser parser;
  std::string input = "id: good\ndata: a\n\nid: b";
  input.push_back('\0');
  input += "d\ndata: b\n\n";
  auto events = parse_all(input, parser);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].id, "good");
}

TEST(SseParser, PrimingEventWithEmptyDataOnlyUpdatesId) {
  SseParser parser;
  // What the MCP TypeScript SDK sends first on a resumable stream.
  auto events = parse_all("id: prime-1\nretry: 250\ndata: \n\n", parser);
  EXPECT_TRUE(events.empty());
  EXPECT_EQ(parser.last_event_id(), "prime-1");
  EXPECT_EQ(parser.reconnection_time(), std::optional(250ms));

  events = parse_all("id: only-id\n\n", parser);
  EXPECT_TRUE(events.empty());
  EXPECT_EQ(parser.last_event_id(), "only-id");

  events = parse_all("event: message\ndata: {}\n\n", parser);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].id, "only-id");
  EXPECT_FALSE(events[0].retry.has_value());  // retry belonged to the priming block
}

TEST(SseParser, CommentsAndUnknownFieldsIgnored) {
  auto events = parse_all(": keepalive\n\n:another\nfoo: bar\ndata: x\n: mid-event comment\n\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "x");
}

TEST(SseParser, FieldWithoutColonHasEmptyValue) {
  auto events = parse_all("data\ndata\n\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "\n");  // two empty data lines joined
}

TEST(SseParser, ValueMayContainColons) {
  auto events = parse_all("data: {\"a\":\"b:c\"}\n\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "{\"a\":\"b:c\"}");
}

TEST(SseParser, InvalidRetryIgnored) {
  SseParser parser;
  auto events =
      parse_all("retry: 12a\nretry: -5\nretry:\nretry: 99999999999999999\ndata: x\n\n", parser);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_FALSE(events[0].retry.has_value());
  EXPECT_FALSE(parser.reconnection_time().has_value());
}

TEST(SseParser, CrLfAndCrLineEnds) {
  for (std::string_view input :
       {"data: a\r\ndata: b\r\n\r\n", "data: a\rdata: b\r\r", "data: a\r\ndata: b\n\r"}) {
    auto events = parse_all(input);
    ASSERT_EQ(events.size(), 1u) << input;
    EXPECT_EQ(events[0].data, "a\nb");
  }
}

TEST(SseParser, CrAtChunkBoundaryFollowedByLf) {
  SseParser parser;
  std::vector<SseEvent> out;
  EXPECT_FALSE(parser.feed("data: a\r", out));
  EXPECT_FALSE(parser.feed("\n\r", out));
  // The LF after the CR is the same line end, the lone CR is the empty line that dispatches.
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].data, "a");
  EXPECT_FALSE(parser.feed("\ndata: b\n\n", out));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].data, "b");
}

TEST(SseParser, LeadingBomStrippedOnce) {
  auto events = parse_all(
      "\xEF\xBB\xBF"
      "data: x\n\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "x");

  // A second BOM is part of the first field name, which then is unknown.
  events = parse_all(
      "\xEF\xBB\xBF\xEF\xBB\xBF"
      "data: x\n\ndata: y\n\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "y");
}

TEST(SseParser, PartialBomBytesAreData) {
  SseParser parser;
  auto events = parse_bytewise(
      "\xEF\xBB"
      "data: x\n\ndata: y\n\n",
      parser);
  // "\xEF\xBBdata" is an unknown field name, so only the second event survives.
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "y");
}

TEST(SseParser, IncompleteEventAtEndIsNotDispatched) {
  SseParser parser;
  auto events = parse_all("data: complete\n\ndata: partial\n", parser);
  ASSERT_EQ(events.size(), 1u);
  parser.reset_stream();
  events = parse_all("data: next\n\n", parser);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "next");  // the partial event was dropped with the old stream
}

TEST(SseParser, ResetStreamKeepsLastEventIdButDropsPartialId) {
  SseParser parser;
  parse_all("id: 5\ndata: a\n\nid: 6\ndata: b\n", parser);
  EXPECT_EQ(parser.last_event_id(), "5");
  parser.reset_stream();
  auto events = parse_all("data: c\n\n", parser);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].id, "5");
}

TEST(SseParser, ByteAtATimeMatchesWholeFeed) {
  const std::string input =
      "\xEF\xBB\xBF: hello\r\n"
      "id: 1\r\nevent: message\r\ndata: {\"jsonrpc\":\"2.0\"}\r\n\r\n"
      "id: 2\rretry: 10\rdata: line1\rdata: line2\r\r"
      "id: 3\ndata:\n\n"
      "event: endpoint\ndata: /m?s=1\n\n";
  SseParser whole_parser;
  SseParser byte_parser;
  auto whole = parse_all(input, whole_parser);
  auto bytes = parse_bytewise(input, byte_parser);
  ASSERT_EQ(whole.size(), 3u);
  ASSERT_EQ(bytes.size(), whole.size());
  for (std::size_t i = 0; i < whole.size(); ++i) {
    EXPECT_EQ(bytes[i].id, whole[i].id);
    EXPECT_EQ(bytes[i].event, whole[i].event);
    EXPECT_EQ(bytes[i].data, whole[i].data);
    EXPECT_EQ(bytes[i].retry, whole[i].retry);
  }
  EXPECT_EQ(whole[0].data, "{\"jsonrpc\":\"2.0\"}");
  EXPECT_EQ(whole[1].data, "line1\nline2");
  EXPECT_EQ(whole[1].retry, std::optional(10ms));
  EXPECT_EQ(whole[2].event, "endpoint");
  EXPECT_EQ(whole[2].id, "3");
  EXPECT_EQ(byte_parser.last_event_id(), "3");
}

TEST(SseParser, EveryTwoWaySplitMatches) {
  const std::string input = "id: a\r\ndata: x\r\ndata: y\r\n\r\n: c\rdata: z\r\r";
  for (std::size_t split = 0; split <= input.size(); ++split) {
    SseParser parser;
    std::vector<SseEvent> out;
    ASSERT_FALSE(parser.feed(std::string_view(input).substr(0, split), out));
    ASSERT_FALSE(parser.feed(std::string_view(input).substr(split), out));
    ASSERT_EQ(out.size(), 2u) << "split at " << split;
    EXPECT_EQ(out[0].data, "x\ny");
    EXPECT_EQ(out[1].data, "z");
    EXPECT_EQ(out[1].id, "a");
  }
}

TEST(SseParser, EventLargerThanLimitIsAnError) {
  SseParser parser(64);
  std::vector<SseEvent> out;
  EXPECT_FALSE(parser.feed("data: " + std::string(40, 'a') + "\n", out));
  auto ec = parser.feed("data: " + std::string(40, 'b') + "\n\n", out);
  EXPECT_EQ(ec, SseErrc::event_too_large);
  EXPECT_TRUE(out.empty());
  // The parser stays failed until a new stream starts.
  EXPECT_EQ(parser.feed("data: x\n\n", out), SseErrc::event_too_large);
  parser.reset_stream();
  EXPECT_FALSE(parser.feed("data: x\n\n", out));
  EXPECT_EQ(out.size(), 1u);
}

TEST(SseParser, UnterminatedLineIsBounded) {
  SseParser parser(100);
  std::vector<SseEvent> out;
  boost::system::error_code ec;
  for (int i = 0; i < 1000 && !ec; ++i) ec = parser.feed(": never-ending comment ", out);
  EXPECT_EQ(ec, SseErrc::event_too_large);
  EXPECT_NE(ec.message().find("maximum"), std::string::npos);
}

TEST(SseParser, EventsUnderTheLimitPassOneAfterAnother) {
  SseParser parser(32);
  std::vector<SseEvent> out;
  for (int i = 0; i < 100; ++i) ASSERT_FALSE(parser.feed("data: 0123456789\n\n", out));
  EXPECT_EQ(out.size(), 100u);
}

}  // namespace
}  // namespace bastion::net::client

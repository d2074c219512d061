#include "mcp/server/event_stream.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

using bastion::mcp::EventStream;

TEST(EventStream, ReplaysAfterACursorAndReportsGaps) {
  EventStream s(3, 4);
  for (int i = 1; i <= 6; ++i) s.append("e" + std::to_string(i));
  bool gap = false;
  auto events = s.since(0, gap);
  EXPECT_TRUE(gap) << "two events were evicted by the bound of 4";
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events.front().data, "e3");
  events = s.since(5, gap);
  EXPECT_FALSE(gap);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events.front().data, "e6");
}

TEST(EventStream, EventIdsRoundTrip) {
  EventStream s(12, 8);
  auto id = s.event_id(34);
  EXPECT_EQ(id, "12_34");
  auto parsed = EventStream::parse_event_id(id);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->first, 12u);
  EXPECT_EQ(parsed->second, 34u);
  EXPECT_FALSE(EventStream::parse_event_id("12-34"));
  EXPECT_FALSE(EventStream::parse_event_id("x_1"));
  EXPECT_FALSE(EventStream::parse_event_id("1_"));
}

TEST(EventStream, WakesTheAttachedConsumerAndDisplacesTheOld) {
  boost::asio::io_context ioc;
  EventStream s(1, 8);
  auto first = std::make_shared<EventStream::Signal>(ioc.get_executor(), 1);
  auto second = std::make_shared<EventStream::Signal>(ioc.get_executor(), 1);
  s.attach(first);
  boost::system::error_code got = boost::asio::error::would_block;
  first->async_receive([&](boost::system::error_code ec) { got = ec; });
  ioc.run();
  EXPECT_FALSE(got) << "attach wakes the consumer once so it reads what is there";
  ioc.restart();
  s.attach(second);
  got = boost::asio::error::would_block;
  first->async_receive([&](boost::system::error_code ec) { got = ec; });
  ioc.run();
  EXPECT_EQ(got, boost::asio::error::operation_aborted);
}

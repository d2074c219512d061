#include "upstream/request_state_affinity.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <string>

#include "upstream/link.hpp"

namespace bastion::upstream {
namespace {

// A link that is never started: the affinity only keeps and compares pointers.
class IdleLink final : public Link {
 public:
  explicit IdleLink(boost::asio::io_context& io) : Link(io.get_executor(), "demo") {}
  bool transmit(json::object, const ForwardHeaders&) override { return false; }
};

TEST(RequestStateAffinity, AFollowUpRoundFindsTheReplicaThatIssuedItsState) {
  boost::asio::io_context io;
  auto a = std::make_shared<IdleLink>(io);
  auto b = std::make_shared<IdleLink>(io);
  RequestStateAffinity affinity;
  affinity.remember("v1.state-from-a.mac", a);
  affinity.remember("v1.state-from-b.mac", b);
  EXPECT_EQ(affinity.owner("v1.state-from-a.mac"), a);
  EXPECT_EQ(affinity.owner("v1.state-from-b.mac"), b);
  EXPECT_EQ(affinity.owner("v1.unknown.mac"), nullptr);
  // A state issued again (a retried round) keeps one entry, with the latest owner.
  affinity.remember("v1.state-from-a.mac", b);
  EXPECT_EQ(affinity.owner("v1.state-from-a.mac"), b);
  EXPECT_EQ(affinity.size(), 2u);
}

TEST(RequestStateAffinity, AGoneReplicaOwnsNothing) {
  boost::asio::io_context io;
  auto a = std::make_shared<IdleLink>(io);
  RequestStateAffinity affinity;
  affinity.remember("state", a);
  a.reset();
  EXPECT_EQ(affinity.owner("state"), nullptr);  // the round goes to any replica
}

TEST(RequestStateAffinity, IsBoundedAndForgetsTheOldestFirst) {
  boost::asio::io_context io;
  auto a = std::make_shared<IdleLink>(io);
  RequestStateAffinity affinity(3);
  for (int i = 0; i < 5; ++i) affinity.remember("state " + std::to_string(i), a);
  EXPECT_EQ(affinity.size(), 3u);
  EXPECT_EQ(affinity.owner("state 0"), nullptr);
  EXPECT_EQ(affinity.owner("state 1"), nullptr);
  EXPECT_EQ(affinity.owner("state 4"), a);
}

}  // namespace
}  // namespace bastion::upstream

#include "observe/alert_payload.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

using namespace bastion::observe;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {
Alert alert(const std::string& name, const std::string& upstream, const std::string& summary = "s") {
  return Alert{{{"alertname", name}, {"upstream", upstream}, {"severity", "warning"}}, {{"summary", summary}}};
}
}  // namespace

TEST(AlertTracker, SendsOnStartRepeatsAndResolvesOnce) {
  AlertTracker tracker(60s);
  auto t0 = std::chrono::steady_clock::time_point{} + 1000s;
  auto wall = std::chrono::system_clock::now();
  auto out = tracker.update(t0, wall, {alert("A", "demo")});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].resolved);
  EXPECT_TRUE(tracker.update(t0 + 10s, wall, {alert("A", "demo", "newer")}).empty());  // de-duplicated
  out = tracker.update(t0 + 61s, wall, {alert("A", "demo", "newest")});
  ASSERT_EQ(out.size(), 1u);  // repeated
  EXPECT_EQ(out[0].alert.annotations.at("summary"), "newest");
  EXPECT_EQ(out[0].starts_at, wall);  // same start
  out = tracker.update(t0 + 62s, wall + 62s, {});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].resolved);
  EXPECT_EQ(out[0].ends_at, wall + 62s);
  EXPECT_TRUE(tracker.update(t0 + 63s, wall, {}).empty());
  EXPECT_EQ(tracker.firing(), 0u);
}

TEST(AlertTracker, DistinguishesByLabelsAndRetriesFailedSends) {
  AlertTracker tracker(60s);
  auto t0 = std::chrono::steady_clock::time_point{} + 1000s;
  auto wall = std::chrono::system_clock::now();
  auto out = tracker.update(t0, wall, {alert("A", "one"), alert("A", "two"), alert("A", "one")});
  EXPECT_EQ(out.size(), 2u);
  tracker.failed(out);
  EXPECT_EQ(tracker.update(t0 + 1s, wall, {alert("A", "one"), alert("A", "two")}).size(), 2u);
  out = tracker.update(t0 + 2s, wall, {alert("A", "one")});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].resolved);
  tracker.failed(out);
  out = tracker.update(t0 + 3s, wall, {alert("A", "one")});
  ASSERT_EQ(out.size(), 1u);  // the resolution again
  EXPECT_TRUE(out[0].resolved);
  EXPECT_EQ(out[0].alert.labels.at("upstream"), "two");
}

TEST(AlertBodies, AlertmanagerV2AndPlainJson) {
  auto start = std::chrono::system_clock::time_point{} + std::chrono::seconds(1'800'000'000) + 123ms;
  std::vector<OutgoingAlert> alerts{{alert("A", "demo"), start, false, {}},
                                    {alert("B", "demo"), start, true, start + 5s}};
  auto am = json::parse(alertmanager_body(alerts, 60s, "http://127.0.0.1:8123/api/v1/analysis"));
  ASSERT_TRUE(am.is_array());
  ASSERT_EQ(am.as_array().size(), 2u);
  auto& firing = am.as_array()[0].as_object();
  EXPECT_EQ(firing.at("labels").at("alertname"), "A");
  EXPECT_EQ(firing.at("startsAt"), "2027-01-15T08:00:00.123Z");
  // Four repeats ahead of now.
  EXPECT_GT(std::string(firing.at("endsAt").as_string()), rfc3339(std::chrono::system_clock::now() + 200s));
  EXPECT_EQ(am.as_array()[1].at("endsAt"), "2027-01-15T08:00:05.123Z");
  EXPECT_EQ(firing.at("generatorURL"), "http://127.0.0.1:8123/api/v1/analysis");
  auto plain = json::parse(plain_json_body(alerts, "")).as_object();
  EXPECT_EQ(plain.at("status"), "firing");
  EXPECT_EQ(plain.at("alerts").as_array()[1].at("status"), "resolved");
  EXPECT_FALSE(plain.at("alerts").as_array()[0].as_object().contains("generatorURL"));
}

TEST(AlertBodies, Rfc3339) {
  EXPECT_EQ(rfc3339(std::chrono::system_clock::time_point{}), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(rfc3339(std::chrono::system_clock::time_point{} + 86'399'999ms), "1970-01-01T23:59:59.999Z");
}

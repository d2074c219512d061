#include <gtest/gtest.h>

#include "guard/rate_limit/redis_limiter.hpp"

namespace bastion::rate_limit {
namespace {

TEST(RedisUrl, ParsesHostPortAndDb) {
  auto a = parse_redis_url("redis://127.0.0.1:6380/2");
  ASSERT_TRUE(std::holds_alternative<RedisEndpoint>(a));
  EXPECT_EQ(std::get<RedisEndpoint>(a).host, "127.0.0.1");
  EXPECT_EQ(std::get<RedisEndpoint>(a).port, 6380);
  EXPECT_EQ(std::get<RedisEndpoint>(a).db, 2);

  auto b = parse_redis_url("redis://cache.internal");
  ASSERT_TRUE(std::holds_alternative<RedisEndpoint>(b));
  EXPECT_EQ(std::get<RedisEndpoint>(b).host, "cache.internal");
  EXPECT_EQ(std::get<RedisEndpoint>(b).port, 6379);
  EXPECT_EQ(std::get<RedisEndpoint>(b).db, 0);

  auto c = parse_redis_url("redis://[::1]:7000/");
  ASSERT_TRUE(std::holds_alternative<RedisEndpoint>(c));
  EXPECT_EQ(std::get<RedisEndpoint>(c).host, "::1");
  EXPECT_EQ(std::get<RedisEndpoint>(c).port, 7000);
}

TEST(RedisUrl, RefusesWhatItCannotHonour) {
  for (const char* bad :
       {"", "127.0.0.1:6379", "http://127.0.0.1", "rediss://127.0.0.1", "redis://",
        "redis://:secret@127.0.0.1", "redis://127.0.0.1/x", "redis://127.0.0.1:0",
        "redis://127.0.0.1/1?a=b", "redis://127.0.0.1:99999"}) {
    EXPECT_TRUE(std::holds_alternative<RedisUrlError>(parse_redis_url(bad))) << bad;
  }
  // The error for a URL with credentials does not repeat them.
  auto e = parse_redis_url("redis://:secret@127.0.0.1");
  ASSERT_TRUE(std::holds_alternative<RedisUrlError>(e));
  EXPECT_EQ(std::get<RedisUrlError>(e).message.find("secret"), std::string::npos);
}

}  // namespace
}  // namespace bastion::rate_limit

// JwksCache with a fake fetcher and a fake clock (no sockets): TTL, unknown-kid refresh, the
// rate limit, and keeping the old set when a refresh fails. The URL source is exercised against a
// real HTTP server in auth_request_test.
#include "guard/auth/jwks_cache.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>

#include "guard/auth/jwt_test_signer.hpp"

namespace bastion::guard::auth {
namespace {
namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using testing::TestKey;

template <typename T>
T run(asio::awaitable<T> aw) {
  asio::io_context ioc;
  auto fut = asio::co_spawn(ioc, std::move(aw), asio::use_future);
  ioc.run();
  return fut.get();
}

struct FakeSource {
  std::string body;
  bool fail = false;
  int calls = 0;
};

struct Fixture : ::testing::Test {
  TestKey old_key = testing::make_ec_key("k1");
  TestKey new_key = testing::make_ed25519_key("k2");
  std::shared_ptr<FakeSource> source = std::make_shared<FakeSource>();
  std::shared_ptr<JwksCache::Clock::time_point> clock =
      std::make_shared<JwksCache::Clock::time_point>(JwksCache::Clock::time_point(1000h));
  std::shared_ptr<JwksCache> cache;
  JwtVerifier verifier;

  Fixture() {
    source->body = testing::jwks_json({&old_key});
    auto src = source;
    auto clk = clock;
    cache = std::make_shared<JwksCache>(
        [src]() -> asio::awaitable<JwksFetchResult> {
          ++src->calls;
          if (src->fail) co_return JwksFetchResult{std::nullopt, "idp down"};
          co_return JwksFetchResult{src->body, {}};
        },
        JwksCacheOptions{}, [clk] { return *clk; });
    verifier.issuer = "iss";
    verifier.audience = "aud";
  }

  std::string token(const TestKey& key) {
    json::object c{{"iss", "iss"}, {"aud", "aud"}, {"sub", "u"}, {"exp", 4'000'000'000}};
    return testing::sign_jwt(key, c);
  }
  boost::system::result<Principal> verify(const std::string& t) {
    return run(cache->verify(verifier, t, std::chrono::system_clock::now()));
  }
};

TEST_F(Fixture, LoadsOnFirstUseAndHonoursTtl) {
  EXPECT_EQ(cache->current()->size(), 0u);
  ASSERT_TRUE(verify(token(old_key)).has_value());
  EXPECT_EQ(source->calls, 1);
  *clock += 9min;
  ASSERT_TRUE(verify(token(old_key)).has_value());
  EXPECT_EQ(source->calls, 1);  // fresh: no fetch
  *clock += 2min;
  ASSERT_TRUE(verify(token(old_key)).has_value());
  EXPECT_EQ(source->calls, 2);  // older than 10 min: refetched
  EXPECT_EQ(cache->stats().refreshes, 2u);
}

TEST_F(Fixture, UnknownKidRefreshesAtMostOncePerMinute) {
  ASSERT_EQ(run(cache->refresh()), "");
  EXPECT_EQ(source->calls, 1);
  *clock += 2min;  // past the rate-limit window
  // Forged kids: the first one causes one fetch, the rest inside the minute cause none.
  auto forged = testing::make_ec_key("forged");
  for (int i = 0; i < 20; ++i) {
    auto r = verify(token(forged));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), make_error_code(JwtErrc::unknown_kid));
  }
  EXPECT_EQ(source->calls, 2);
  EXPECT_EQ(cache->stats().rate_limited, 19u);

  // The IdP rotates: the new kid is found after the window passes.
  source->body = testing::jwks_json({&old_key, &new_key});
  *clock += 30s;
  EXPECT_FALSE(verify(token(new_key)).has_value());  // still rate-limited
  EXPECT_EQ(source->calls, 2);
  *clock += 31s;
  auto r = verify(token(new_key));
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(source->calls, 3);
  EXPECT_EQ(cache->current()->size(), 2u);
}

TEST_F(Fixture, FailedRefreshKeepsTheOldSet) {
  ASSERT_EQ(run(cache->refresh()), "");
  source->fail = true;
  EXPECT_EQ(run(cache->refresh()), "idp down");
  EXPECT_EQ(cache->current()->size(), 1u);
  ASSERT_TRUE(verify(token(old_key)).has_value());
  source->fail = false;
  source->body = "<html>oops</html>";
  EXPECT_NE(run(cache->refresh()), "");
  ASSERT_TRUE(verify(token(old_key)).has_value());
  EXPECT_EQ(cache->stats().refresh_failures, 2u);

  // A stale set with the IdP down: one attempt per minute, never one per request.
  source->fail = true;
  *clock += 11min;
  const int before = source->calls;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(verify(token(old_key)).has_value());
  EXPECT_EQ(source->calls, before + 1);
}

TEST(JwksCacheFile, ReloadsFromFile) {
  auto a = testing::make_rsa_key("a");
  auto b = testing::make_ec_key("b");
  std::string tmpl = (std::filesystem::temp_directory_path() / "bastion-jwks-XXXXXX").string();
  const std::string dir = ::mkdtemp(tmpl.data());
  const std::string path = dir + "/jwks.json";
  std::ofstream(path) << testing::jwks_json({&a});
  auto cache = JwksCache::from_file(path);
  ASSERT_EQ(run(cache->refresh()), "");
  EXPECT_EQ(cache->current()->size(), 1u);
  std::ofstream(path, std::ios::trunc) << testing::jwks_json({&a, &b});
  ASSERT_EQ(run(cache->refresh()), "");
  EXPECT_EQ(cache->current()->size(), 2u);
  std::ofstream(path, std::ios::trunc) << "{";
  EXPECT_NE(run(cache->refresh()), "");
  EXPECT_EQ(cache->current()->size(), 2u);
  std::filesystem::remove(path);
  EXPECT_NE(run(cache->refresh()), "");
  EXPECT_EQ(cache->current()->size(), 2u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace bastion::guard::auth

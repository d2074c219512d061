#include "net/acme/challenge_store.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace bastion::net::acme {
namespace {

using namespace std::chrono_literals;

TEST(ChallengeStore, PublishLookupRemove) {
  ChallengeStore store;
  EXPECT_TRUE(store.put("tok_EN-1", "tok_EN-1.thumb"));
  EXPECT_EQ(store.lookup("tok_EN-1"), "tok_EN-1.thumb");
  EXPECT_EQ(store.answer("/.well-known/acme-challenge/tok_EN-1"), "tok_EN-1.thumb");
  EXPECT_FALSE(store.lookup("other"));
  store.remove("tok_EN-1");
  EXPECT_FALSE(store.lookup("tok_EN-1"));
  EXPECT_EQ(store.size(), 0u);
}

TEST(ChallengeStore, RejectsBadTokensAndKeyAuthorizations) {
  ChallengeStore store;
  EXPECT_FALSE(store.put("", ".x"));
  EXPECT_FALSE(store.put("a/b", "a/b.x"));
  EXPECT_FALSE(store.put("../etc", "../etc.x"));
  EXPECT_FALSE(store.put("abc", "abd.thumb"));  // key authorization for another token
  EXPECT_FALSE(store.put("abc", "abc"));        // no thumbprint
  EXPECT_FALSE(store.put("abc", "abc.th umb"));
  EXPECT_FALSE(store.put(std::string(257, 'a'), std::string(257, 'a') + ".t"));
  EXPECT_TRUE(store.put("abc", "abc.thumb"));
  // Lookups of malformed tokens never reach the map.
  EXPECT_FALSE(store.lookup("abc\n"));
  EXPECT_FALSE(store.lookup("ab%63"));
  EXPECT_FALSE(store.answer("/.well-known/acme-challenge/abc?x=1"));
  EXPECT_FALSE(store.answer("/.well-known/acme-challenge/abc/"));
  EXPECT_FALSE(store.answer("/.well-known/acme-challenge/"));
  EXPECT_FALSE(store.answer("/well-known/acme-challenge/abc"));
  EXPECT_FALSE(store.answer("/.well-known/acme-challenge"));
  EXPECT_EQ(ChallengeStore::token_from_target("/.well-known/acme-challenge/abc"), "abc");
}

TEST(ChallengeStore, EntriesExpire) {
  ChallengeStore store;
  auto t0 = ChallengeStore::Clock::now();
  ASSERT_TRUE(store.put("tok", "tok.k", 10s, t0));
  EXPECT_EQ(store.lookup("tok", t0 + 9s), "tok.k");
  EXPECT_FALSE(store.lookup("tok", t0 + 10s));
  // Expired entries are pruned on the next put.
  ASSERT_TRUE(store.put("tok2", "tok2.k", 10s, t0 + 11s));
  EXPECT_EQ(store.size(), 1u);
}

TEST(ChallengeStore, IsBounded) {
  ChallengeStore store(2);
  auto t0 = ChallengeStore::Clock::now();
  EXPECT_TRUE(store.put("a", "a.k", 10s, t0));
  EXPECT_TRUE(store.put("b", "b.k", 10s, t0));
  EXPECT_FALSE(store.put("c", "c.k", 10s, t0));
  EXPECT_TRUE(store.put("a", "a.k2", 10s, t0));  // replacing is always allowed
  EXPECT_EQ(store.lookup("a", t0), "a.k2");
  EXPECT_TRUE(store.put("c", "c.k", 10s, t0 + 11s));  // room again once the others expired
}

TEST(ChallengeStore, ConcurrentAccess) {
  ChallengeStore store(100000);
  std::atomic<int> found{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        std::string token = "t" + std::to_string(t) + "_" + std::to_string(i);
        ASSERT_TRUE(store.put(token, token + ".k"));
        if (store.lookup(token) == token + ".k") ++found;
        if (i % 2) store.remove(token);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(found.load(), 8000);
  EXPECT_EQ(store.size(), 4000u);
}

}  // namespace
}  // namespace bastion::net::acme

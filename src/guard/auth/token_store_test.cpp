#include "guard/auth/token_store.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/testing/temp_dir.hpp"
#include "guard/auth/encoding.hpp"

namespace bastion::guard::auth {
namespace {
namespace fs = std::filesystem;

struct TempDir : core::testing::TempDir {
  TempDir() : core::testing::TempDir("auth") {}
};

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Encoding, Base64UrlRoundTripAndStrictness) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\x00\x01"}) {
    auto enc = base64url_encode(s);
    EXPECT_EQ(enc.find('='), std::string::npos);
    auto dec = base64url_decode(enc);
    ASSERT_TRUE(dec) << enc;
    EXPECT_EQ(*dec, s);
  }
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_FALSE(base64url_decode("Zm9v="));   // padding
  EXPECT_FALSE(base64url_decode("Zm+v"));    // standard alphabet
  EXPECT_FALSE(base64url_decode("Zm9vY"));   // impossible length
  EXPECT_FALSE(base64url_decode("Zh"));      // non-canonical: unused bits set ("Zg" is canonical)
  EXPECT_TRUE(base64url_decode("Zg"));
  EXPECT_EQ(hex_encode("\x01\xab"), "01ab");
  EXPECT_EQ(*hex_decode("01AB"), "\x01\xab");
  EXPECT_FALSE(hex_decode("0g"));
  EXPECT_FALSE(hex_decode("012"));
}

TEST(TokenStore, CreatedTokenHasTheDocumentedShape) {
  auto created = create_token("ci", {"mcp:read"}, {"demo__*"});
  ASSERT_TRUE(created);
  const auto& t = created->token;
  ASSERT_EQ(t.rfind("bst_", 0), 0u);
  auto parsed = parse_token(t);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->id, created->entry.id);
  EXPECT_GE(parsed->id.size(), 8u);
  EXPECT_EQ(parsed->secret.size(), 32u);
  EXPECT_EQ(created->entry.salt.size(), 32u);  // 16 bytes hex
  EXPECT_EQ(created->entry.hash.size(), 64u);
  // hash = hex(SHA-256(salt || secret))
  const auto salt = *hex_decode(created->entry.salt);
  const auto h = sha256(salt + parsed->secret);
  EXPECT_EQ(created->entry.hash, hex_encode({reinterpret_cast<const char*>(h.data()), h.size()}));
  // The line never contains the token or secret.
  const auto line = serialize_token_entry(created->entry);
  EXPECT_EQ(line.find(t.substr(4 + parsed->id.size() + 1)), std::string::npos);
  auto v = boost::json::parse(line).as_object();
  for (const char* key : {"id", "name", "salt", "hash", "scopes", "tools", "created"}) {
    EXPECT_TRUE(v.contains(key)) << key;
  }
  EXPECT_EQ(v.size(), 7u);
  // Two tokens differ.
  auto other = create_token("ci", {}, {});
  EXPECT_NE(other->token, created->token);
  EXPECT_NE(other->entry.salt, created->entry.salt);
}

TEST(TokenStore, AppendCreatesA0600FileAndVerifies) {
  TempDir dir;
  const auto path = dir.file("tokens");
  auto a = create_token("alice", {"mcp:read", "mcp:write"}, {});
  auto b = create_token("bob", {}, {"demo__echo", "demo__slow"});
  ASSERT_EQ(append_token_file(path, a->entry), "");
  ASSERT_EQ(append_token_file(path, b->entry), "");
  struct stat st{};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const auto contents = read_all(path);
  EXPECT_EQ(std::count(contents.begin(), contents.end(), '\n'), 2);

  auto loaded = TokenStore::load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.errors.front();
  EXPECT_TRUE(loaded.warnings.empty());
  ASSERT_EQ(loaded.store->size(), 2u);

  auto pa = loaded.store->verify(a->token);
  ASSERT_TRUE(pa);
  EXPECT_EQ(pa->name, "alice");
  EXPECT_EQ(pa->kind, "token");
  EXPECT_EQ(pa->scopes, (std::vector<std::string>{"mcp:read", "mcp:write"}));
  EXPECT_TRUE(pa->tools.empty());
  auto pb = loaded.store->verify(b->token);
  ASSERT_TRUE(pb);
  EXPECT_EQ(pb->tools, (std::vector<std::string>{"demo__echo", "demo__slow"}));
}

TEST(TokenStore, RejectsWrongUnknownAndMalformedTokens) {
  auto a = create_token("alice", {}, {});
  auto parsed = TokenStore::parse(serialize_token_entry(a->entry) + "\n", "mem");
  ASSERT_TRUE(parsed.ok());
  const auto& store = *parsed.store;
  ASSERT_TRUE(store.verify(a->token));

  // Right id, wrong secret (one character flipped).
  std::string wrong = a->token;
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(store.verify(wrong));
  // Unknown id, otherwise well formed.
  auto other = create_token("x", {}, {});
  EXPECT_FALSE(store.verify(other->token));
  // Malformed.
  for (std::string bad : {std::string(""), std::string("bst_"), std::string("Bearer ") + a->token,
                          a->token + "x", a->token.substr(0, a->token.size() - 1),
                          std::string("bst_ABCDEFGH_") + base64url_encode(std::string(32, 'a')),
                          std::string("xst_") + a->token.substr(4), a->token + "=",
                          std::string("bst_abcdefgh_") + base64url_encode(std::string(31, 'a')),
                          std::string(300, 'a')}) {
    EXPECT_FALSE(store.verify(bad)) << bad;
  }
}

TEST(TokenStore, LoadReportsFileAndLine) {
  auto a = create_token("alice", {}, {});
  auto good = serialize_token_entry(a->entry);
  std::string text = good + "\n\n# comment\nnot json\n";
  text += R"({"id":"abcdefgh","name":"n","salt":"00112233445566778899aabbccddeeff","hash":"00","scopes":[],"tools":[]})" "\n";
  text += R"({"id":"abcdefgh","name":"n","salt":"00112233445566778899aabbccddeeff","hash":")" +
          std::string(64, '0') + R"(","scopes":[],"tools":[],"extra":1})" "\n";
  text += good + "\n";  // duplicate id
  text += R"({"id":"abcdefgh","name":"n","salt":"00112233445566778899aabbccddeeff","hash":")" +
          std::string(64, '0') + R"(","scopes":["has space"],"tools":[]})" "\n";
  auto r = TokenStore::parse(text, "/etc/bastion/tokens");
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.store);
  ASSERT_EQ(r.errors.size(), 5u);
  EXPECT_EQ(r.errors[0], "/etc/bastion/tokens:4: not a JSON object");
  EXPECT_EQ(r.errors[1].rfind("/etc/bastion/tokens:5: \"hash\"", 0), 0u) << r.errors[1];
  EXPECT_EQ(r.errors[2], "/etc/bastion/tokens:6: unknown key \"extra\"");
  EXPECT_EQ(r.errors[3].rfind("/etc/bastion/tokens:7: duplicate id", 0), 0u) << r.errors[3];
  EXPECT_EQ(r.errors[4].rfind("/etc/bastion/tokens:8: invalid scope", 0), 0u) << r.errors[4];

  EXPECT_FALSE(TokenStore::load("/nonexistent/bastion/tokens").ok());
}

TEST(TokenStore, RefusesToAppendToAnOpenFileOrSymlink) {
  TempDir dir;
  const auto path = dir.file("tokens");
  { std::ofstream(path) << ""; }
  ::chmod(path.c_str(), 0644);
  auto a = create_token("alice", {}, {});
  const auto err = append_token_file(path, a->entry);
  EXPECT_NE(err.find("chmod 600"), std::string::npos) << err;
  EXPECT_EQ(read_all(path), "");
  // Loading a group-readable file works but warns.
  ::chmod(path.c_str(), 0600);
  ASSERT_EQ(append_token_file(path, a->entry), "");
  ::chmod(path.c_str(), 0640);
  auto loaded = TokenStore::load(path);
  EXPECT_TRUE(loaded.ok());
  EXPECT_EQ(loaded.warnings.size(), 1u);

  const auto link = dir.file("link");
  fs::create_symlink(dir.file("target"), link);
  EXPECT_NE(append_token_file(link, a->entry), "");
  EXPECT_FALSE(fs::exists(dir.file("target")));
}

TEST(TokenStore, AppendKeepsOneObjectPerLineAfterHandEdits) {
  TempDir dir;
  const auto path = dir.file("tokens");
  auto a = create_token("alice", {}, {});
  auto b = create_token("bob", {}, {});
  ASSERT_EQ(append_token_file(path, a->entry), "");
  // Strip the final newline as an editor might.
  auto contents = read_all(path);
  contents.pop_back();
  { std::ofstream(path, std::ios::trunc) << contents; }
  ASSERT_EQ(append_token_file(path, b->entry), "");
  auto loaded = TokenStore::load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.errors.front();
  EXPECT_EQ(loaded.store->size(), 2u);
}

TEST(TokenCreateCli, PrintsOnlyTheTokenAndAppends) {
  TempDir dir;
  const auto path = dir.file("tokens");
  std::ostringstream out, err;
  TokenCreateOptions opts{"ci-bot", path, {"mcp:read,mcp:write"}, {"demo__*", "other__echo"}};
  ASSERT_EQ(run_token_create(opts, out, err), 0) << err.str();
  auto token = out.str();
  ASSERT_EQ(token.back(), '\n');
  token.pop_back();
  EXPECT_EQ(token.find('\n'), std::string::npos);
  EXPECT_TRUE(parse_token(token));
  const auto note = err.str();
  EXPECT_EQ(std::count(note.begin(), note.end(), '\n'), 1);
  EXPECT_EQ(note.find(token), std::string::npos);  // the note does not repeat the token
  // The file holds a hash, not the token.
  // (the secret is base64url and may itself contain '_': cut after "bst_<id>_")
  const auto parsed = parse_token(token);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(read_all(path).find(token.substr(4 + parsed->id.size() + 1)), std::string::npos);

  auto loaded = TokenStore::load(path);
  ASSERT_TRUE(loaded.ok());
  auto p = loaded.store->verify(token);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->name, "ci-bot");
  EXPECT_EQ(p->scopes, (std::vector<std::string>{"mcp:read", "mcp:write"}));
  EXPECT_EQ(p->tools, (std::vector<std::string>{"demo__*", "other__echo"}));
}

TEST(TokenCreateCli, InvalidArgumentsExitWith2) {
  TempDir dir;
  std::ostringstream out, err;
  EXPECT_EQ(run_token_create({"", dir.file("t"), {}, {}}, out, err), 2);
  EXPECT_EQ(run_token_create({"bad\nname", dir.file("t"), {}, {}}, out, err), 2);
  EXPECT_EQ(run_token_create({"ok", "", {}, {}}, out, err), 2);
  EXPECT_EQ(run_token_create({"ok", dir.file("t"), {"a\"b"}, {}}, out, err), 2);
  EXPECT_EQ(run_token_create({"ok", dir.file("t"), {}, {"has space"}}, out, err), 2);
  EXPECT_EQ(run_token_create({"ok", dir.file("missing-dir/t"), {}, {}}, out, err), 2);
  EXPECT_EQ(out.str(), "");  // nothing on stdout unless a token was made
  EXPECT_FALSE(fs::exists(dir.file("t")));
}

TEST(TokenStore, VerifyCostDoesNotRevealKnownIds) {
  // Coarse check that unknown ids take the hashing path too: both should cost about the same.
  std::string text;
  auto a = create_token("alice", {}, {});
  text = serialize_token_entry(a->entry) + "\n";
  auto store = *TokenStore::parse(text, "mem").store;
  std::string wrong_secret = a->token;
  wrong_secret.back() = wrong_secret.back() == 'A' ? 'B' : 'A';
  auto unknown = create_token("x", {}, {})->token;
  auto time = [&](const std::string& t) {
    auto best = std::chrono::nanoseconds::max();
    for (int round = 0; round < 5; ++round) {
      auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < 2000; ++i) EXPECT_FALSE(store.verify(t));
      best = std::min(best, std::chrono::steady_clock::now() - start);
    }
    return static_cast<double>(best.count());
  };
  const double known = time(wrong_secret);
  const double other = time(unknown);
  EXPECT_LT(other / known, 3.0);
  EXPECT_GT(other / known, 1.0 / 3.0);
}

}  // namespace
}  // namespace bastion::guard::auth

// `bastion analyze` end to end: the real binary (BASTION_BIN) against a SQLite store written
// beforehand, and against a stand-in admin listener that serves a report.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "observe/analyzer.hpp"
#include "record/sqlite_store.hpp"
#include "record/test_records.hpp"

namespace {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using bastion::record::Clock;
using bastion::record::Interaction;
using bastion::record::testing::TempDir;

struct Run {
  int exit_code = -1;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Run run_bastion(const TempDir& dir, const std::string& args) {
  const char* bin = std::getenv("BASTION_BIN");
  EXPECT_NE(bin, nullptr) << "BASTION_BIN is not set";
  if (bin == nullptr) return {};
  std::string cmd = std::string("'") + bin + "' " + args + " >'" + dir.file("out") + "' 2>'" +
                    dir.file("err") + "'";
  int status = std::system(cmd.c_str());
  Run r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(dir.file("out"));
  r.err = slurp(dir.file("err"));
  return r;
}

// A port nothing listens on (bound, then released).
unsigned short free_port() {
  asio::io_context ioc;
  asio::ip::tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

std::string write_config(const TempDir& dir, unsigned short admin_port, bool token) {
  std::string path = dir.file("bastion.yaml");
  std::ofstream cfg(path);
  cfg << "data_dir: " << dir.file("data") << "\n"
      << "log: {level: warn}\n"
      << "listen:\n  admin: {address: \"127.0.0.1:" << admin_port << "\"";
  if (token) cfg << ", token_file: " << dir.file("admin.token");
  cfg << "}\n";
  if (token) {
    std::ofstream t(dir.file("admin.token"));
    t << "s3cret-admin-token\n";
  }
  return path;
}

// Calls to demo/slow around 6 s, fast echoes, and demo/fail failing with one message shape.
void populate(const std::string& db) {
  bastion::record::SqliteStore store(db);
  ASSERT_TRUE(store.open().ok);
  std::vector<Interaction> rows;
  auto base = Clock::now() - std::chrono::minutes(20);
  auto add = [&](std::string tool, double ms, std::string status) -> Interaction& {
    int i = static_cast<int>(rows.size());
    Interaction r = bastion::record::testing::make_record(2 * i + 1, base);
    r.timestamp = base + std::chrono::milliseconds(i);
    r.tool = std::move(tool);
    r.latency_ms = ms;
    r.status = std::move(status);
    rows.push_back(std::move(r));
    return rows.back();
  };
  for (int i = 0; i < 50; ++i) add("echo", 3 + i % 7, "ok");
  for (int i = 0; i < 20; ++i) add("slow", 5800 + i * 20, "ok");
  for (int i = 0; i < 8; ++i) {
    auto& r = add("fail", 4, "error");
    r.error_code = -32000;
    r.error_message = "Database timeout after " + std::to_string(300 + i) + " ms";
  }
  for (int i = 0; i < 12; ++i) add("fail", 4, "ok");
  ASSERT_TRUE(store.write(rows).ok);
}

TEST(AnalyzeCli, ReadsTheStoreWhenTheGatewayIsNotReachable) {
  TempDir dir;
  populate(dir.file("data/interactions.db"));
  auto cfg = write_config(dir, free_port(), false);

  auto r = run_bastion(dir, "analyze -c '" + cfg + "' --window 1h --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto doc = json::parse(r.out).as_object();
  EXPECT_EQ(doc.at("source").as_string(), "store");
  EXPECT_EQ(doc.at("window_seconds").to_number<double>(), 3600);
  EXPECT_EQ(doc.at("slowest_tool").at("name").as_string(), "demo__slow");
  EXPECT_TRUE(doc.at("slowest_tool").at("above_latency_threshold").as_bool());
  EXPECT_NEAR(doc.at("slowest_tool").at("p95_ms").as_double(), 6160, 6160 * 0.01);
  const auto& top = doc.at("error_patterns").at(0).as_object();
  EXPECT_EQ(top.at("name").as_string(), "demo__fail");
  EXPECT_EQ(top.at("message_shape").as_string(), "database timeout after # ms");
  EXPECT_EQ(top.at("count").to_number<std::uint64_t>(), 8u);
  EXPECT_EQ(doc.at("totals").at("calls").to_number<std::uint64_t>(), 90u);
  // Every demo__slow call is over 5 s: critical, first. demo__fail: 8 of 20 fail, a warning.
  EXPECT_EQ(doc.at("findings").at(0).at("severity").as_string(), "critical");
  EXPECT_EQ(doc.at("findings").at(0).at("subject").as_string(), "demo__slow");
  EXPECT_EQ(doc.at("findings").at(1).at("severity").as_string(), "warning");
  EXPECT_EQ(doc.at("findings").at(1).at("kind").as_string(), "error_rate");
  EXPECT_EQ(doc.at("findings").at(1).at("subject").as_string(), "demo__fail");
  std::string notes = json::serialize(doc.at("notes"));
  EXPECT_NE(notes.find("not reachable"), std::string::npos) << notes;
  EXPECT_NE(notes.find("memory and queueing are not included"), std::string::npos) << notes;
  EXPECT_TRUE(doc.at("memory").as_array().empty());

  // The same as text.
  r = run_bastion(dir, "analyze -c '" + cfg + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("CRITICAL  tool demo__slow p50 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"database timeout after # ms\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("memory and queueing are not included"), std::string::npos) << r.out;
}

TEST(AnalyzeCli, AMissingStoreIsNoDataNotAnError) {
  TempDir dir;
  auto cfg = write_config(dir, free_port(), false);
  auto r = run_bastion(dir, "analyze -c '" + cfg + "' --window 30m --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto doc = json::parse(r.out).as_object();
  EXPECT_FALSE(doc.at("has_data").as_bool());
  EXPECT_EQ(doc.at("findings").at(0).at("message").as_string(), "no data in the last 30 min");
  EXPECT_FALSE(std::filesystem::exists(dir.file("data/interactions.db")));  // nothing created
}

TEST(AnalyzeCli, ABadWindowExitsTwoWithAClearMessage) {
  TempDir dir;
  auto cfg = write_config(dir, free_port(), false);
  for (std::string w : {"banana", "60", "0s", "-1h", "1y"}) {
    auto r = run_bastion(dir, "analyze -c '" + cfg + "' --window='" + w + "'");
    EXPECT_EQ(r.exit_code, 2) << w << ": " << r.out << r.err;
    EXPECT_NE(r.err.find("--window"), std::string::npos) << w << ": " << r.err;
    EXPECT_NE(r.err.find("use e.g."), std::string::npos) << w << ": " << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

TEST(AnalyzeCli, AStoreThatCannotBeOpenedExitsOne) {
  TempDir dir;
  std::filesystem::create_directories(dir.file("data"));
  {
    std::ofstream junk(dir.file("data/interactions.db"));
    junk << "this is not a database, only some text long enough to be looked at by sqlite";
  }
  auto cfg = write_config(dir, free_port(), false);
  auto r = run_bastion(dir, "analyze -c '" + cfg + "'");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("analyze:"), std::string::npos) << r.err;
}

// A stand-in admin listener: answers one GET with `body` and remembers what it was asked.
class FakeAdmin {
 public:
  explicit FakeAdmin(std::string body)
      : acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}), body_(std::move(body)) {
    thread_ = std::thread([this] {
      boost::system::error_code ec;
      asio::ip::tcp::socket socket(ioc_);
      acceptor_.accept(socket, ec);
      if (ec) return;
      beast::flat_buffer buffer;
      http::request<http::string_body> req;
      http::read(socket, buffer, req, ec);
      if (ec) return;
      target_ = std::string(req.target());
      authorization_ = std::string(req[http::field::authorization]);
      http::response<http::string_body> res{http::status::ok, 11};
      res.set(http::field::content_type, "application/json");
      res.body() = body_;
      res.prepare_payload();
      http::write(socket, res, ec);
    });
  }
  ~FakeAdmin() {
    if (!thread_.joinable()) return;
    // Nobody came (a failed test): knock once so the blocking accept returns.
    boost::system::error_code ec;
    asio::io_context ioc;
    asio::ip::tcp::socket knock(ioc);
    knock.connect({asio::ip::make_address("127.0.0.1"), port()}, ec);
    knock.close(ec);
    thread_.join();
  }
  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  void join() { thread_.join(); }
  const std::string& target() const { return target_; }
  const std::string& authorization() const { return authorization_; }

 private:
  asio::io_context ioc_;
  asio::ip::tcp::acceptor acceptor_;
  std::string body_;
  std::thread thread_;
  std::string target_, authorization_;
};

TEST(AnalyzeCli, PrintsTheGatewaysReportWhenItAnswers) {
  bastion::observe::AnalysisInput in;
  in.source = "live";
  in.window_seconds = 7200;
  in.memory = {{"demo", 0, 1.6 * 1024 * 1024 * 1024, {}, std::nullopt}};
  in.queues = {{"demo", 1, 1, 1, 4}};
  auto body = json::serialize(bastion::observe::to_json(bastion::observe::analyze(in)));

  TempDir dir;
  FakeAdmin admin(body);
  auto cfg = write_config(dir, admin.port(), true);
  auto r = run_bastion(dir, "analyze -c '" + cfg + "' --window 2h --json");
  admin.join();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(admin.target(), "/api/v1/analysis?window=7200s");
  EXPECT_EQ(admin.authorization(), "Bearer s3cret-admin-token");
  EXPECT_EQ(json::parse(r.out), json::parse(body));
  EXPECT_EQ(r.out.find("s3cret"), std::string::npos);
}

TEST(AnalyzeCli, ShowsTheGatewaysReportAsText) {
  bastion::observe::AnalysisInput in;
  in.source = "live+store";
  in.memory = {{"demo", 0, 1.6 * 1024 * 1024 * 1024, {}, std::nullopt}};
  auto body = json::serialize(bastion::observe::to_json(bastion::observe::analyze(in)));
  TempDir dir;
  FakeAdmin admin(body);
  auto cfg = write_config(dir, admin.port(), false);
  auto r = run_bastion(dir, "analyze -c '" + cfg + "'");
  admin.join();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(admin.target(), "/api/v1/analysis?window=3600s");
  EXPECT_TRUE(admin.authorization().empty());
  EXPECT_NE(r.out.find("CRITICAL  replica demo/0 RSS 1.6 GiB"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("from the running gateway and the interaction store"), std::string::npos)
      << r.out;
}

}  // namespace

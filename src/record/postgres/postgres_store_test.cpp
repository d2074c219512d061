// PostgresStore against a real PostgreSQL 15, started by tests/services/postgres.sh. Every test
// works in a schema of its own (first in search_path, set through the URL's `options`): much
// cheaper than a database each.
#include "record/postgres/postgres_store.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <latch>
#include <limits>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

namespace bastion::record {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

std::string read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

// Same server, credentials and database; tables go to `schema`.
std::string with_schema(const std::string& url, const std::string& schema) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" +
         schema;
}

// A plain libpq connection for setting up and checking, outside the code under test.
class Sql {
 public:
  Sql(const std::string& url, const std::string& password) {
    const char* keys[] = {"dbname", "password", "connect_timeout", nullptr};
    const char* values[] = {url.c_str(), password.c_str(), "5", nullptr};
    conn_ = PQconnectdbParams(keys, values, 1);
  }
  ~Sql() { PQfinish(conn_); }
  Sql(const Sql&) = delete;
  Sql& operator=(const Sql&) = delete;

  bool ok() const { return PQstatus(conn_) == CONNECTION_OK; }
  std::string error() const { return PQerrorMessage(conn_); }

  // Rows of text values ("<null>" for NULL); a failed statement adds a test failure.
  std::vector<std::vector<std::string>> rows(const std::string& sql) {
    std::vector<std::vector<std::string>> out;
    PGresult* result = PQexec(conn_, sql.c_str());
    const auto status = PQresultStatus(result);
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
      ADD_FAILURE() << sql << ": " << PQresultErrorMessage(result);
    } else {
      for (int r = 0; r < PQntuples(result); ++r) {
        auto& row = out.emplace_back();
        for (int c = 0; c < PQnfields(result); ++c) {
          row.emplace_back(PQgetisnull(result, r, c) ? "<null>" : PQgetvalue(result, r, c));
        }
      }
    }
    PQclear(result);
    return out;
  }
  std::string value(const std::string& sql) {
    auto result = rows(sql);
    return result.empty() || result[0].empty() ? "<none>" : result[0][0];
  }

 private:
  PGconn* conn_;
};

Clock::time_point at_unix_ms(std::int64_t ms) { return Clock::time_point{milliseconds{ms}}; }

Interaction sample_row(int i, Clock::time_point time) {
  Interaction row;
  row.id = "0190a1b2-0000-7000-8000-" + std::to_string(100000000000 + i);
  row.timestamp = time;
  row.agent_type = "demo";
  row.tool = "demo__echo";
  row.method = "tools/call";
  row.client = "ci-token";
  row.session_hash = std::string(64, 'a');
  row.input_hash = std::string(64, 'b');
  row.output_hash = std::string(64, 'c');
  row.latency_ms = 12.5 + i;
  row.request_bytes = 200 + i;
  row.response_bytes = 900 + i;
  row.trace_id = std::string(32, 'f');
  row.input =
      R"({"message":"hello number )" + std::to_string(i) +
      R"(","padding":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"})";
  row.output = R"({"content":[{"type":"text","text":")" + std::string(900, 'o') + R"("}]})";
  return row;
}

std::vector<Interaction> scan_all(Store& store, const ScanRange& range = {}) {
  std::vector<Interaction> rows;
  const auto result = store.scan(range, [&](const Interaction& row) {
    rows.push_back(row);
    return true;
  });
  EXPECT_TRUE(result.ok) << result.error;
  return rows;
}

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_url_ = env("BASTION_TEST_PG_URL");
    password_file_ = env("BASTION_TEST_PG_PASSWORD_FILE");
    // Fail, never skip: under ctest a missing server is a broken setup, not an optional test.
    ASSERT_FALSE(base_url_.empty() || password_file_.empty())
        << "BASTION_TEST_PG_URL / BASTION_TEST_PG_PASSWORD_FILE are not set: run through "
           "tests/services/postgres.sh";
    password_ = read_file(password_file_);
    if (!password_.empty() && password_.back() == '\n') password_.pop_back();
    ASSERT_FALSE(password_.empty());

    static std::atomic<int> counter{0};
    schema_ = "t" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    Sql setup(base_url_, password_);
    ASSERT_TRUE(setup.ok()) << setup.error();
    setup.rows("CREATE SCHEMA " + schema_);
    url_ = with_schema(base_url_, schema_);
  }

  PostgresConfig config() const {
    PostgresConfig config;
    config.url = url_;
    config.password_file = password_file_;
    config.connect_timeout = 3s;
    config.statement_timeout = 5s;
    return config;
  }

  std::unique_ptr<Sql> sql() const { return std::make_unique<Sql>(url_, password_); }

  std::int64_t count_rows() {
    return std::stoll(sql()->value("SELECT count(*) FROM mcp_interactions"));
  }

  std::string base_url_, password_file_, password_, schema_, url_;
};

TEST_F(PostgresStoreTest, MigrationsCreateTheSchemaOnceAndAreIdempotent) {
  PostgresStore store(config());
  EXPECT_EQ(store.kind(), "postgres");
  EXPECT_EQ(store.schema_version(), 0);
  auto result = store.open();
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_EQ(store.schema_version(), 1);
  result = store.open();
  ASSERT_TRUE(result.ok) << result.error;
  PostgresStore second(config());
  result = second.open();
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_EQ(second.schema_version(), 1);

  auto db = sql();
  EXPECT_EQ(db->value("SELECT current_schema()"), schema_);
  EXPECT_EQ(db->value("SELECT string_agg(version::text, ',') FROM bastion_schema_migrations"), "1");
  EXPECT_EQ(db->value("SELECT count(*) FROM bastion_schema_migrations WHERE applied_at <= now()"),
            "1");
  // Exactly the columns of interaction.hpp / ARCHITECTURE §6, in order, with their types.
  const auto columns = db->rows(
      "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
      "WHERE table_schema = current_schema() AND table_name = 'mcp_interactions' "
      "ORDER BY ordinal_position");
  const std::vector<std::vector<std::string>> expected{
      {"id", "text", "NO"},
      {"timestamp", "timestamp with time zone", "NO"},
      {"agent_type", "text", "NO"},
      {"tool", "text", "YES"},
      {"method", "text", "NO"},
      {"client", "text", "NO"},
      {"session_hash", "text", "YES"},
      {"input_hash", "text", "YES"},
      {"output_hash", "text", "YES"},
      {"status", "text", "NO"},
      {"error_code", "bigint", "YES"},
      {"error_message", "text", "YES"},
      {"output_quality", "double precision", "YES"},
      {"precision_score", "double precision", "YES"},
      {"agent_confidence", "double precision", "YES"},
      {"contradiction_applied", "boolean", "NO"},
      {"contradiction_level", "text", "NO"},
      {"latency_ms", "double precision", "NO"},
      {"latency_bucket", "text", "NO"},
      {"request_bytes", "bigint", "NO"},
      {"response_bytes", "bigint", "NO"},
      {"trace_id", "text", "YES"},
      {"input", "text", "YES"},
      {"output", "text", "YES"},
  };
  EXPECT_EQ(columns, expected);
  EXPECT_EQ(db->value("SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes "
                      "WHERE schemaname = current_schema() AND tablename = 'mcp_interactions'"),
            "mcp_interactions_pkey,mcp_interactions_timestamp_idx,mcp_interactions_tool_input_idx");
}

TEST_F(PostgresStoreTest, ConcurrentOpensOnAFreshDatabaseMigrateOnce) {
  constexpr int kStores = 4;
  std::vector<std::unique_ptr<PostgresStore>> stores;
  for (int i = 0; i < kStores; ++i) stores.push_back(std::make_unique<PostgresStore>(config()));
  std::vector<StoreResult> results(kStores);
  std::latch start(kStores);
  std::vector<std::thread> threads;
  for (int i = 0; i < kStores; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      results[i] = stores[i]->open();
    });
  }
  for (auto& thread : threads) thread.join();
  for (int i = 0; i < kStores; ++i) {
    EXPECT_TRUE(results[i].ok) << results[i].error;
    EXPECT_EQ(stores[i]->schema_version(), 1);
  }
  EXPECT_EQ(sql()->value("SELECT count(*) FROM bastion_schema_migrations"), "1");
}

TEST_F(PostgresStoreTest, EveryColumnRoundTripsIncludingNullsAndNonAscii) {
  PostgresStore store(config());
  ASSERT_TRUE(store.open().ok);

  Interaction full;
  full.id = "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b";
  full.timestamp = at_unix_ms(1'709'210'096'789);  // 2024-02-29T12:34:56.789Z
  full.agent_type = "démo-agent";
  full.tool = "demo__résumé_日本語";
  full.method = "tools/call";
  full.client = "client 'quoted' \"double\" \\ back\\slash";
  full.session_hash = std::string(64, '1');
  full.input_hash = std::string(64, '2');
  full.output_hash = std::string(64, '3');
  full.status = "error";
  full.error_code = std::numeric_limits<std::int64_t>::min();
  full.error_message = "línea 1\nline 2\t✓ 🚀";
  full.output_quality = 0.0;
  full.precision_score = 1.0;
  full.agent_confidence = 0.1234567890123456789;
  full.contradiction_applied = true;
  full.contradiction_level = "extreme";
  full.latency_ms = 1234.5678901234;
  full.latency_bucket = "timeout";
  full.request_bytes = std::numeric_limits<std::int64_t>::max();
  full.response_bytes = 0;
  full.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  full.input = R"({"text":"Grüße, мир, 世界 🌍","n":[1,2.5,null]})";
  full.output = std::string("{\"big\":\"") + std::string(100'000, 'z') + "\"}";

  Interaction nulls;  // every optional NULL, every default
  nulls.id = "0190a1b2-c3d4-7e5f-8a6b-000000000001";
  nulls.timestamp = at_unix_ms(-1);  // 1969-12-31T23:59:59.999Z
  nulls.method = "initialize";

  Interaction early = nulls;  // before PostgreSQL's epoch (2000), after the Unix one
  early.id = "early";
  early.timestamp = at_unix_ms(946'684'799'999);
  early.error_code = 0;
  early.output_quality = 1.0;

  Interaction late = nulls;  // past 2038
  late.id = "late";
  late.timestamp = at_unix_ms(7'258'118'400'123);
  late.tool = "";  // empty string, not NULL
  late.input = "";

  // Same timestamp: ties are ordered by id, bytewise ("x-10" < "x-2").
  Interaction tie_a = full;
  tie_a.id = "x-2";
  Interaction tie_b = full;
  tie_b.id = "x-10";

  const std::vector<Interaction> batch{full, tie_a, nulls, late, early, tie_b};
  const auto written = store.write(batch);
  ASSERT_TRUE(written.ok) << written.error;

  const std::vector<Interaction> expected{nulls, early, full, tie_b, tie_a, late};
  const auto rows = scan_all(store);
  ASSERT_EQ(rows.size(), expected.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_TRUE(rows[i] == expected[i]) << "row " << i << " id " << rows[i].id;
  }

  // The stored values are the intended ones, not just self-consistent.
  auto db = sql();
  EXPECT_EQ(db->value("SELECT \"timestamp\" = '2024-02-29 12:34:56.789+00' FROM mcp_interactions "
                      "WHERE id = '" +
                      full.id + "'"),
            "t");
  EXPECT_EQ(db->value("SELECT \"timestamp\" = '1969-12-31 23:59:59.999+00' FROM mcp_interactions "
                      "WHERE id = '" +
                      nulls.id + "'"),
            "t");
  EXPECT_EQ(db->value("SELECT tool || '|' || error_message || '|' || error_code FROM "
                      "mcp_interactions WHERE id = '" +
                      full.id + "'"),
            "demo__résumé_日本語|línea 1\nline 2\t✓ 🚀|-9223372036854775808");
  EXPECT_EQ(db->value("SELECT string_agg(id, ',') FROM mcp_interactions WHERE tool IS NULL AND "
                      "session_hash IS NULL AND error_code IS NULL AND output_quality IS NULL"),
            nulls.id);
  EXPECT_EQ(db->value("SELECT tool = '' AND input = '' FROM mcp_interactions WHERE id = 'late'"),
            "t");
}

TEST_F(PostgresStoreTest, ScanHonoursTheRangeStreamsInOrderAndStopsEarly) {
  PostgresStore store(config());
  ASSERT_TRUE(store.open().ok);
  const auto base = at_unix_ms(1'700'000'000'000);
  std::vector<Interaction> rows;
  for (int i = 0; i < 3000; ++i) rows.push_back(sample_row(i, base + milliseconds{i}));
  // Written in an order other than the scan order.
  std::shuffle(rows.begin(), rows.end(), std::mt19937(7));
  for (std::size_t at = 0; at < rows.size(); at += 500) {
    auto result = store.write(std::span(rows).subspan(at, 500));
    ASSERT_TRUE(result.ok) << result.error;
  }

  // [base+1000, base+2500): crosses several FETCH batches.
  const auto window = scan_all(store, ScanRange{base + 1000ms, base + 2500ms});
  ASSERT_EQ(window.size(), 1500u);
  for (std::size_t i = 0; i < window.size(); ++i) {
    EXPECT_EQ(window[i].timestamp, base + milliseconds{1000 + i});
    if (window[i].timestamp != base + milliseconds{1000 + i}) break;
  }
  EXPECT_EQ(window.front(), sample_row(1000, base + 1000ms));
  EXPECT_EQ(scan_all(store, ScanRange{base + 2990ms, std::nullopt}).size(), 10u);
  EXPECT_EQ(scan_all(store, ScanRange{std::nullopt, base + 10ms}).size(), 10u);
  EXPECT_EQ(scan_all(store, ScanRange{base + 5000ms, std::nullopt}).size(), 0u);

  int visited = 0;
  auto result = store.scan({}, [&](const Interaction&) { return ++visited < 1500; });
  EXPECT_TRUE(result.ok) << result.error;
  EXPECT_EQ(visited, 1500);

  // A visitor that throws: the exception reaches the caller and the store stays usable.
  EXPECT_THROW(
      (void)store.scan({}, [](const Interaction&) -> bool { throw std::runtime_error("stop"); }),
      std::runtime_error);
  const Interaction extra = sample_row(5000, base + 5000ms);
  result = store.write(std::span(&extra, 1));
  EXPECT_TRUE(result.ok) << result.error;
  EXPECT_EQ(count_rows(), 3001);
}

TEST_F(PostgresStoreTest, DuplicateIdsAreSkipped) {
  PostgresStore store(config());
  ASSERT_TRUE(store.open().ok);
  const auto base = at_unix_ms(1'700'000'000'000);
  std::vector<Interaction> first{sample_row(1, base), sample_row(2, base + 1ms)};
  ASSERT_TRUE(store.write(first).ok);

  // The replayed rows differ in content: the stored ones win. Duplicates inside one batch too.
  std::vector<Interaction> replay{sample_row(2, base + 1ms), sample_row(3, base + 2ms),
                                  sample_row(3, base + 2ms), sample_row(1, base)};
  replay[0].status = "timeout";
  replay[3].tool = std::nullopt;
  const auto result = store.write(replay);
  ASSERT_TRUE(result.ok) << result.error;

  const auto rows = scan_all(store);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0], first[0]);
  EXPECT_EQ(rows[1], first[1]);
  EXPECT_EQ(rows[2], sample_row(3, base + 2ms));
}

TEST_F(PostgresStoreTest, AFailedBatchLeavesNothingWritten) {
  PostgresStore store(config());
  ASSERT_TRUE(store.open().ok);
  const auto base = at_unix_ms(1'700'000'000'000);
  std::vector<Interaction> batch;
  for (int i = 0; i < 5; ++i) batch.push_back(sample_row(i, base + milliseconds{i}));
  batch[2].output_quality = 1.5;  // CHECK violation in row 3 of 5
  batch[2].input = "payload-that-must-not-appear-in-errors";
  auto result = store.write(batch);
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.error.find("check constraint"), std::string::npos) << result.error;
  EXPECT_NE(result.error.find("23514"), std::string::npos) << result.error;
  EXPECT_EQ(result.error.find("payload-that-must-not-appear"), std::string::npos) << result.error;
  EXPECT_EQ(count_rows(), 0);

  // Across insert chunks: the violation is in the last one, after two full chunks succeeded.
  std::vector<Interaction> large;
  for (int i = 0; i < 250; ++i) large.push_back(sample_row(100 + i, base + milliseconds{i}));
  large[240].status = "bogus";
  result = store.write(large);
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(count_rows(), 0);

  // The connection is still good for the next batch.
  large[240].status = "ok";
  result = store.write(large);
  EXPECT_TRUE(result.ok) << result.error;
  EXPECT_EQ(count_rows(), 250);
}

TEST_F(PostgresStoreTest, TextPostgresCannotHoldIsStoredWithReplacementCharacters) {
  PostgresStore store(config());
  ASSERT_TRUE(store.open().ok);
  Interaction row = sample_row(1, at_unix_ms(1'700'000'000'000));
  row.input = std::string("nul\0byte", 8);
  row.error_message = "bad \xff utf-8";
  const auto result = store.write(std::span(&row, 1));
  ASSERT_TRUE(result.ok) << result.error;
  const auto rows = scan_all(store);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].input,
            "nul\xef\xbf\xbd"
            "byte");
  EXPECT_EQ(rows[0].error_message, "bad \xef\xbf\xbd utf-8");
}

TEST_F(PostgresStoreTest, PasswordsNeverAppearInErrors) {
  const std::string wrong = "wrong-" + std::to_string(std::random_device{}()) + "-pw";
  const std::string wrong_file = ::testing::TempDir() + "/pg-wrong-password-" + schema_;
  { std::ofstream(wrong_file) << wrong << "\n"; }
  PostgresConfig bad = config();
  bad.password_file = wrong_file;
  PostgresStore store(bad);
  auto result = store.open();
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.error.find("password authentication failed"), std::string::npos) << result.error;
  EXPECT_EQ(result.error.find(wrong), std::string::npos) << result.error;
  EXPECT_EQ(result.error.find(password_), std::string::npos) << result.error;
  std::remove(wrong_file.c_str());

  PostgresConfig missing = config();
  missing.password_file = wrong_file + ".absent";
  result = PostgresStore(missing).open();
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.error.find(".absent"), std::string::npos) << result.error;

  // A password inside the URL is refused without being repeated.
  PostgresConfig in_url = config();
  in_url.url = "postgres://bastion:" + password_ + "@127.0.0.1:1/x";
  result = PostgresStore(in_url).open();
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.error.find(password_), std::string::npos) << result.error;
  in_url.url = "postgres://bastion@127.0.0.1:1/x?password=" + password_;
  result = PostgresStore(in_url).open();
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.error.find(password_), std::string::npos) << result.error;
  in_url.url = "postgres://bastion:" + password_ + "@127.0.0.1:1/x?bogus_option=1";
  result = PostgresStore(in_url).open();
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.error.find(password_), std::string::npos) << result.error;

  PostgresConfig upper = config();
  upper.url = "PostgreSQL" + upper.url.substr(upper.url.find("://"));
  result = PostgresStore(upper).open();
  EXPECT_TRUE(result.ok) << result.error;

  PostgresConfig scheme = config();
  scheme.url = "mysql://bastion@127.0.0.1/x";
  result = PostgresStore(scheme).open();
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.error.find("postgres://"), std::string::npos) << result.error;
}

// Stops and restarts the shared cluster; restarts it even when an assertion fails.
class ClusterRestart {
 public:
  ClusterRestart() : stop_(env("BASTION_TEST_PG_STOP")), start_(env("BASTION_TEST_PG_START")) {}
  ~ClusterRestart() {
    if (stopped_) start();
  }
  bool configured() const { return !stop_.empty() && !start_.empty(); }
  bool stop() {
    stopped_ = std::system((stop_ + " >/dev/null").c_str()) == 0;
    return stopped_;
  }
  bool start() {
    const bool ok = std::system((start_ + " >/dev/null").c_str()) == 0;
    if (ok) stopped_ = false;
    return ok;
  }

 private:
  std::string stop_, start_;
  bool stopped_ = false;
};

TEST_F(PostgresStoreTest, WritesFailFastWhileTheServerIsDownAndReconnectAfter) {
  ClusterRestart cluster;
  ASSERT_TRUE(cluster.configured()) << "BASTION_TEST_PG_STOP / _START are not set";
  PostgresStore store(config());
  PostgresStore idle(config());  // connected, then idle across the restart
  ASSERT_TRUE(store.open().ok);
  ASSERT_TRUE(idle.open().ok);
  const auto base = at_unix_ms(1'700'000'000'000);
  const Interaction rows[] = {sample_row(1, base), sample_row(2, base + 1ms),
                              sample_row(3, base + 2ms), sample_row(4, base + 3ms)};
  ASSERT_TRUE(store.write(std::span(rows, 1)).ok);

  ASSERT_TRUE(cluster.stop());
  for (int attempt = 0; attempt < 2; ++attempt) {  // the broken connection, then a refused one
    const auto started = SteadyClock::now();
    const auto result = store.write(std::span(rows + 1, 1));
    const auto elapsed = SteadyClock::now() - started;
    EXPECT_FALSE(result.ok);
    EXPECT_FALSE(result.error.empty());
    EXPECT_EQ(result.error.find(password_), std::string::npos) << result.error;
    EXPECT_LT(elapsed, config().connect_timeout + 2s) << result.error;
  }
  const auto scanned = store.scan({}, [](const Interaction&) { return true; });
  EXPECT_FALSE(scanned.ok);

  ASSERT_TRUE(cluster.start());
  auto result = store.write(std::span(rows + 1, 1));
  EXPECT_TRUE(result.ok) << result.error;
  // The idle store's connection died with the old server: its first write still succeeds.
  result = idle.write(std::span(rows + 2, 2));
  EXPECT_TRUE(result.ok) << result.error;
  EXPECT_EQ(scan_all(store).size(), 4u);
}

TEST_F(PostgresStoreTest, StatementTimeoutBoundsABlockedWrite) {
  PostgresConfig short_timeout = config();
  short_timeout.statement_timeout = 1s;
  PostgresStore store(short_timeout);
  ASSERT_TRUE(store.open().ok);
  const Interaction row = sample_row(1, at_unix_ms(1'700'000'000'000));

  auto blocker = sql();
  blocker->rows("BEGIN");
  blocker->rows("LOCK TABLE mcp_interactions IN ACCESS EXCLUSIVE MODE");
  const auto started = SteadyClock::now();
  auto result = store.write(std::span(&row, 1));
  const auto elapsed = SteadyClock::now() - started;
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.error.find("statement timeout"), std::string::npos) << result.error;
  EXPECT_GE(elapsed, 900ms);
  EXPECT_LT(elapsed, 4s);
  blocker->rows("ROLLBACK");

  result = store.write(std::span(&row, 1));
  EXPECT_TRUE(result.ok) << result.error;
  EXPECT_EQ(count_rows(), 1);
}

TEST_F(PostgresStoreTest, AServerThatNeverAnswersCannotHangOpen) {
  // A listener that never accepts: the kernel completes the handshake, nobody replies.
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener, 8), 0);
  socklen_t length = sizeof address;
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);

  PostgresConfig silent = config();
  silent.url = "postgres://bastion@127.0.0.1:" + std::to_string(ntohs(address.sin_port)) +
               "/x?sslmode=disable";
  silent.connect_timeout = 2s;
  const auto started = SteadyClock::now();
  const auto result = PostgresStore(silent).open();
  const auto elapsed = SteadyClock::now() - started;
  ::close(listener);
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.error.find("timeout"), std::string::npos) << result.error;
  EXPECT_LT(elapsed, 5s);
}

// Not a pass/fail benchmark: reports 500-row batch throughput on this machine, for rows as
// `capture: hashed` makes them (no payloads) and with ~1.1 KB of captured payloads.
TEST_F(PostgresStoreTest, ReportsWriteThroughputFor500RowBatches) {
  PostgresStore store(config());
  ASSERT_TRUE(store.open().ok);
  constexpr int kBatches = 40;
  constexpr int kBatchRows = 500;
  const auto base = at_unix_ms(1'700'000'000'000);
  std::int64_t total = 0;
  for (const bool payloads : {false, true}) {
    std::vector<std::vector<Interaction>> batches(kBatches);
    for (int b = 0; b < kBatches; ++b) {
      for (int i = 0; i < kBatchRows; ++i) {
        const int n = static_cast<int>(total) + b * kBatchRows + i;
        Interaction row = sample_row(n, base + milliseconds{n});
        if (!payloads) {
          row.input.reset();
          row.output.reset();
        }
        batches[b].push_back(std::move(row));
      }
    }
    const char* shape = payloads ? "with payloads" : "hashed";
    const auto started = SteadyClock::now();
    for (const auto& batch : batches) {
      const auto result = store.write(batch);
      ASSERT_TRUE(result.ok) << result.error;
    }
    const double seconds = std::chrono::duration<double>(SteadyClock::now() - started).count();
    const double rows_per_second = kBatches * kBatchRows / seconds;
    std::printf("[ throughput ] %s: %d x %d-row batches in %.3f s: %.0f rows/s (%.2f ms/batch)\n",
                shape, kBatches, kBatchRows, seconds, rows_per_second, seconds * 1000 / kBatches);
    RecordProperty(std::string("rows_per_second_") + (payloads ? "payloads" : "hashed"),
                   static_cast<int>(rows_per_second));
    total += kBatches * kBatchRows;
    EXPECT_EQ(count_rows(), total);

    // Replaying the same batches (spool replay after a crash) writes nothing new.
    const auto replay_started = SteadyClock::now();
    for (const auto& batch : batches) ASSERT_TRUE(store.write(batch).ok);
    const double replay =
        std::chrono::duration<double>(SteadyClock::now() - replay_started).count();
    std::printf("[ throughput ] %s: replay of the same rows (all conflicts): %.0f rows/s\n", shape,
                kBatches * kBatchRows / replay);
    EXPECT_EQ(count_rows(), total);
  }

  std::int64_t scanned = 0;
  const auto scan_started = SteadyClock::now();
  ASSERT_TRUE(store.scan({}, [&](const Interaction&) { return ++scanned > 0; }).ok);
  const double scan = std::chrono::duration<double>(SteadyClock::now() - scan_started).count();
  std::printf("[ throughput ] scan: %.0f rows/s\n", scanned / scan);
  EXPECT_EQ(scanned, total);
}

}  // namespace
}  // namespace bastion::record

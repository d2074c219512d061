#include "record/sqlite_store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <vector>

#include "record/test_records.hpp"

namespace bastion::record {
namespace {
using testing::make_record;
using testing::TempDir;

std::vector<Interaction> scan_all(Store& store, ScanRange range = {}) {
  std::vector<Interaction> rows;
  auto r = store.scan(range, [&](const Interaction& row) {
    rows.push_back(row);
    return true;
  });
  EXPECT_TRUE(r.ok) << r.error;
  return rows;
}

std::string query_text(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* s = nullptr;
  std::string out;
  if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) == SQLITE_OK) {
    while (sqlite3_step(s) == SQLITE_ROW) {
      if (!out.empty()) out += "|";
      const auto* t = sqlite3_column_text(s, 0);
      out += t ? reinterpret_cast<const char*>(t) : "NULL";
    }
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return out;
}

TEST(SqliteStore, CreatesSchemaWithExactColumnsAndIndexes) {
  TempDir dir;
  auto path = dir.file("sub/dir/i.db");
  SqliteStore store(path);
  ASSERT_TRUE(store.open().ok);
  EXPECT_EQ(store.kind(), "sqlite");
  EXPECT_EQ(store.schema_version(), 1);
  EXPECT_EQ(query_text(path, "SELECT name FROM pragma_table_info('mcp_interactions') ORDER BY cid"),
            "id|timestamp|agent_type|tool|method|client|session_hash|input_hash|output_hash|status|"
            "error_code|"
            "error_message|output_quality|precision_score|agent_confidence|contradiction_applied|"
            "contradiction_level|latency_ms|latency_bucket|request_bytes|response_bytes|trace_id|"
            "input|output");
  EXPECT_EQ(query_text(
                path,
                "SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='mcp_interactions' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"),
            "mcp_interactions_timestamp_idx|mcp_interactions_tool_input_idx");
  EXPECT_EQ(query_text(path, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(query_text(path, "SELECT version FROM schema_migrations"), "1");
}

TEST(SqliteStore, MigrationsAreIdempotentAcrossOpens) {
  TempDir dir;
  auto path = dir.file("i.db");
  {
    SqliteStore a(path);
    ASSERT_TRUE(a.open().ok);
    ASSERT_TRUE(a.open().ok);  // second open on the same object: no-op
    std::vector<Interaction> rows{make_record(0)};
    ASSERT_TRUE(a.write(rows).ok);
  }
  SqliteStore b(path);
  ASSERT_TRUE(b.open().ok);
  EXPECT_EQ(b.schema_version(), 1);
  EXPECT_EQ(scan_all(b).size(), 1u);
  EXPECT_EQ(query_text(path, "SELECT COUNT(*) FROM schema_migrations"), "1");
}

TEST(SqliteStore, RefusesNewerSchema) {
  TempDir dir;
  auto path = dir.file("i.db");
  {
    SqliteStore a(path);
    ASSERT_TRUE(a.open().ok);
  }
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db, "INSERT INTO schema_migrations VALUES (99, 'x')", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  SqliteStore b(path);
  auto r = b.open();
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("newer"), std::string::npos) << r.error;
}

TEST(SqliteStore, WriteThenScanRoundTripsEveryColumnInOrder) {
  TempDir dir;
  SqliteStore store(dir.file("i.db"));
  ASSERT_TRUE(store.open().ok);
  std::vector<Interaction> rows;
  for (int i = 9; i >= 0; --i) rows.push_back(make_record(i));  // written out of order
  ASSERT_TRUE(store.write(rows).ok);
  auto got = scan_all(store);
  ASSERT_EQ(got.size(), 10u);
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(got[static_cast<std::size_t>(i)], rows[static_cast<std::size_t>(9 - i)]);
  EXPECT_EQ(query_text(dir.file("i.db"),
                       "SELECT timestamp FROM mcp_interactions ORDER BY timestamp LIMIT 1"),
            "2026-11-28T17:31:47.000Z");
  EXPECT_EQ(query_text(dir.file("i.db"),
                       "SELECT DISTINCT contradiction_applied FROM mcp_interactions ORDER BY 1"),
            "0|1");
}

TEST(SqliteStore, DuplicateIdsAreSkipped) {
  TempDir dir;
  SqliteStore store(dir.file("i.db"));
  ASSERT_TRUE(store.open().ok);
  std::vector<Interaction> rows{make_record(0), make_record(1)};
  ASSERT_TRUE(store.write(rows).ok);
  auto changed = rows[0];
  changed.status = "changed";
  std::vector<Interaction> again{changed, rows[1], make_record(2)};
  ASSERT_TRUE(store.write(again).ok);
  auto got = scan_all(store);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].status, rows[0].status);  // first write wins
}

TEST(SqliteStore, ScanRangeAndEarlyStop) {
  TempDir dir;
  SqliteStore store(dir.file("i.db"));
  ASSERT_TRUE(store.open().ok);
  std::vector<Interaction> rows;
  for (int i = 0; i < 100; ++i) rows.push_back(make_record(i));
  ASSERT_TRUE(store.write(rows).ok);
  ScanRange range{rows[10].timestamp, rows[20].timestamp};
  auto got = scan_all(store, range);
  ASSERT_EQ(got.size(), 10u);
  EXPECT_EQ(got.front().id, rows[10].id);
  EXPECT_EQ(got.back().id, rows[19].id);
  // Sub-millisecond bounds round up to the next stored millisecond.
  auto half = std::chrono::microseconds(500);
  EXPECT_EQ(scan_all(store, {rows[10].timestamp + half, rows[20].timestamp + half}).front().id,
            rows[11].id);
  EXPECT_EQ(scan_all(store, {std::nullopt, rows[3].timestamp}).size(), 3u);
  EXPECT_EQ(scan_all(store, {rows[97].timestamp, std::nullopt}).size(), 3u);
  int seen = 0;
  ASSERT_TRUE(store.scan({}, [&](const Interaction&) { return ++seen < 5; }).ok);
  EXPECT_EQ(seen, 5);
}

TEST(SqliteStore, ErrorsAreValues) {
  TempDir dir;
  SqliteStore closed(dir.file("i.db"));
  std::vector<Interaction> rows{make_record(0)};
  EXPECT_FALSE(closed.write(rows).ok);
  EXPECT_FALSE(closed.scan({}, [](const Interaction&) { return true; }).ok);
  SqliteOptions no_mkdir;
  no_mkdir.create_parent_dir = false;
  SqliteStore bad(dir.file("not-a-dir") + "/x.db", no_mkdir);
  auto r = bad.open();
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.error.empty());
}

}  // namespace
}  // namespace bastion::record

#include "record/sqlite_store.hpp"

#include <sqlite3.h>

#include <filesystem>
#include <system_error>
#include <vector>

#include "record/time_format.hpp"

namespace bastion::record {
namespace {

struct Migration {
  std::int64_t version;
  const char* sql;
};

// Append-only: a released migration is never edited; changes come as a new version.
constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE mcp_interactions (
  id                    TEXT    NOT NULL PRIMARY KEY,
  timestamp             TEXT    NOT NULL,
  agent_type            TEXT    NOT NULL,
  tool                  TEXT,
  method                TEXT    NOT NULL,
  client                TEXT    NOT NULL,
  session_hash          TEXT,
  input_hash            TEXT,
  output_hash           TEXT,
  status                TEXT    NOT NULL,
  error_code            INTEGER,
  error_message         TEXT,
  output_quality        REAL,
  precision_score       REAL,
  agent_confidence      REAL,
  contradiction_applied INTEGER NOT NULL,
  contradiction_level   TEXT    NOT NULL,
  latency_ms            REAL    NOT NULL,
  latency_bucket        TEXT    NOT NULL,
  request_bytes         INTEGER NOT NULL,
  response_bytes        INTEGER NOT NULL,
  trace_id              TEXT,
  input                 TEXT,
  output                TEXT
);
CREATE INDEX mcp_interactions_timestamp_idx ON mcp_interactions (timestamp);
CREATE INDEX mcp_interactions_tool_input_idx ON mcp_interactions (tool, input_hash);
)sql"},
};
static_assert(std::size(kMigrations) == kSqliteSchemaVersion);

constexpr const char* kColumns =
    "id, timestamp, agent_type, tool, method, client, session_hash, input_hash, output_hash, "
    "status, "
    "error_code, error_message, output_quality, precision_score, agent_confidence, "
    "contradiction_applied, "
    "contradiction_level, latency_ms, latency_bucket, request_bytes, response_bytes, trace_id, "
    "input, output";

// Finalizes on scope exit.
struct Statement {
  sqlite3_stmt* stmt = nullptr;
  ~Statement() { sqlite3_finalize(stmt); }
};

// SQLITE_STATIC: the caller keeps every bound string alive until the statement has stepped, so
// SQLite need not copy each one.
void bind_text(sqlite3_stmt* s, int i, std::string_view v) {
  sqlite3_bind_text64(s, i, v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8);
}
void bind_opt(sqlite3_stmt* s, int i, const std::optional<std::string>& v) {
  if (v)
    bind_text(s, i, *v);
  else
    sqlite3_bind_null(s, i);
}
void bind_opt(sqlite3_stmt* s, int i, const std::optional<double>& v) {
  if (v)
    sqlite3_bind_double(s, i, *v);
  else
    sqlite3_bind_null(s, i);
}
void bind_opt(sqlite3_stmt* s, int i, const std::optional<std::int64_t>& v) {
  if (v)
    sqlite3_bind_int64(s, i, *v);
  else
    sqlite3_bind_null(s, i);
}

std::string column_text(sqlite3_stmt* s, int i) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s, i))) : std::string();
}
std::optional<std::string> column_opt_text(sqlite3_stmt* s, int i) {
  if (sqlite3_column_type(s, i) == SQLITE_NULL) return std::nullopt;
  return column_text(s, i);
}
std::optional<double> column_opt_double(sqlite3_stmt* s, int i) {
  if (sqlite3_column_type(s, i) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_double(s, i);
}
std::optional<std::int64_t> column_opt_int(sqlite3_stmt* s, int i) {
  if (sqlite3_column_type(s, i) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_int64(s, i);
}

}  // namespace

SqliteStore::SqliteStore(std::string path, SqliteOptions options)
    : path_(std::move(path)), options_(options) {}

SqliteStore::~SqliteStore() { close(); }

void SqliteStore::close() {
  sqlite3_finalize(insert_);
  insert_ = nullptr;
  sqlite3_close_v2(db_);
  db_ = nullptr;
}

StoreResult SqliteStore::fail(std::string_view what) {
  std::string msg = "sqlite " + std::string(what);
  if (db_) msg += ": " + std::string(sqlite3_errmsg(db_));
  return {false, std::move(msg)};
}

StoreResult SqliteStore::open() {
  if (db_ && insert_) return {};
  close();
  if (options_.create_parent_dir && path_ != ":memory:") {
    auto parent = std::filesystem::path(path_).parent_path();
    std::error_code ec;
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    if (ec)
      return {false, "sqlite: cannot create directory " + parent.string() + ": " + ec.message()};
  }
  int rc =
      sqlite3_open_v2(path_.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    auto r = fail("open " + path_);
    close();
    return r;
  }
  sqlite3_busy_timeout(db_, static_cast<int>(options_.busy_timeout.count()));
  sqlite3_extended_result_codes(db_, 1);
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL"}) {
    if (sqlite3_exec(db_, pragma, nullptr, nullptr, nullptr) != SQLITE_OK) {
      auto r = fail(pragma);
      close();
      return r;
    }
  }
  if (sqlite3_exec(db_,
                   "CREATE TABLE IF NOT EXISTS schema_migrations ("
                   " version INTEGER NOT NULL PRIMARY KEY, applied_at TEXT NOT NULL)",
                   nullptr, nullptr, nullptr) != SQLITE_OK) {
    auto r = fail("create schema_migrations");
    close();
    return r;
  }
  // Each migration runs in its own IMMEDIATE transaction that re-reads the version, so two
  // processes opening the same file at once apply it exactly once.
  for (const auto& m : kMigrations) {
    if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
      auto r = fail("begin migration");
      close();
      return r;
    }
    std::int64_t current = 0;
    {
      Statement q;
      if (sqlite3_prepare_v2(db_, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", -1,
                             &q.stmt, nullptr) != SQLITE_OK ||
          sqlite3_step(q.stmt) != SQLITE_ROW) {
        auto r = fail("read schema version");
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        close();
        return r;
      }
      current = sqlite3_column_int64(q.stmt, 0);
    }
    if (current > kSqliteSchemaVersion) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      close();
      return {false, "sqlite: database schema version " + std::to_string(current) +
                         " is newer than this build supports (" +
                         std::to_string(kSqliteSchemaVersion) + ")"};
    }
    if (current >= m.version) {
      sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
      version_ = current;
      continue;
    }
    bool ok = sqlite3_exec(db_, m.sql, nullptr, nullptr, nullptr) == SQLITE_OK;
    if (ok) {
      Statement ins;
      ok = sqlite3_prepare_v2(db_,
                              "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                              -1, &ins.stmt, nullptr) == SQLITE_OK;
      if (ok) {
        const std::string applied_at = format_timestamp(Clock::now());
        sqlite3_bind_int64(ins.stmt, 1, m.version);
        bind_text(ins.stmt, 2, applied_at);
        ok = sqlite3_step(ins.stmt) == SQLITE_DONE;
      }
    }
    if (!ok || sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      auto r = fail("migration " + std::to_string(m.version));
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      close();
      return r;
    }
    version_ = m.version;
  }
  std::string insert =
      std::string("INSERT INTO mcp_interactions (") + kColumns +
      ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, "
      "?18, ?19, ?20, ?21, ?22, ?23, ?24) ON CONFLICT (id) DO NOTHING";
  if (sqlite3_prepare_v3(db_, insert.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &insert_, nullptr) !=
      SQLITE_OK) {
    auto r = fail("prepare insert");
    close();
    return r;
  }
  return {};
}

StoreResult SqliteStore::write(std::span<const Interaction> batch) {
  if (!db_ || !insert_) return {false, "sqlite: store is not open"};
  if (batch.empty()) return {};
  if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK)
    return fail("begin");
  for (const auto& r : batch) {
    sqlite3_stmt* s = insert_;
    sqlite3_reset(s);  // every parameter is bound below, so no clear_bindings
    const std::string timestamp = format_timestamp(r.timestamp);  // outlives the step (bound static)
    bind_text(s, 1, r.id);
    bind_text(s, 2, timestamp);
    bind_text(s, 3, r.agent_type);
    bind_opt(s, 4, r.tool);
    bind_text(s, 5, r.method);
    bind_text(s, 6, r.client);
    bind_opt(s, 7, r.session_hash);
    bind_opt(s, 8, r.input_hash);
    bind_opt(s, 9, r.output_hash);
    bind_text(s, 10, r.status);
    bind_opt(s, 11, r.error_code);
    bind_opt(s, 12, r.error_message);
    bind_opt(s, 13, r.output_quality);
    bind_opt(s, 14, r.precision_score);
    bind_opt(s, 15, r.agent_confidence);
    sqlite3_bind_int(s, 16, r.contradiction_applied ? 1 : 0);
    bind_text(s, 17, r.contradiction_level);
    sqlite3_bind_double(s, 18, r.latency_ms);
    bind_text(s, 19, r.latency_bucket);
    sqlite3_bind_int64(s, 20, r.request_bytes);
    sqlite3_bind_int64(s, 21, r.response_bytes);
    bind_opt(s, 22, r.trace_id);
    bind_opt(s, 23, r.input);
    bind_opt(s, 24, r.output);
    if (sqlite3_step(s) != SQLITE_DONE) {
      auto result = fail("insert");
      sqlite3_reset(s);
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      return result;
    }
  }
  sqlite3_reset(insert_);
  if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
    auto result = fail("commit");
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return result;
  }
  return {};
}

StoreResult SqliteStore::scan(const ScanRange& range,
                              const std::function<bool(const Interaction&)>& visit) {
  if (!db_) return {false, "sqlite: store is not open"};
  std::string sql = std::string("SELECT ") + kColumns + " FROM mcp_interactions";
  std::vector<std::string> bounds;
  // Rows hold whole milliseconds, so bounds round up: t >= 5.5 ms means t >= 6 ms, t < 5.5 means t
  // < 6.
  if (range.since) {
    sql += " WHERE timestamp >= ?1";
    bounds.push_back(format_timestamp(std::chrono::ceil<std::chrono::milliseconds>(*range.since)));
  }
  if (range.until) {
    sql += range.since ? " AND timestamp < ?2" : " WHERE timestamp < ?1";
    bounds.push_back(format_timestamp(std::chrono::ceil<std::chrono::milliseconds>(*range.until)));
  }
  sql += " ORDER BY timestamp, id";
  Statement q;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &q.stmt, nullptr) != SQLITE_OK)
    return fail("prepare scan");
  for (std::size_t i = 0; i < bounds.size(); ++i)
    bind_text(q.stmt, static_cast<int>(i + 1), bounds[i]);
  while (true) {
    int rc = sqlite3_step(q.stmt);
    if (rc == SQLITE_DONE) return {};
    if (rc != SQLITE_ROW) return fail("scan");
    sqlite3_stmt* s = q.stmt;
    Interaction r;
    r.id = column_text(s, 0);
    auto ts = parse_timestamp(column_text(s, 1));
    if (!ts) return {false, "sqlite: row " + r.id + " has an unreadable timestamp"};
    r.timestamp = *ts;
    r.agent_type = column_text(s, 2);
    r.tool = column_opt_text(s, 3);
    r.method = column_text(s, 4);
    r.client = column_text(s, 5);
    r.session_hash = column_opt_text(s, 6);
    r.input_hash = column_opt_text(s, 7);
    r.output_hash = column_opt_text(s, 8);
    r.status = column_text(s, 9);
    r.error_code = column_opt_int(s, 10);
    r.error_message = column_opt_text(s, 11);
    r.output_quality = column_opt_double(s, 12);
    r.precision_score = column_opt_double(s, 13);
    r.agent_confidence = column_opt_double(s, 14);
    r.contradiction_applied = sqlite3_column_int(s, 15) != 0;
    r.contradiction_level = column_text(s, 16);
    r.latency_ms = sqlite3_column_double(s, 17);
    r.latency_bucket = column_text(s, 18);
    r.request_bytes = sqlite3_column_int64(s, 19);
    r.response_bytes = sqlite3_column_int64(s, 20);
    r.trace_id = column_opt_text(s, 21);
    r.input = column_opt_text(s, 22);
    r.output = column_opt_text(s, 23);
    if (!visit(r)) return {};
  }
}

}  // namespace bastion::record

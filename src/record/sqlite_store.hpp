#pragma once
// SQLite behind the recorder (store.url "sqlite://…"): WAL journal, synchronous=NORMAL,
// busy_timeout, versioned migrations in `schema_migrations`. Timestamps are format_timestamp()
// text so they sort; booleans are 0/1.
#include <chrono>
#include <cstdint>
#include <string>

#include "record/interaction.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace bastion::record {

struct SqliteOptions {
  std::chrono::milliseconds busy_timeout{5'000};  // bounds every wait on another writer's lock
  bool create_parent_dir = true;                  // mkdir -p the file's directory on open()
};

// The newest schema version this build knows (1 = mcp_interactions and its indexes).
inline constexpr std::int64_t kSqliteSchemaVersion = 1;

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(std::string path, SqliteOptions options = {});
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  std::string_view kind() const override { return "sqlite"; }
  // Idempotent: opens once, then returns ok. Refuses a database whose schema is newer than ours.
  StoreResult open() override;
  StoreResult write(std::span<const Interaction> batch) override;
  StoreResult scan(const ScanRange& range,
                   const std::function<bool(const Interaction&)>& visit) override;
  std::int64_t schema_version() const override { return version_; }

  const std::string& path() const { return path_; }

 private:
  StoreResult fail(std::string_view what);
  void close();

  std::string path_;
  SqliteOptions options_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  std::int64_t version_ = 0;
};

}  // namespace bastion::record

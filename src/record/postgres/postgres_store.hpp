#pragma once
// The interaction log in PostgreSQL (15) through libpq: versioned migrations guarded by an
// advisory lock, idempotent batched writes in one transaction, scans streamed through a cursor.
// Calls block the calling thread; each one is bounded by the configured timeouts.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "record/interaction.hpp"

namespace bastion::record {

struct PostgresConfig {
  // postgres://user@host:port/db?sslmode=... (or postgresql://). A password in the URL is
  // rejected: it comes from password_file only.
  std::string url;
  // Read at every (re)connect, so a rotated secret is picked up; one trailing newline is trimmed.
  std::optional<std::string> password_file;
  // Per connection attempt; libpq counts whole seconds, at least 2.
  std::chrono::milliseconds connect_timeout{5'000};
  // Server-side limit on every statement of the session (writes, migrations, each FETCH). The
  // client also gives up on a reply after statement_timeout + connect_timeout and drops the
  // connection, so a silent network cannot hang a call.
  std::chrono::milliseconds statement_timeout{10'000};
};

// Not thread-safe: used from one thread at a time (see Store). Keeps one connection, opened on
// first use and reopened by the next call after it breaks.
class PostgresStore final : public Store {
 public:
  static constexpr std::int64_t kLatestSchemaVersion = 1;

  explicit PostgresStore(PostgresConfig config);
  ~PostgresStore() override;
  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;

  std::string_view kind() const override { return "postgres"; }
  StoreResult open() override;
  // Multi-row prepared INSERT ... ON CONFLICT (id) DO NOTHING in one transaction. A stale
  // connection (server restarted while idle) is retried once on a fresh one: safe, as the write
  // is idempotent. Text that PostgreSQL cannot hold (invalid UTF-8, NUL) is stored with U+FFFD.
  StoreResult write(std::span<const Interaction> batch) override;
  // A read-only transaction with a server-side cursor, fetched 1000 rows at a time.
  StoreResult scan(const ScanRange& range,
                   const std::function<bool(const Interaction&)>& visit) override;
  std::int64_t schema_version() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bastion::record

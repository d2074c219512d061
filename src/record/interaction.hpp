#pragma once
// One row of the interaction log (ARCHITECTURE §6) and the interface every database behind the
// recorder implements. Pure data: no I/O, no Asio.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

namespace bastion::record {

using Clock = std::chrono::system_clock;

// Columns of `mcp_interactions`, identical in SQLite and PostgreSQL.
struct Interaction {
  // UUIDv7 text chosen by Bastion when the record is made: time-ordered, and the primary key,
  // so a batch replayed from the spool after a crash is written at most once (ON CONFLICT DO NOTHING).
  std::string id;
  Clock::time_point timestamp;                 // UTC, millisecond precision
  std::string agent_type;                      // upstream name ("" when none was chosen)
  std::optional<std::string> tool;             // tools/call only
  std::string method;
  std::string client = "anonymous";            // token name or "anonymous"
  std::optional<std::string> session_hash;     // SHA-256 hex of the session id
  std::optional<std::string> input_hash;       // SHA-256 hex of the JCS-canonical arguments
  std::optional<std::string> output_hash;      // SHA-256 hex of the JCS-canonical result
  std::string status = "ok";                   // ok|error|timeout|denied|rate_limited|unavailable
  std::optional<std::int64_t> error_code;
  std::optional<std::string> error_message;
  std::optional<double> output_quality;        // 0..1
  std::optional<double> precision_score;       // 0..1
  std::optional<double> agent_confidence;      // 0..1
  bool contradiction_applied = false;
  std::string contradiction_level = "none";    // none|mild|moderate|extreme
  double latency_ms = 0;
  std::string latency_bucket = "fast";         // fast|normal|slow|timeout
  std::int64_t request_bytes = 0;
  std::int64_t response_bytes = 0;
  std::optional<std::string> trace_id;         // W3C trace id, 32 hex
  std::optional<std::string> input;            // payloads, only when capture allows
  std::optional<std::string> output;

  bool operator==(const Interaction&) const = default;
};

struct StoreResult {
  bool ok = true;
  std::string error;  // never contains a password or connection secret
};

struct ScanRange {
  std::optional<Clock::time_point> since;  // inclusive
  std::optional<Clock::time_point> until;  // exclusive
};

// A database behind the recorder. Used from one thread at a time (the recorder's writer thread,
// or an export run), so implementations need no locking of their own.
class Store {
 public:
  virtual ~Store() = default;
  virtual std::string_view kind() const = 0;  // "sqlite" | "postgres"
  // Connects if needed and applies pending schema migrations (versioned, idempotent).
  virtual StoreResult open() = 0;
  // Writes the batch in one transaction; rows whose id already exists are skipped. A failure
  // leaves nothing written, so the caller can retry or spool the whole batch.
  virtual StoreResult write(std::span<const Interaction> batch) = 0;
  // Visits rows with since <= timestamp < until in (timestamp, id) order, streaming (constant
  // memory). `visit` returns false to stop early.
  virtual StoreResult scan(const ScanRange& range,
                           const std::function<bool(const Interaction&)>& visit) = 0;
  virtual std::int64_t schema_version() const = 0;
};

}  // namespace bastion::record

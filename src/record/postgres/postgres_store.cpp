#include "record/postgres/postgres_store.hpp"

#include <libpq-fe.h>
#include <poll.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string_view>
#include <utility>
#include <vector>

#include "record/postgres/libpq_loader.hpp"
#include "record/postgres/postgres_wire.hpp"

namespace bastion::record {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using PgResult = std::unique_ptr<PGresult, decltype(&PQclear)>;

PgResult no_result() { return PgResult(nullptr, PQclear); }

// Type OIDs from pg_type.dat: fixed across PostgreSQL versions.
constexpr Oid kBoolOid = 16;
constexpr Oid kInt8Oid = 20;
constexpr Oid kTextOid = 25;
constexpr Oid kFloat8Oid = 701;
constexpr Oid kTimestamptzOid = 1184;

// Key of the transaction-scoped advisory lock that serialises migrations: "bastion" in ASCII.
constexpr std::int64_t kMigrationLockKey = 0x62617374696f6e;
constexpr int kFetchRows = 1000;
// Rows per prepared INSERT: 100 rows x 24 columns = 2,400 parameters (the protocol allows 65,535).
// Measured on 500-row batches, this was as fast as or faster than 50- or 500-row statements and
// than binary COPY into a temporary table followed by INSERT ... SELECT ... ON CONFLICT.
constexpr std::size_t kInsertChunkRows = 100;
constexpr const char* kInsertStatement = "bastion_insert_chunk";

struct Column {
  const char* name;
  Oid type;
};
// Order of INSERT parameters and SELECT lists alike.
constexpr std::array<Column, 24> kColumns{{
    {"id", kTextOid},
    {"\"timestamp\"", kTimestamptzOid},
    {"agent_type", kTextOid},
    {"tool", kTextOid},
    {"method", kTextOid},
    {"client", kTextOid},
    {"session_hash", kTextOid},
    {"input_hash", kTextOid},
    {"output_hash", kTextOid},
    {"status", kTextOid},
    {"error_code", kInt8Oid},
    {"error_message", kTextOid},
    {"output_quality", kFloat8Oid},
    {"precision_score", kFloat8Oid},
    {"agent_confidence", kFloat8Oid},
    {"contradiction_applied", kBoolOid},
    {"contradiction_level", kTextOid},
    {"latency_ms", kFloat8Oid},
    {"latency_bucket", kTextOid},
    {"request_bytes", kInt8Oid},
    {"response_bytes", kInt8Oid},
    {"trace_id", kTextOid},
    {"input", kTextOid},
    {"output", kTextOid},
}};
constexpr int kColumnCount = static_cast<int>(kColumns.size());

// Index = schema version. Never edit a released entry: add a new one.
constexpr const char* kMigrations[] = {
    nullptr,
    // 1: ARCHITECTURE §6. id sorts bytewise (COLLATE "C") like SQLite, so scans agree.
    R"sql(
CREATE TABLE mcp_interactions (
  id text COLLATE "C" PRIMARY KEY,
  "timestamp" timestamptz NOT NULL,
  agent_type text NOT NULL,
  tool text,
  method text NOT NULL,
  client text NOT NULL,
  session_hash text,
  input_hash text,
  output_hash text,
  status text NOT NULL
    CHECK (status IN ('ok', 'error', 'timeout', 'denied', 'rate_limited', 'unavailable')),
  error_code bigint,
  error_message text,
  output_quality double precision CHECK (output_quality BETWEEN 0 AND 1),
  precision_score double precision CHECK (precision_score BETWEEN 0 AND 1),
  agent_confidence double precision CHECK (agent_confidence BETWEEN 0 AND 1),
  contradiction_applied boolean NOT NULL,
  contradiction_level text NOT NULL
    CHECK (contradiction_level IN ('none', 'mild', 'moderate', 'extreme')),
  latency_ms double precision NOT NULL,
  latency_bucket text NOT NULL CHECK (latency_bucket IN ('fast', 'normal', 'slow', 'timeout')),
  request_bytes bigint NOT NULL,
  response_bytes bigint NOT NULL,
  trace_id text,
  input text,
  output text
);
CREATE INDEX mcp_interactions_timestamp_idx ON mcp_interactions ("timestamp", id);
CREATE INDEX mcp_interactions_tool_input_idx ON mcp_interactions (tool, input_hash);
)sql",
};
static_assert(std::size(kMigrations) == PostgresStore::kLatestSchemaVersion + 1);

std::string column_list() {
  std::string out;
  for (const Column& column : kColumns) {
    if (!out.empty()) out += ", ";
    out += column.name;
  }
  return out;
}

std::string insert_sql(std::size_t rows) {
  std::string sql = "INSERT INTO mcp_interactions (" + column_list() + ") VALUES ";
  int parameter = 1;
  for (std::size_t row = 0; row < rows; ++row) {
    sql += row == 0 ? "(" : ", (";
    for (int column = 0; column < kColumnCount; ++column) {
      if (column > 0) sql += ", ";
      sql += '$';
      sql += std::to_string(parameter++);
    }
    sql += ')';
  }
  sql += " ON CONFLICT (id) DO NOTHING";
  return sql;
}

// Binary parameter values for a multi-row INSERT, all in one buffer.
class ParamBuffer {
 public:
  void null() {
    offsets_.push_back(0);
    lengths_.push_back(-1);
  }
  void value(std::string_view bytes) {
    offsets_.push_back(data_.size());
    lengths_.push_back(static_cast<int>(bytes.size()));
    data_.append(bytes);
  }
  std::string& scratch() { return scratch_; }

  int count() const { return static_cast<int>(lengths_.size()); }
  // Pointers are taken only once the buffer no longer grows.
  void finish() {
    values_.clear();
    for (std::size_t i = 0; i < offsets_.size(); ++i) {
      values_.push_back(lengths_[i] < 0 ? nullptr : data_.data() + offsets_[i]);
    }
    formats_.assign(offsets_.size(), 1);
  }
  const char* const* values() const { return values_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  std::string data_;
  std::string scratch_;
  std::vector<std::size_t> offsets_;
  std::vector<int> lengths_;
  std::vector<const char*> values_;
  std::vector<int> formats_;
};

// Appends one row's 24 fields, in kColumns order, as binary values.
template <class Sink>
void encode_row(const Interaction& row, Sink& sink) {
  std::string& scratch = sink.scratch();
  const auto text = [&](std::string_view value) {
    if (pg::is_storable_text(value)) {
      sink.value(value);
    } else {
      sink.value(pg::to_storable_text(value));
    }
  };
  const auto optional_text = [&](const std::optional<std::string>& value) {
    value ? text(*value) : sink.null();
  };
  const auto int8 = [&](std::int64_t value) {
    scratch.clear();
    pg::put_i64(scratch, value);
    sink.value(scratch);
  };
  const auto float8 = [&](double value) {
    scratch.clear();
    pg::put_f64(scratch, value);
    sink.value(scratch);
  };
  const auto optional_float8 = [&](const std::optional<double>& value) {
    value ? float8(*value) : sink.null();
  };
  text(row.id);
  int8(pg::to_pg_micros(row.timestamp));
  text(row.agent_type);
  optional_text(row.tool);
  text(row.method);
  text(row.client);
  optional_text(row.session_hash);
  optional_text(row.input_hash);
  optional_text(row.output_hash);
  text(row.status);
  row.error_code ? int8(*row.error_code) : sink.null();
  optional_text(row.error_message);
  optional_float8(row.output_quality);
  optional_float8(row.precision_score);
  optional_float8(row.agent_confidence);
  sink.value(row.contradiction_applied ? std::string_view("\x01", 1) : std::string_view("\x00", 1));
  text(row.contradiction_level);
  float8(row.latency_ms);
  text(row.latency_bucket);
  int8(row.request_bytes);
  int8(row.response_bytes);
  optional_text(row.trace_id);
  optional_text(row.input);
  optional_text(row.output);
}

// Fills `row` from one FETCH result row in binary format; false if a field has an unexpected shape.
bool decode_row(const PGresult* result, int index, Interaction& row) {
  bool ok = true;
  const auto is_null = [&](int column) { return PQgetisnull(result, index, column) != 0; };
  const auto bytes = [&](int column) {
    return std::string_view(PQgetvalue(result, index, column),
                            static_cast<std::size_t>(PQgetlength(result, index, column)));
  };
  const auto fixed = [&](int column, int width) -> const char* {
    if (is_null(column) || PQgetlength(result, index, column) != width) {
      ok = false;
      return nullptr;
    }
    return PQgetvalue(result, index, column);
  };
  const auto text = [&](int column, std::string& out) {
    if (is_null(column)) ok = false;
    out.assign(bytes(column));
  };
  const auto optional_text = [&](int column, std::optional<std::string>& out) {
    if (is_null(column)) {
      out.reset();
    } else {
      out.emplace(bytes(column));
    }
  };
  const auto int8 = [&](int column) {
    const char* value = fixed(column, 8);
    return value ? pg::get_i64(value) : 0;
  };
  const auto float8 = [&](int column) {
    const char* value = fixed(column, 8);
    return value ? pg::get_f64(value) : 0.0;
  };
  const auto optional_float8 = [&](int column, std::optional<double>& out) {
    if (is_null(column)) {
      out.reset();
    } else {
      out = float8(column);
    }
  };
  text(0, row.id);
  row.timestamp = pg::from_pg_micros(int8(1));
  text(2, row.agent_type);
  optional_text(3, row.tool);
  text(4, row.method);
  text(5, row.client);
  optional_text(6, row.session_hash);
  optional_text(7, row.input_hash);
  optional_text(8, row.output_hash);
  text(9, row.status);
  if (is_null(10)) {
    row.error_code.reset();
  } else {
    row.error_code = int8(10);
  }
  optional_text(11, row.error_message);
  optional_float8(12, row.output_quality);
  optional_float8(13, row.precision_score);
  optional_float8(14, row.agent_confidence);
  const char* applied = fixed(15, 1);
  row.contradiction_applied = applied != nullptr && *applied != 0;
  text(16, row.contradiction_level);
  row.latency_ms = float8(17);
  text(18, row.latency_bucket);
  row.request_bytes = int8(19);
  row.response_bytes = int8(20);
  optional_text(21, row.trace_id);
  optional_text(22, row.input);
  optional_text(23, row.output);
  return ok;
}

// The password part of a URL's userinfo, to keep it out of parse errors.
std::string url_password(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return {};
  const std::string_view rest = url.substr(scheme_end + 3);
  const auto at = rest.rfind('@', rest.find_first_of("/?"));
  if (at == std::string_view::npos) return {};
  const std::string_view userinfo = rest.substr(0, at);
  const auto colon = userinfo.find(':');
  return colon == std::string_view::npos ? std::string() : std::string(userinfo.substr(colon + 1));
}

void log_notice(void*, const PGresult* result) {
  spdlog::debug("postgres notice: {}", pg::clean_message(PQresultErrorMessage(result), {}));
}

}  // namespace

struct PostgresStore::Impl {
  PostgresConfig config;
  std::string config_error;
  PGconn* conn = nullptr;
  std::string secret;  // the password in use, only to scrub messages
  bool migrated = false;
  std::int64_t version = 0;
  bool prepared = false;   // kInsertStatement exists on this connection
  bool timed_out = false;  // the last failure was the client-side reply deadline
  std::string chunk_sql = insert_sql(kInsertChunkRows);
  std::string fetch_sql = "FETCH " + std::to_string(kFetchRows) + " FROM bastion_scan";

  explicit Impl(PostgresConfig c) : config(std::move(c)) {
    lowercase_scheme();
    validate_url();
  }

  // libpq only knows the lowercase schemes; the config may say "PostgreSQL://".
  void lowercase_scheme() {
    const auto end = config.url.find("://");
    if (end == std::string::npos) return;
    for (std::size_t i = 0; i < end; ++i) {
      const char c = config.url[i];
      if (c >= 'A' && c <= 'Z') config.url[i] = static_cast<char>(c - 'A' + 'a');
    }
  }
  ~Impl() { drop(); }

  void validate_url() {
    const std::string_view url = config.url;
    if (!url.starts_with("postgres://") && !url.starts_with("postgresql://")) {
      config_error = "postgres: store url must start with postgres:// or postgresql://";
      return;
    }
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(config.url.c_str(), &error);
    if (options == nullptr) {
      config_error = "postgres: invalid store url: " +
                     pg::clean_message(error ? error : "out of memory", url_password(url));
      PQfreemem(error);
      return;
    }
    for (PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
      if (std::strcmp(option->keyword, "password") == 0 && option->val != nullptr &&
          *option->val != '\0') {
        config_error = "postgres: the store url must not contain a password; use password_file";
      }
    }
    PQconninfoFree(options);
  }

  StoreResult fail(std::string_view what, std::string_view message) const {
    return StoreResult{false,
                       "postgres " + std::string(what) + ": " + pg::clean_message(message, secret)};
  }

  bool healthy() const { return conn != nullptr && PQstatus(conn) == CONNECTION_OK; }

  // Closes without waiting on a socket that may be stuck.
  void drop() {
    if (conn != nullptr) {
      PQsetnonblocking(conn, 1);
      PQfinish(conn);
      conn = nullptr;
    }
    prepared = false;
  }

  milliseconds reply_budget() const { return config.statement_timeout + config.connect_timeout; }

  StoreResult read_password(std::string& password) const {
    std::ifstream file(*config.password_file, std::ios::binary);
    if (!file) {
      return StoreResult{false, "postgres connect: cannot read password_file " +
                                    *config.password_file + ": " + std::strerror(errno)};
    }
    password.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
    if (password.ends_with("\r\n")) {
      password.resize(password.size() - 2);
    } else if (password.ends_with('\n')) {
      password.pop_back();
    }
    return {};
  }

  StoreResult connect() {
    drop();
    if (!config_error.empty()) return StoreResult{false, config_error};
    std::string password;
    if (config.password_file) {
      if (auto read = read_password(password); !read.ok) return read;
    }
    secret = password;
    const auto seconds = std::max<std::int64_t>(1, (config.connect_timeout.count() + 999) / 1000);
    const std::string connect_timeout = std::to_string(seconds);
    // Also bounds a send into a dead peer (the kernel gives up on unacknowledged data).
    const std::string tcp_user_timeout = std::to_string(reply_budget().count());
    // Later keywords override what the URL (expanded from dbname) says.
    std::vector<const char*> keys{"application_name", "dbname", "connect_timeout",
                                  "client_encoding", "tcp_user_timeout"};
    std::vector<const char*> values{"bastion", config.url.c_str(), connect_timeout.c_str(), "UTF8",
                                    tcp_user_timeout.c_str()};
    if (config.password_file) {
      keys.push_back("password");
      values.push_back(password.c_str());
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);
    conn = PQconnectdbParams(keys.data(), values.data(), 1);
    if (conn == nullptr) {
      const auto& problem = pg::libpq_problem();
      return StoreResult{false, "postgres connect: " + (problem.empty() ? std::string("out of memory") : problem)};
    }
    if (PQstatus(conn) != CONNECTION_OK) {
      auto result = fail("connect", PQerrorMessage(conn));
      drop();
      return result;
    }
    PQsetNoticeReceiver(conn, log_notice, nullptr);
    // Binary timestamps are int64 microseconds only with integer datetimes (always, since 10).
    const char* integer_datetimes = PQparameterStatus(conn, "integer_datetimes");
    const char* encoding = PQparameterStatus(conn, "server_encoding");
    if (integer_datetimes == nullptr || std::strcmp(integer_datetimes, "on") != 0) {
      drop();
      return StoreResult{false, "postgres connect: server without integer datetimes"};
    }
    if (encoding == nullptr || std::strcmp(encoding, "UTF8") != 0) {
      drop();
      return StoreResult{false,
                         std::string("postgres connect: database encoding must be UTF8, not ") +
                             (encoding ? encoding : "unknown")};
    }
    const auto statement_ms = std::max<std::int64_t>(1, config.statement_timeout.count());
    const std::string set = "SET statement_timeout = " + std::to_string(statement_ms);
    if (auto result = exec("connect", set.c_str()); !result.ok) {
      drop();
      return result;
    }
    return {};
  }

  // Connects when there is no usable connection and applies migrations once.
  StoreResult ensure_ready(bool& fresh) {
    fresh = false;
    if (!healthy()) {
      if (conn != nullptr) spdlog::warn("postgres: connection lost, reconnecting");
      if (auto result = connect(); !result.ok) return result;
      fresh = true;
    } else if (PQtransactionStatus(conn) != PQTRANS_IDLE) {
      rollback_quietly();
      if (!healthy()) return ensure_ready(fresh);
    }
    if (!migrated) return migrate();
    return {};
  }

  // Waits for the socket to become readable; false when the reply deadline passes.
  bool wait_readable(SteadyClock::time_point deadline) const {
    for (;;) {
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now());
      if (left.count() <= 0) return false;
      pollfd fd{PQsocket(conn), POLLIN, 0};
      const int ready =
          ::poll(&fd, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 60'000)));
      if (ready > 0) return true;
      if (ready < 0 && errno != EINTR) return true;  // let PQconsumeInput report the error
    }
  }

  // Collects every result of the command just sent; the last one goes to `last`.
  StoreResult wait_results(std::string_view what, PgResult* last) {
    timed_out = false;
    const auto deadline = SteadyClock::now() + reply_budget();
    std::string error;
    PgResult keep = no_result();
    for (;;) {
      while (PQisBusy(conn)) {
        if (!wait_readable(deadline)) {
          drop();
          timed_out = true;
          return fail(what, "no reply within " + std::to_string(reply_budget().count()) +
                                " ms; connection dropped");
        }
        if (PQconsumeInput(conn) == 0) {
          auto result = fail(what, PQerrorMessage(conn));
          drop();
          return result;
        }
      }
      PgResult result(PQgetResult(conn), PQclear);
      if (!result) break;
      const ExecStatusType status = PQresultStatus(result.get());
      if ((status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE) && error.empty()) {
        error = describe(result.get());
      }
      keep = std::move(result);
    }
    if (!error.empty()) {
      if (!healthy()) drop();
      return fail(what, error);
    }
    if (last != nullptr) *last = std::move(keep);
    return {};
  }

  static std::string describe(const PGresult* result) {
    // Only the primary message: DETAIL may quote the failing row, payloads included.
    const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
    const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    if (primary == nullptr) return PQresultErrorMessage(result);
    std::string text = primary;
    if (state != nullptr) text += std::string(" (SQLSTATE ") + state + ")";
    return text;
  }

  StoreResult sent(int ok, std::string_view what, PgResult* last) {
    if (ok == 0) {
      auto result = fail(what, PQerrorMessage(conn));
      if (!healthy()) drop();
      return result;
    }
    return wait_results(what, last);
  }

  // Simple protocol: may hold several statements; no parameters.
  StoreResult exec(std::string_view what, const char* sql, PgResult* last = nullptr) {
    return sent(PQsendQuery(conn, sql), what, last);
  }

  StoreResult exec_params(std::string_view what, const char* sql, const ParamBuffer* params,
                          const Oid* types, int result_format, PgResult* last = nullptr) {
    return sent(
        PQsendQueryParams(conn, sql, params ? params->count() : 0, types,
                          params ? params->values() : nullptr, params ? params->lengths() : nullptr,
                          params ? params->formats() : nullptr, result_format),
        what, last);
  }

  void rollback_quietly() {
    if (!healthy()) return;
    const auto state = PQtransactionStatus(conn);
    if (state == PQTRANS_INTRANS || state == PQTRANS_INERROR) {
      (void)exec("rollback", "ROLLBACK");
    } else if (state != PQTRANS_IDLE) {
      drop();  // a command still running or an unknown state: start over
    }
  }

  StoreResult migrate() {
    PgResult current_result = no_result();
    const std::string lock =
        "SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLockKey) + ")";
    StoreResult result = exec("migrate", "BEGIN");
    if (result.ok) result = exec("migrate", lock.c_str());
    if (result.ok) {
      result = exec("migrate",
                    "CREATE TABLE IF NOT EXISTS bastion_schema_migrations ("
                    "version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
    }
    if (result.ok) {
      result = exec("migrate", "SELECT coalesce(max(version), 0) FROM bastion_schema_migrations",
                    &current_result);
    }
    std::int64_t current = 0;
    if (result.ok) {
      if (!current_result || PQntuples(current_result.get()) != 1) {
        result =
            StoreResult{false, "postgres migrate: unexpected reply reading the schema version"};
      } else {
        current = std::strtoll(PQgetvalue(current_result.get(), 0, 0), nullptr, 10);
      }
    }
    for (std::int64_t next = current + 1; result.ok && next <= kLatestSchemaVersion; ++next) {
      const std::string what = "migration " + std::to_string(next);
      result = exec(what, kMigrations[next]);
      if (result.ok) {
        const std::string record =
            "INSERT INTO bastion_schema_migrations (version, applied_at) VALUES (" +
            std::to_string(next) + ", now())";
        result = exec(what, record.c_str());
      }
    }
    if (result.ok) result = exec("migrate", "COMMIT");
    if (!result.ok) {
      rollback_quietly();
      return result;
    }
    if (current < kLatestSchemaVersion) {
      spdlog::info("postgres: schema migrated from version {} to {}", current,
                   kLatestSchemaVersion);
    } else if (current > kLatestSchemaVersion) {
      spdlog::warn("postgres: schema version {} is newer than this build's {}", current,
                   kLatestSchemaVersion);
    }
    version = std::max(current, kLatestSchemaVersion);
    migrated = true;
    return {};
  }

  StoreResult insert(std::span<const Interaction> rows) {
    ParamBuffer params;
    for (const Interaction& row : rows) encode_row(row, params);
    params.finish();
    std::vector<Oid> types;
    types.reserve(rows.size() * kColumns.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
      for (const Column& column : kColumns) types.push_back(column.type);
    }
    if (rows.size() != kInsertChunkRows) {
      const std::string sql = insert_sql(rows.size());
      return exec_params("write", sql.c_str(), &params, types.data(), 0);
    }
    if (!prepared) {
      auto result = sent(PQsendPrepare(conn, kInsertStatement, chunk_sql.c_str(),
                                       static_cast<int>(types.size()), types.data()),
                         "write", nullptr);
      if (!result.ok) return result;
      prepared = true;
    }
    return sent(PQsendQueryPrepared(conn, kInsertStatement, params.count(), params.values(),
                                    params.lengths(), params.formats(), 0),
                "write", nullptr);
  }

  StoreResult write_once(std::span<const Interaction> batch) {
    StoreResult result = exec("write", "BEGIN");
    for (std::size_t at = 0; result.ok && at < batch.size(); at += kInsertChunkRows) {
      result = insert(batch.subspan(at, std::min(kInsertChunkRows, batch.size() - at)));
    }
    if (result.ok) result = exec("write", "COMMIT");
    if (!result.ok) rollback_quietly();
    return result;
  }

  StoreResult scan_once(const ScanRange& range,
                        const std::function<bool(const Interaction&)>& visit, bool& visited) {
    ParamBuffer params;
    std::vector<Oid> types;
    std::string sql = "DECLARE bastion_scan NO SCROLL CURSOR FOR SELECT " + column_list() +
                      " FROM mcp_interactions";
    std::string scratch;
    const auto bound = [&](const char* condition, Clock::time_point time) {
      scratch.clear();
      pg::put_i64(scratch, pg::to_pg_micros(time));
      params.value(scratch);
      types.push_back(kTimestamptzOid);
      sql += types.size() == 1 ? " WHERE " : " AND ";
      sql += condition;
      sql += std::to_string(types.size());
    };
    if (range.since) bound("\"timestamp\" >= $", *range.since);
    if (range.until) bound("\"timestamp\" < $", *range.until);
    sql += " ORDER BY \"timestamp\", id";
    params.finish();

    StoreResult result = exec("scan", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (result.ok) result = exec_params("scan", sql.c_str(), &params, types.data(), 0);
    Interaction row;
    bool more = true;
    while (result.ok && more) {
      PgResult batch = no_result();
      result = exec_params("scan", fetch_sql.c_str(), nullptr, nullptr, 1, &batch);
      if (!result.ok) break;
      const int rows = batch ? PQntuples(batch.get()) : 0;
      if (rows == 0) break;
      if (PQnfields(batch.get()) != kColumnCount) {
        result = StoreResult{false, "postgres scan: unexpected column count"};
        break;
      }
      for (int i = 0; i < rows && more; ++i) {
        if (!decode_row(batch.get(), i, row)) {
          result = StoreResult{false, "postgres scan: unexpected value format in row " + row.id};
          break;
        }
        visited = true;
        try {
          more = visit(row);
        } catch (...) {
          rollback_quietly();
          throw;
        }
      }
      if (rows < kFetchRows) break;
    }
    if (result.ok) result = exec("scan", "COMMIT");
    if (!result.ok) rollback_quietly();
    return result;
  }
};

PostgresStore::PostgresStore(PostgresConfig config)
    : impl_(std::make_unique<Impl>(std::move(config))) {}

PostgresStore::~PostgresStore() = default;

std::int64_t PostgresStore::schema_version() const { return impl_->version; }

StoreResult PostgresStore::open() {
  impl_->migrated = false;  // check the schema again: another process may have moved it
  bool fresh = false;
  return impl_->ensure_ready(fresh);
}

StoreResult PostgresStore::write(std::span<const Interaction> batch) {
  if (batch.empty()) return {};
  bool fresh = false;
  if (auto ready = impl_->ensure_ready(fresh); !ready.ok) return ready;
  StoreResult result = impl_->write_once(batch);
  // A connection that died while idle fails on first use: one retry on a new one is safe
  // (idempotent write) and bounded. A timed-out reply is not retried.
  if (!result.ok && !fresh && impl_->conn == nullptr && !impl_->timed_out) {
    spdlog::warn("{}; retrying once on a new connection", result.error);
    if (auto ready = impl_->ensure_ready(fresh); !ready.ok) return ready;
    result = impl_->write_once(batch);
  }
  return result;
}

StoreResult PostgresStore::scan(const ScanRange& range,
                                const std::function<bool(const Interaction&)>& visit) {
  bool fresh = false;
  if (auto ready = impl_->ensure_ready(fresh); !ready.ok) return ready;
  bool visited = false;
  StoreResult result = impl_->scan_once(range, visit, visited);
  if (!result.ok && !visited && !fresh && impl_->conn == nullptr && !impl_->timed_out) {
    if (auto ready = impl_->ensure_ready(fresh); !ready.ok) return ready;
    result = impl_->scan_once(range, visit, visited);
  }
  return result;
}

}  // namespace bastion::record

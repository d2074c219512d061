#include "app/recording.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <iostream>

#include "record/export/dataset_export.hpp"
#include "record/time_format.hpp"

#include "core/secrets.hpp"
#include "record/canonical_json.hpp"
#include "record/postgres/postgres_store.hpp"
#include "record/sqlite_store.hpp"
#include "record/store_url.hpp"
#include "record/uuid.hpp"

namespace bastion::app {

namespace {

record::CaptureConfig capture_config(const core::StoreConfig& s) {
  record::CaptureConfig c;
  c.mode = s.capture == core::StoreConfig::Capture::hashed     ? record::CaptureMode::hashed
           : s.capture == core::StoreConfig::Capture::redacted ? record::CaptureMode::redacted
                                                               : record::CaptureMode::full;
  c.redact_paths = s.redact_paths;
  c.max_payload_bytes = std::max<std::size_t>(s.max_payload_bytes, record::kMinPayloadCap);
  return c;
}

record::TagConfig tag_config(const core::TagsConfig& t) {
  record::TagConfig c;
  c.fast = t.fast;
  c.normal = t.normal;
  c.slow = t.slow;
  c.mild = t.mild;
  c.moderate = t.moderate;
  c.extreme = t.extreme;
  return c;
}

}  // namespace

std::string store_url(const core::Config& config) {
  // The default database lives in the data directory, wherever that is configured.
  if (config.store.url == core::StoreConfig{}.url) return "sqlite://" + config.data_dir + "/interactions.db";
  return config.store.url;
}

std::variant<std::unique_ptr<record::Store>, std::string> open_store(const core::Config& config) {
  std::string url = store_url(config);
  auto parsed = record::parse_store_url(url);
  if (!parsed) return std::string("store.url: not a sqlite:// or postgres:// URL");
  if (parsed->kind == record::StoreKind::sqlite) {
    return std::unique_ptr<record::Store>(std::make_unique<record::SqliteStore>(parsed->path));
  }
  record::PostgresConfig pg;
  pg.url = url;
  pg.password_file = core::secret_file_path(config.store.password_file, "STORE_PASSWORD");
  if (pg.password_file) {
    auto secret = core::read_secret_file(*pg.password_file);  // registered for log masking
    if (!secret.value) return secret.error;
  }
  return std::unique_ptr<record::Store>(std::make_unique<record::PostgresStore>(pg));
}

RowBuilder::RowBuilder(const core::Config& config)
    : tags_(tag_config(config.tags)), capture_(capture_config(config.store)) {}

InteractionWriter::InteractionWriter(const core::Config& config, std::unique_ptr<record::InteractionRecorder> recorder)
    : rows_(config), recorder_(std::move(recorder)) {}

record::Interaction RowBuilder::to_row(const mcp::InteractionRecord& r) const {
  record::Interaction row;
  row.id = record::make_uuid_v7();
  row.timestamp = r.timestamp;
  row.agent_type = r.upstream;
  if (!r.tool.empty()) row.tool = r.tool;
  row.method = r.method;
  row.client = r.client;
  if (!r.session_id.empty()) row.session_hash = record::sha256_hex(r.session_id);
  if (r.method == "tools/call") {
    // The same call hashes the same whatever its key order (RFC 8785).
    row.input_hash = record::canonical_hash(r.arguments.is_null() ? boost::json::value(boost::json::object{}) : r.arguments);
  }
  if (!r.result.is_null()) row.output_hash = record::canonical_hash(r.result);
  row.status = r.status.empty() ? "ok" : r.status;
  if (r.error_code != 0) row.error_code = r.error_code;
  if (!r.error_message.empty()) row.error_message = r.error_message;
  row.latency_ms = r.latency_ms;
  record::tag_latency(row, r.latency_ms, r.timed_out, tags_);
  if (!r.result.is_null()) record::tag_result(row, r.result, tags_, tag_stats_);
  row.request_bytes = static_cast<std::int64_t>(r.request_bytes);
  row.response_bytes = static_cast<std::int64_t>(r.response_bytes);
  if (!r.trace_id.empty()) row.trace_id = r.trace_id;
  if (capture_.config().mode != record::CaptureMode::hashed) {
    if (!r.arguments.is_null()) row.input = capture_.capture(r.arguments);
    if (!r.result.is_null()) row.output = capture_.capture(r.result);
  }
  return row;
}

std::variant<std::unique_ptr<InteractionWriter>, std::string> start_recording(const core::Config& config) {
  auto capture = capture_config(config.store);
  if (auto error = record::capture_config_error(capture)) return "store: " + *error;
  auto store = open_store(config);
  if (auto* e = std::get_if<std::string>(&store)) return *e;
  record::RecorderConfig rc;
  rc.queue_capacity = config.store.queue;
  rc.batch = config.store.batch;
  rc.flush_interval = config.store.flush_interval;
  // Replies wait for their rows: a batch is what queued while the last one was committed, plus
  // at most the group_commit window.
  if (config.store.durability == core::StoreConfig::Durability::sync) rc.fill_wait = config.store.group_commit;
  rc.spool.dir = config.store.spool_dir.empty() ? config.data_dir + "/spool" : config.store.spool_dir;
  rc.spool.max_bytes = config.store.spool_max_bytes;
  // A database back from an outage is noticed within seconds, so the spool drains promptly.
  rc.backoff_max = std::chrono::seconds(5);
  auto recorder = std::make_unique<record::InteractionRecorder>(std::move(std::get<0>(store)), rc);
  if (auto started = recorder->start(); !started.ok) return "recorder: " + started.error;
  spdlog::info("recording interactions to {} (capture {}), spool {}", recorder->stats().store_up ? "the store" : "the spool (store down)",
               record::to_string(capture.mode), rc.spool.dir.string());
  return std::make_unique<InteractionWriter>(config, std::move(recorder));
}

int run_export(const core::Config& config, const std::string& out_dir, const std::string& since,
               const std::string& until, std::string_view version) {
  record::ExportOptions options;
  options.out_dir = out_dir;
  options.quality_threshold = config.tags.quality_threshold;
  options.slow_ms = static_cast<double>(config.tags.slow.count());
  options.capture_mode = std::string(record::to_string(capture_config(config.store).mode));
  options.bastion_version = std::string(version);
  for (auto [text, target] : {std::pair{&since, &options.since}, std::pair{&until, &options.until}}) {
    if (text->empty()) continue;
    auto parsed = record::parse_timestamp(*text);
    if (!parsed) {
      std::cerr << "not a timestamp: " << *text << " (use e.g. 2026-11-28T00:00:00Z)\n";
      return 2;
    }
    *target = *parsed;
  }
  auto store = open_store(config);
  if (auto* e = std::get_if<std::string>(&store)) {
    std::cerr << *e << "\n";
    return 1;
  }
  return record::run_dataset_export(options, *std::get<0>(store), std::cerr, ::isatty(2) != 0);
}

}  // namespace bastion::app

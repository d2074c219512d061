#pragma once
// Turns the router's interaction records into knowledge-base rows (ids, canonical hashes, tags,
// captured payloads) and hands them to the recorder, which never blocks the request path.
#include <memory>
#include <string>
#include <variant>

#include "core/config.hpp"
#include "mcp/server/router.hpp"
#include "record/capture.hpp"
#include "record/recorder.hpp"
#include "record/tagger.hpp"

namespace bastion::app {

// The store URL the configuration names (the default SQLite file lives in data_dir).
std::string store_url(const core::Config& config);

// The store named by the configuration (SQLite path resolved against data_dir by default).
std::variant<std::unique_ptr<record::Store>, std::string> open_store(const core::Config& config);

// A record as a knowledge-base row: id, hashes, tags, captured payloads. Also what spans carry.
class RowBuilder {
 public:
  explicit RowBuilder(const core::Config& config);
  record::Interaction to_row(const mcp::InteractionRecord& r) const;
  const record::TagStats& tag_stats() const { return tag_stats_; }

 private:
  record::TagConfig tags_;
  record::PayloadCapture capture_;
  mutable record::TagStats tag_stats_;
};

class InteractionWriter {
 public:
  InteractionWriter(const core::Config& config, std::unique_ptr<record::InteractionRecorder> recorder);
  record::Interaction to_row(const mcp::InteractionRecord& r) const { return rows_.to_row(r); }
  void write(const mcp::InteractionRecord& r) { recorder_->submit(rows_.to_row(r)); }
  void write_row(record::Interaction row) { recorder_->submit(std::move(row)); }
  void write_row(record::Interaction row, record::InteractionRecorder::DurableCallback on_durable) {
    recorder_->submit(std::move(row), std::move(on_durable));
  }
  record::InteractionRecorder& recorder() { return *recorder_; }
  const record::TagStats& tag_stats() const { return rows_.tag_stats(); }

 private:
  RowBuilder rows_;
  std::unique_ptr<record::InteractionRecorder> recorder_;
};

std::variant<std::unique_ptr<InteractionWriter>, std::string> start_recording(const core::Config& config);

// `bastion dataset export`: reads the configured store (alongside a running gateway: SQLite WAL
// and PostgreSQL both allow it) and writes the datasets. Returns the process exit code.
int run_export(const core::Config& config, const std::string& out_dir, const std::string& since,
               const std::string& until, std::string_view version);

}  // namespace bastion::app

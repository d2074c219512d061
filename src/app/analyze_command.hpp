#pragma once
// `bastion analyze [-c FILE] [--window 1h] [--json]`: the bottleneck report. Asks the running
// gateway's admin API first (it has live memory and queueing); when that does not answer, reads
// the configured store itself and says that memory and queueing are left out.
#include <boost/json/value.hpp>
#include <chrono>
#include <iosfwd>
#include <optional>
#include <string>

#include "core/config.hpp"

namespace bastion::app {

struct AnalyzeOptions {
  std::string window = "1h";  // core::parse_duration text with a unit, 1 s .. 3650 d
  bool json = false;          // print to_json instead of to_text
  std::chrono::milliseconds connect_timeout{1'000};  // to the admin listener
  std::chrono::milliseconds reply_timeout{30'000};   // the gateway may scan the store too
};

// Exit codes: 0 report printed, 1 store error, 2 bad options.
int run_analyze(const core::Config& config, const AnalyzeOptions& options, std::ostream& out,
                std::ostream& err);

// The window as seconds, or nullopt (with `error` set) when the text is not a duration with a
// unit ("90s", "30m", "1h", "7d") within 1 s .. 3650 d.
std::optional<std::chrono::seconds> parse_window(const std::string& text, std::string& error);

struct LiveAnalysis {
  std::optional<boost::json::value> report;  // a version-1 report document
  std::string why_not;                       // set when report is empty
};
// GET http://<admin address>/api/v1/analysis?window=<n>s with the admin token (config
// listen.admin.token_file or BASTION_ADMIN_TOKEN_FILE) when one is configured.
LiveAnalysis fetch_live_analysis(const core::Config& config, std::chrono::seconds window,
                                 std::chrono::milliseconds connect_timeout,
                                 std::chrono::milliseconds reply_timeout);

}  // namespace bastion::app

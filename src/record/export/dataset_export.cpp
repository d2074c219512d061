#include "record/export/dataset_export.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <vector>

#include "record/export/json_lines.hpp"
#include "record/group_key.hpp"
#include "record/time_format.hpp"

namespace bastion::record {
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

using Steady = std::chrono::steady_clock;

constexpr std::size_t kMaxExamples = 5;
constexpr std::uint64_t kProgressEvery = 4096;  // rows between progress callbacks

double round1(double v) { return std::round(v * 10) / 10; }

std::string errno_text(int err) { return std::strerror(err); }

// One output file, written under a temporary name in out_dir and renamed into place only when
// the whole export succeeded, so a reader never sees a half-written dataset.
class OutFile {
 public:
  OutFile() = default;
  OutFile(const OutFile&) = delete;
  OutFile& operator=(const OutFile&) = delete;
  ~OutFile() { discard(); }

  bool open(const fs::path& dir, std::string_view name, std::string& error) {
    final_ = dir / name;
    // Appended piecewise: GCC 12 -O3 misreports `"." + std::string(name)` as overlapping memcpy.
    std::string leaf(".");
    leaf.append(name);
    leaf.append(".tmp-XXXXXX");
    std::string tmpl = (dir / leaf).string();
    int fd = ::mkstemp(tmpl.data());  // 0600: payloads may be sensitive
    if (fd < 0) {
      error = "cannot create " + tmpl + ": " + errno_text(errno);
      return false;
    }
    temp_ = tmpl;
    file_ = ::fdopen(fd, "w");
    if (file_ == nullptr) {
      error = "cannot open " + tmpl + ": " + errno_text(errno);
      ::close(fd);
      return false;
    }
    std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);
    return true;
  }

  bool write_line(std::string& line) {
    line += '\n';
    bool ok = std::fwrite(line.data(), 1, line.size(), file_) == line.size();
    line.pop_back();
    if (ok) ++lines_;
    return ok;
  }

  // Flush, fsync and close; the file keeps its temporary name until commit().
  bool close(std::string& error) {
    if (file_ == nullptr) return true;
    bool ok = std::fflush(file_) == 0 && ::fsync(::fileno(file_)) == 0;
    int err = errno;
    if (std::fclose(file_) != 0 && ok) {
      ok = false;
      err = errno;
    }
    file_ = nullptr;
    if (!ok) error = "cannot write " + temp_.string() + ": " + errno_text(err);
    return ok;
  }

  bool commit(std::string& error) {
    std::error_code ec;
    fs::rename(temp_, final_, ec);
    if (ec) {
      error = "cannot rename " + temp_.string() + " to " + final_.string() + ": " + ec.message();
      return false;
    }
    temp_.clear();
    return true;
  }

  void discard() {
    if (file_ != nullptr) {
      std::fclose(file_);
      file_ = nullptr;
    }
    if (!temp_.empty()) {
      std::error_code ec;
      fs::remove(temp_, ec);
      temp_.clear();
    }
  }

  std::uint64_t lines() const { return lines_; }

 private:
  fs::path final_;
  fs::path temp_;
  std::FILE* file_ = nullptr;
  std::uint64_t lines_ = 0;
};

json::value opt(const std::optional<std::string>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}

bool is_failure(std::string_view status) { return status != "ok"; }
// Rows that reached the upstream: their latency is the tool's latency.
bool reached_upstream(std::string_view status) {
  return status == "ok" || status == "error" || status == "timeout";
}

struct Candidate {
  bool present = false;
  double quality = 0;
  std::string id;
  std::string contradiction_level;
  std::optional<std::string> input;
  std::optional<std::string> output;
};

struct PairGroup {
  std::string tool;
  std::string input_hash;
  Candidate with;     // contradiction_applied
  Candidate without;
};

struct FailureGroup {
  std::string agent;
  std::optional<std::string> tool;
  std::string status;
  std::optional<std::int64_t> code;
  std::string message;
  std::uint64_t count = 0;
  Clock::time_point first, last;
  std::vector<std::string> examples;
  std::string tool_key;  // into ToolStats, for the share
};

struct RepeatGroup {
  std::string tool, input_hash, output_hash;
  std::uint64_t count = 0;
  Clock::time_point first, last;
};

struct ToolStats {
  std::string agent;
  std::optional<std::string> tool;
  std::uint64_t rows = 0;      // every row of this (agent, tool): the share denominator
  std::uint64_t timeouts = 0;
  LatencyHistogram latency;    // rows that reached the upstream
  std::uint64_t sized = 0;     // rows with a response (ok, error)
  std::uint64_t bytes_sum = 0;
  std::uint64_t bytes_max = 0;
  std::uint64_t oversized = 0;
};

class Exporter {
 public:
  explicit Exporter(const ExportOptions& options) : o_(options) {}

  bool open(std::string& error) {
    dir_ = o_.out_dir;
    std::error_code ec;
    if (!fs::exists(dir_, ec)) {
      if (dir_.has_parent_path()) fs::create_directories(dir_.parent_path(), ec);
      // 0700: the files may hold captured payloads.
      if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) {
        error = "cannot create " + dir_.string() + ": " + errno_text(errno);
        return false;
      }
    }
    if (!fs::is_directory(dir_, ec)) {
      error = dir_.string() + " is not a directory";
      return false;
    }
    return successful_.open(dir_, kSuccessfulFile, error) && pairs_.open(dir_, kPairsFile, error) &&
           failures_.open(dir_, kFailuresFile, error) &&
           opportunities_.open(dir_, kOpportunitiesFile, error) &&
           manifest_.open(dir_, kManifestFile, error);
  }

  // false when a write failed (the scan stops).
  bool visit(const Interaction& r) {
    if ((o_.since && r.timestamp < *o_.since) || (o_.until && r.timestamp >= *o_.until)) {
      ++outside_range_;  // the store should not send these; never trust it to
      return true;
    }
    ++rows_;
    if (rows_ == 1) {
      first_ts_ = last_ts_ = r.timestamp;
    } else {
      first_ts_ = std::min(first_ts_, r.timestamp);
      last_ts_ = std::max(last_ts_, r.timestamp);
    }
    const bool is_call = r.method == "tools/call" && r.tool.has_value();
    const bool ok = r.status == "ok";

    ToolStats* stats = tool_stats(r);
    if (stats != nullptr) {
      ++stats->rows;
      if (r.status == "timeout") ++stats->timeouts;
      if (reached_upstream(r.status)) stats->latency.add(r.latency_ms);
      if (ok || r.status == "error") {
        auto bytes = static_cast<std::uint64_t>(std::max<std::int64_t>(r.response_bytes, 0));
        ++stats->sized;
        stats->bytes_sum += bytes;
        stats->bytes_max = std::max(stats->bytes_max, bytes);
        if (bytes > o_.oversized_bytes) ++stats->oversized;
      }
    }

    if (is_call && ok) {
      if (r.output_quality && *r.output_quality < o_.quality_threshold) {
        ++low_quality_;
      } else if (!r.input || !r.output) {
        ++no_payload_;
      } else if (!write_successful(r)) {
        return false;
      }
      if (r.input_hash && r.output_quality) add_pair_candidate(r);
      if (r.input_hash && r.output_hash) add_repeat(r);
    }
    if (is_failure(r.status)) add_failure(r, stats);
    return true;
  }

  std::uint64_t rows() const { return rows_; }

  bool finish(Store& store, double seconds, ExportSummary& summary, std::string& error) {
    if (!write_pairs() || !write_failures() || !write_opportunities()) {
      error = "cannot write to " + dir_.string() + ": " + errno_text(errno);
      return false;
    }
    summary.rows_scanned = rows_;
    summary.successful = successful_.lines();
    summary.pairs = pairs_.lines();
    summary.failure_patterns = failures_.lines();
    summary.opportunities = opportunities_.lines();
    summary.skipped_no_payload = no_payload_;
    summary.pairs_skipped_no_payload = pairs_no_payload_;
    summary.group_overflow_rows = overflow_tools_ + overflow_pairs_ + overflow_repeats_ +
                                  overflow_failures_ + overflow_schemas_;
    summary.seconds = seconds;
    summary.manifest = manifest(store, summary);
    std::string text = to_json_text(summary.manifest);
    if (!manifest_.write_line(text)) {
      error = "cannot write the manifest: " + errno_text(errno);
      return false;
    }
    for (OutFile* f : files()) {
      if (!f->close(error)) return false;
    }
    // The manifest goes last: its presence says the data files beside it are complete.
    for (OutFile* f : files()) {
      if (!f->commit(error)) return false;
    }
    int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {  // make the renames durable; best effort
      ::fsync(dfd);
      ::close(dfd);
    }
    return true;
  }

 private:
  std::vector<OutFile*> files() {
    return {&successful_, &pairs_, &failures_, &opportunities_, &manifest_};
  }

  // A slot in one of the group tables, or nullptr (counted) when max_groups is reached.
  template <class Map>
  typename Map::mapped_type* slot(Map& map, std::string_view key, std::uint64_t& overflow,
                                  bool& created) {
    created = false;
    auto it = map.find(key);
    if (it != map.end()) return &it->second;
    if (groups_ >= o_.max_groups) {
      ++overflow;
      return nullptr;
    }
    ++groups_;
    created = true;
    return &map.try_emplace(std::string(key)).first->second;
  }

  ToolStats* tool_stats(const Interaction& r) {
    bool created = false;
    ToolStats* s = slot(tools_, probe_({r.agent_type, r.tool ? "t" : "-", r.tool ? *r.tool : ""}),
                        overflow_tools_, created);
    if (created) {
      s->agent = r.agent_type;
      s->tool = r.tool;
    }
    return s;
  }

  const std::string& tool_parameters(const Interaction& r) {
    static const std::string kAnyObject = R"({"type":"object"})";
    if (!o_.tool_schema || !*o_.tool_schema) return kAnyObject;
    auto it = schemas_.find(probe_({r.agent_type, *r.tool}));
    if (it != schemas_.end()) return it->second;
    auto schema = (*o_.tool_schema)(r.agent_type, *r.tool);
    std::string text = schema ? to_json_text(*schema) : kAnyObject;
    bool created = false;
    std::string* cached = slot(schemas_, probe_({r.agent_type, *r.tool}), overflow_schemas_, created);
    if (cached == nullptr) {
      uncached_schema_ = std::move(text);
      return uncached_schema_;
    }
    *cached = std::move(text);
    return *cached;
  }

  // Built by hand (no json::value per row): this is the per-row hot path.
  bool write_successful(const Interaction& r) {
    std::string& l = line_;
    l.clear();
    l += R"({"tools":[{"type":"function","function":{"name":)";
    append_json_string(l, *r.tool);
    l += R"(,"parameters":)";
    l += tool_parameters(r);
    l += R"(}}],"messages":[{"role":"assistant","tool_calls":[{"id":)";
    append_json_string(l, r.id);
    l += R"(,"type":"function","function":{"name":)";
    append_json_string(l, *r.tool);
    l += R"(,"arguments":)";
    append_json_string(l, *r.input);
    l += R"(}}]},{"role":"tool","tool_call_id":)";
    append_json_string(l, r.id);
    l += R"(,"content":)";
    append_json_string(l, *r.output);
    l += R"(}],"metadata":{"agent_type":)";
    append_json_string(l, r.agent_type);
    l += R"(,"tool":)";
    append_json_string(l, *r.tool);
    put(l, R"(,"input_hash":)", r.input_hash);
    put(l, R"(,"output_hash":)", r.output_hash);
    l += R"(,"latency_ms":)";
    append_json_number(l, r.latency_ms);
    l += R"(,"latency_bucket":)";
    append_json_string(l, r.latency_bucket);
    put(l, R"(,"output_quality":)", r.output_quality);
    put(l, R"(,"precision_score":)", r.precision_score);
    put(l, R"(,"agent_confidence":)", r.agent_confidence);
    l += R"(,"contradiction_level":)";
    append_json_string(l, r.contradiction_level);
    l += R"(,"timestamp":)";
    append_json_string(l, format_timestamp(r.timestamp));
    l += "}}";
    return successful_.write_line(l);
  }

  static void put(std::string& l, std::string_view name, const std::optional<std::string>& v) {
    l += name;
    if (v) append_json_string(l, *v); else l += "null";
  }
  static void put(std::string& l, std::string_view name, const std::optional<double>& v) {
    l += name;
    if (v) append_json_number(l, *v); else l += "null";
  }

  void add_pair_candidate(const Interaction& r) {
    bool created = false;
    PairGroup* g =
        slot(pair_groups_, probe_({*r.tool, *r.input_hash}), overflow_pairs_, created);
    if (g == nullptr) return;
    if (created) {
      g->tool = *r.tool;
      g->input_hash = *r.input_hash;
    }
    Candidate& c = r.contradiction_applied ? g->with : g->without;
    // Strictly better only: among equal qualities the earliest row stays.
    if (c.present && !(*r.output_quality > c.quality)) return;
    c.present = true;
    c.quality = *r.output_quality;
    c.id = r.id;
    c.contradiction_level = r.contradiction_level;
    c.input = r.input;
    c.output = r.output;
  }

  void add_repeat(const Interaction& r) {
    bool created = false;
    RepeatGroup* g = slot(repeats_, probe_({*r.tool, *r.input_hash, *r.output_hash}),
                          overflow_repeats_, created);
    if (g == nullptr) return;
    if (created) {
      g->tool = *r.tool;
      g->input_hash = *r.input_hash;
      g->output_hash = *r.output_hash;
      g->first = g->last = r.timestamp;
    }
    ++g->count;
    g->first = std::min(g->first, r.timestamp);
    g->last = std::max(g->last, r.timestamp);
  }

  void add_failure(const Interaction& r, const ToolStats* stats) {
    std::string message = r.error_message ? normalize_error_message(*r.error_message) : "";
    std::string code = r.error_code ? std::to_string(*r.error_code) : "-";
    bool created = false;
    FailureGroup* g = slot(failure_groups_,
                           probe_({r.agent_type, r.tool ? "t" : "-", r.tool ? *r.tool : "",
                                  r.status, code, message}),
                           overflow_failures_, created);
    if (g == nullptr) return;
    if (created) {
      g->agent = r.agent_type;
      g->tool = r.tool;
      g->status = r.status;
      g->code = r.error_code;
      g->message = std::move(message);
      g->first = g->last = r.timestamp;
      if (stats != nullptr) {
        g->tool_key = group_key({r.agent_type, r.tool ? "t" : "-", r.tool ? *r.tool : ""});
      }
    }
    ++g->count;
    g->first = std::min(g->first, r.timestamp);
    g->last = std::max(g->last, r.timestamp);
    if (r.input_hash && g->examples.size() < kMaxExamples &&
        std::find(g->examples.begin(), g->examples.end(), *r.input_hash) == g->examples.end()) {
      g->examples.push_back(*r.input_hash);
    }
  }

  bool write_value(OutFile& file, const json::value& v) {
    line_.clear();
    append_json(line_, v);
    return file.write_line(line_);
  }

  bool write_pairs() {
    std::vector<const PairGroup*> order;
    for (const auto& [key, g] : pair_groups_) {
      if (g.with.present && g.without.present && g.with.quality > g.without.quality) {
        order.push_back(&g);
      }
    }
    std::sort(order.begin(), order.end(), [](const PairGroup* a, const PairGroup* b) {
      return std::tie(a->tool, a->input_hash) < std::tie(b->tool, b->input_hash);
    });
    for (const PairGroup* g : order) {
      const Candidate& c = g->with;
      const Candidate& n = g->without;
      // The prompt's arguments come from the chosen row; both rows share the input hash.
      if (!c.input || !c.output || !n.output) {
        ++pairs_no_payload_;
        continue;
      }
      json::object prompt;
      prompt["tool"] = g->tool;
      prompt["arguments"] = *c.input;
      json::object o;
      o["prompt"] = std::move(prompt);
      o["chosen"] = *c.output;
      o["rejected"] = *n.output;
      o["chosen_quality"] = c.quality;
      o["rejected_quality"] = n.quality;
      o["tool"] = g->tool;
      o["input_hash"] = g->input_hash;
      o["contradiction_level"] = c.contradiction_level;
      o["ids"] = json::object{{"chosen", c.id}, {"rejected", n.id}};
      if (!write_value(pairs_, o)) return false;
    }
    return true;
  }

  bool write_failures() {
    std::vector<std::pair<const std::string*, const FailureGroup*>> order;
    for (const auto& [key, g] : failure_groups_) order.emplace_back(&key, &g);
    std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
      if (a.second->count != b.second->count) return a.second->count > b.second->count;
      return *a.first < *b.first;
    });
    for (const auto& [key, g] : order) {
      std::uint64_t calls = 0;
      if (auto it = tools_.find(g->tool_key); !g->tool_key.empty() && it != tools_.end()) {
        calls = it->second.rows;
      }
      json::object o;
      o["agent_type"] = g->agent;
      o["tool"] = opt(g->tool);
      o["status"] = g->status;
      o["error_code"] = g->code ? json::value(*g->code) : json::value(nullptr);
      o["message"] = g->message;
      o["count"] = g->count;
      o["first_seen"] = format_timestamp(g->first);
      o["last_seen"] = format_timestamp(g->last);
      json::array examples;
      for (const auto& h : g->examples) examples.emplace_back(h);
      o["example_input_hashes"] = std::move(examples);
      o["tool_calls"] = calls;
      o["share"] = calls ? json::value(static_cast<double>(g->count) / static_cast<double>(calls))
                         : json::value(nullptr);
      if (!write_value(failures_, o)) return false;
    }
    return true;
  }

  bool write_opportunities() {
    std::vector<const RepeatGroup*> repeats;
    for (const auto& [key, g] : repeats_) {
      if (g.count >= o_.repeat_threshold) repeats.push_back(&g);
    }
    std::sort(repeats.begin(), repeats.end(), [](const RepeatGroup* a, const RepeatGroup* b) {
      if (a->count != b->count) return a->count > b->count;
      return std::tie(a->tool, a->input_hash, a->output_hash) <
             std::tie(b->tool, b->input_hash, b->output_hash);
    });
    for (const RepeatGroup* g : repeats) {
      json::object o;
      o["kind"] = "cacheable_repeat";
      o["tool"] = g->tool;
      o["input_hash"] = g->input_hash;
      o["output_hash"] = g->output_hash;
      o["count"] = g->count;
      o["evidence"] = "the same input returned the same output " + std::to_string(g->count) +
                      " times between " + format_timestamp(g->first) + " and " +
                      format_timestamp(g->last);
      o["suggestion"] = "cache " + g->tool + " results keyed by input hash";
      if (!write_value(opportunities_, o)) return false;
    }

    std::vector<const ToolStats*> tools;
    for (const auto& [key, s] : tools_) {
      if (s.tool) tools.push_back(&s);
    }
    std::sort(tools.begin(), tools.end(), [](const ToolStats* a, const ToolStats* b) {
      return std::tie(a->agent, *a->tool) < std::tie(b->agent, *b->tool);
    });
    for (const ToolStats* s : tools) {
      const auto& h = s->latency;
      double p50 = round1(h.percentile(0.50));
      double p95 = round1(h.percentile(0.95));
      double p99 = round1(h.percentile(0.99));
      if (h.count() > 0 && h.percentile(0.95) > o_.slow_ms) {
        json::object o;
        o["kind"] = "slow_tool";
        o["tool"] = *s->tool;
        o["agent"] = s->agent;
        o["p50_ms"] = p50;
        o["p95_ms"] = p95;
        o["p99_ms"] = p99;
        o["calls"] = h.count();
        o["evidence"] = "p95 latency " + fmt_ms(p95) + " ms exceeds " + fmt_ms(o_.slow_ms) +
                        " ms over " + std::to_string(h.count()) + " calls";
        o["suggestion"] = "add replicas for " + s->agent + ", cache " + *s->tool +
                          " results, or make the call asynchronous";
        if (!write_value(opportunities_, o)) return false;
      }
      double share = s->rows ? static_cast<double>(s->timeouts) / static_cast<double>(s->rows) : 0;
      if (s->timeouts > 0 && share >= o_.timeout_share) {
        json::object o;
        o["kind"] = "timeout_prone";
        o["tool"] = *s->tool;
        o["agent"] = s->agent;
        o["timeouts"] = s->timeouts;
        o["calls"] = s->rows;
        o["timeout_share"] = share;
        o["p95_ms"] = p95;
        o["evidence"] = std::to_string(s->timeouts) + " of " + std::to_string(s->rows) +
                        " calls timed out";
        o["suggestion"] = "raise the upstream timeout of " + s->agent + " or split the work of " +
                          *s->tool + " into smaller calls";
        if (!write_value(opportunities_, o)) return false;
      }
      if (s->bytes_max > o_.oversized_bytes) {
        json::object o;
        o["kind"] = "oversized_output";
        o["tool"] = *s->tool;
        o["agent"] = s->agent;
        o["max_bytes"] = s->bytes_max;
        o["mean_bytes"] = static_cast<std::uint64_t>(
            std::llround(static_cast<double>(s->bytes_sum) / static_cast<double>(s->sized)));
        o["oversized_calls"] = s->oversized;
        o["calls"] = s->sized;
        o["evidence"] = std::to_string(s->oversized) + " responses larger than " +
                        std::to_string(o_.oversized_bytes) + " bytes";
        o["suggestion"] = "paginate or summarise " + *s->tool + " results";
        if (!write_value(opportunities_, o)) return false;
      }
    }
    return true;
  }

  static std::string fmt_ms(double v) { return to_json_text(json::value(v)); }

  json::object manifest(Store& store, const ExportSummary& s) {
    auto ts = [](const std::optional<Clock::time_point>& t) {
      return t ? json::value(format_timestamp(*t)) : json::value(nullptr);
    };
    json::object m;
    m["format"] = "bastion-dataset";
    m["format_version"] = 1;
    m["bastion_version"] = o_.bastion_version;
    m["generated_at"] = format_timestamp(Clock::now());
    m["store"] = std::string(store.kind());
    m["schema_version"] = store.schema_version();
    m["capture_mode"] = o_.capture_mode;
    m["range"] = json::object{{"since", ts(o_.since)}, {"until", ts(o_.until)}};
    m["rows_scanned"] = rows_;
    m["first_timestamp"] = rows_ ? ts(first_ts_) : json::value(nullptr);
    m["last_timestamp"] = rows_ ? ts(last_ts_) : json::value(nullptr);
    json::object files;
    files[kSuccessfulFile] = json::object{{"lines", s.successful}};
    files[kPairsFile] = json::object{{"lines", s.pairs}};
    files[kFailuresFile] = json::object{{"lines", s.failure_patterns}};
    files[kOpportunitiesFile] = json::object{{"lines", s.opportunities}};
    m["files"] = std::move(files);
    json::object skipped;
    skipped[kSuccessfulFile] =
        json::object{{"no_payload", no_payload_}, {"below_quality_threshold", low_quality_}};
    skipped[kPairsFile] = json::object{{"no_payload", pairs_no_payload_}};
    skipped["outside_range"] = outside_range_;
    m["skipped"] = std::move(skipped);
    m["groups"] = json::object{
        {"max", o_.max_groups},
        {"used", groups_},
        {"rows_not_grouped",
         json::object{{"tools", overflow_tools_},
                      {"pairs", overflow_pairs_},
                      {"repeats", overflow_repeats_},
                      {"failures", overflow_failures_},
                      {"schemas", overflow_schemas_}}}};
    m["thresholds"] = json::object{{"quality", o_.quality_threshold},
                                   {"repeat", o_.repeat_threshold},
                                   {"slow_ms", o_.slow_ms},
                                   {"timeout_share", o_.timeout_share},
                                   {"oversized_bytes", o_.oversized_bytes}};
    json::array notes;
    if (no_payload_ > 0 || pairs_no_payload_ > 0) {
      notes.emplace_back(
          std::to_string(no_payload_) + " successful calls and " +
          std::to_string(pairs_no_payload_) +
          " preference pairs were left out because their rows hold only hashes (capture mode "
          "hashed); set store.capture to redacted or full to export training examples");
    }
    if (s.group_overflow_rows > 0) {
      notes.emplace_back("max_groups (" + std::to_string(o_.max_groups) + ") was reached; " +
                         std::to_string(s.group_overflow_rows) +
                         " row contributions to new groups were not aggregated");
    }
    m["notes"] = std::move(notes);
    m["seconds"] = std::round(s.seconds * 1000) / 1000;
    return m;
  }

  const ExportOptions& o_;
  fs::path dir_;
  OutFile successful_, pairs_, failures_, opportunities_, manifest_;
  std::string line_;
  GroupKeyProbe probe_;
  std::string uncached_schema_;

  std::uint64_t rows_ = 0;
  std::uint64_t outside_range_ = 0;
  Clock::time_point first_ts_{}, last_ts_{};
  std::uint64_t no_payload_ = 0, low_quality_ = 0, pairs_no_payload_ = 0;

  std::size_t groups_ = 0;
  std::uint64_t overflow_tools_ = 0, overflow_pairs_ = 0, overflow_repeats_ = 0,
                overflow_failures_ = 0, overflow_schemas_ = 0;
  GroupTable<ToolStats> tools_;
  GroupTable<std::string> schemas_;
  GroupTable<PairGroup> pair_groups_;
  GroupTable<RepeatGroup> repeats_;
  GroupTable<FailureGroup> failure_groups_;
};

}  // namespace

ExportSummary export_dataset(const ExportOptions& options, Store& store,
                             const std::function<void(const ExportProgress&)>& on_progress) {
  ExportSummary summary;
  auto fail = [&](std::string error, int code) {
    summary.ok = false;
    summary.error = std::move(error);
    summary.exit_code = code;
    return summary;
  };
  if (options.out_dir.empty()) return fail("no output directory given", 2);
  if (options.since && options.until && *options.since >= *options.until) {
    return fail("--since must be before --until", 2);
  }
  if (!(options.quality_threshold >= 0 && options.quality_threshold <= 1)) {
    return fail("quality threshold must be within 0..1", 2);
  }

  Exporter exporter(options);
  std::string error;
  if (!exporter.open(error)) return fail(error, 1);
  if (StoreResult opened = store.open(); !opened.ok) {
    return fail("cannot open the store: " + opened.error, 1);
  }

  const auto start = Steady::now();
  auto elapsed = [&] { return std::chrono::duration<double>(Steady::now() - start).count(); };
  bool write_failed = false;
  StoreResult scanned = store.scan(ScanRange{options.since, options.until},
                                   [&](const Interaction& row) {
                                     if (!exporter.visit(row)) {
                                       write_failed = true;
                                       return false;
                                     }
                                     if (on_progress && exporter.rows() % kProgressEvery == 0) {
                                       on_progress({exporter.rows(), elapsed()});
                                     }
                                     return true;
                                   });
  if (write_failed) return fail("cannot write to " + options.out_dir + ": " + errno_text(errno), 1);
  if (!scanned.ok) return fail("store scan failed: " + scanned.error, 1);
  if (on_progress) on_progress({exporter.rows(), elapsed()});
  if (!exporter.finish(store, elapsed(), summary, error)) return fail(error, 1);
  summary.ok = true;
  return summary;
}

namespace {
std::string rate_text(std::uint64_t rows, double seconds) {
  auto rate = seconds > 0 ? static_cast<std::uint64_t>(static_cast<double>(rows) / seconds) : rows;
  return std::to_string(rate);
}
}  // namespace

int run_dataset_export(const ExportOptions& options, Store& store, std::ostream& progress_out,
                       bool progress_is_tty) {
  // At most 4 redraws a second: a terminal that redraws on every batch slows the export down.
  constexpr auto kRedraw = std::chrono::milliseconds(250);
  auto last_draw = Steady::now() - kRedraw;
  bool drew = false;
  std::function<void(const ExportProgress&)> progress;
  if (progress_is_tty) {
    progress = [&](const ExportProgress& p) {
      auto now = Steady::now();
      if (now - last_draw < kRedraw) return;
      last_draw = now;
      drew = true;
      progress_out << "\rexporting: " << p.rows << " rows (" << rate_text(p.rows, p.seconds)
                   << " rows/s)" << std::flush;
    };
  }
  ExportSummary s = export_dataset(options, store, progress);
  if (drew) progress_out << '\n';
  if (!s.ok) {
    progress_out << "dataset export failed: " << s.error << '\n';
    return s.exit_code;
  }
  progress_out << "exported " << s.rows_scanned << " rows in " << round1(s.seconds) << " s ("
               << rate_text(s.rows_scanned, s.seconds) << " rows/s) to " << options.out_dir << ": "
               << s.successful << " successful, " << s.pairs << " preference pairs, "
               << s.failure_patterns << " failure patterns, " << s.opportunities
               << " opportunities";
  if (s.skipped_no_payload + s.pairs_skipped_no_payload > 0) {
    progress_out << "; " << s.skipped_no_payload + s.pairs_skipped_no_payload
                 << " left out for lack of captured payloads (see manifest.json)";
  }
  progress_out << '\n' << std::flush;
  return 0;
}

}  // namespace bastion::record

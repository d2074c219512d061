#include "record/export/dataset_export.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "record/test_records.hpp"
#include "record/time_format.hpp"

#if defined(__SANITIZE_ADDRESS__)
// ASan keeps freed memory in a 256 MiB quarantine, which would read as RSS growth in the
// bounded-memory test; a small quarantine keeps that measurement meaningful.
extern "C" const char* __asan_default_options() { return "quarantine_size_mb=4"; }
#endif

namespace bastion::record {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using testing::TempDir;

const Clock::time_point kT0 = *parse_timestamp("2026-01-01T00:00:00Z");

// The test double: rows held in memory, already in (timestamp, id) order.
class VectorStore final : public Store {
 public:
  explicit VectorStore(std::vector<Interaction> rows, bool honour_range = true)
      : rows_(std::move(rows)), honour_range_(honour_range) {}
  std::string_view kind() const override { return "memory"; }
  StoreResult open() override { return {}; }
  StoreResult write(std::span<const Interaction>) override { return {false, "read-only"}; }
  StoreResult scan(const ScanRange& range,
                   const std::function<bool(const Interaction&)>& visit) override {
    for (const auto& r : rows_) {
      if (honour_range_ && ((range.since && r.timestamp < *range.since) ||
                            (range.until && r.timestamp >= *range.until))) {
        continue;
      }
      if (!visit(r)) break;
    }
    return {};
  }
  std::int64_t schema_version() const override { return 3; }

 private:
  std::vector<Interaction> rows_;
  bool honour_range_;
};

Interaction row(int sec, std::string agent, std::optional<std::string> tool,
                std::string status = "ok") {
  Interaction r;
  char id[16];
  std::snprintf(id, sizeof id, "r%02d", sec);
  r.id = id;
  r.timestamp = kT0 + std::chrono::seconds(sec);
  r.agent_type = std::move(agent);
  r.tool = std::move(tool);
  r.method = r.tool ? "tools/call" : "initialize";
  r.status = std::move(status);
  return r;
}

Interaction scored(int sec, std::string tool, std::string in_hash, std::string out_hash,
                   std::optional<double> quality, bool contra, std::string level,
                   std::optional<std::string> input, std::optional<std::string> output) {
  Interaction r = row(sec, "demo", std::move(tool));
  r.input_hash = std::move(in_hash);
  r.output_hash = std::move(out_hash);
  r.output_quality = quality;
  r.contradiction_applied = contra;
  r.contradiction_level = std::move(level);
  r.input = std::move(input);
  r.output = std::move(output);
  r.latency_ms = sec * 10;
  return r;
}

Interaction failure(int sec, std::string status, std::optional<std::int64_t> code,
                    std::string message, std::string in_hash, double latency) {
  Interaction r = row(sec, "web", "fetch", std::move(status));
  r.error_code = code;
  r.error_message = std::move(message);
  r.input_hash = std::move(in_hash);
  r.latency_ms = latency;
  r.latency_bucket = r.status == "timeout" ? "timeout" : "fast";
  return r;
}

std::vector<Interaction> crafted_history() {
  std::vector<Interaction> v;
  // search/h1: a pair (r02 beats r03); r04 ties r02 and loses to the earlier row; r01 is below
  // the quality threshold.
  v.push_back(scored(1, "search", "h1", "o1", 0.6, false, "none", R"({"q":"a"})", R"({"v":1})"));
  v.push_back(scored(2, "search", "h1", "o2", 0.9, true, "mild", R"({"q":"a"})", R"({"v":2})"));
  v.push_back(scored(3, "search", "h1", "o3", 0.8, false, "none", R"({"q":"a"})", R"({"v":3})"));
  v.push_back(scored(4, "search", "h1", "o4", 0.9, true, "extreme", R"({"q":"a"})", R"({"v":4})"));
  // search/h2: equal qualities, no pair. h3: contradiction scored lower, no pair. h4: one side.
  v.push_back(scored(5, "search", "h2", "o5", 0.75, false, "none", R"({"q":"b"})", R"({"v":5})"));
  v.push_back(scored(6, "search", "h2", "o5", 0.75, true, "mild", R"({"q":"b"})", R"({"v":5})"));
  v.push_back(scored(7, "search", "h3", "o7", 0.7, true, "moderate", R"({"q":"c"})", R"({"v":7})"));
  v.push_back(scored(8, "search", "h3", "o8", 0.95, false, "none", R"({"q":"c"})", R"({"v":8})"));
  v.push_back(scored(9, "search", "h4", "o9", 0.99, true, "mild", R"({"q":"d"})", R"({"v":9})"));
  // echo: no quality (still a training example); a hashed-capture pair that cannot be written.
  v.push_back(scored(10, "echo", "h6", "o10", std::nullopt, false, "none", R"({"message":"hi"})",
                     R"({"content":[{"type":"text","text":"hi"}]})"));
  v.push_back(scored(11, "echo", "h5", "o11", 0.9, true, "mild", std::nullopt, std::nullopt));
  v.push_back(scored(12, "echo", "h5", "o12", 0.8, false, "none", std::nullopt, std::nullopt));
  // lookup: hc->oc three times (cacheable), hd->od twice (below the threshold). Hashed capture.
  for (int s : {13, 14, 15}) {
    v.push_back(scored(s, "lookup", "hc", "oc", std::nullopt, false, "none", {}, {}));
  }
  for (int s : {16, 17}) {
    v.push_back(scored(s, "lookup", "hd", "od", std::nullopt, false, "none", {}, {}));
  }
  // web/fetch: three timeouts in one pattern, one error, one success.
  v.push_back(failure(18, "timeout", std::nullopt, "Timeout after 5000 ms", "hf1", 5000));
  v.push_back(failure(19, "timeout", std::nullopt, "timeout after 3000 ms", "hf2", 3000));
  v.push_back(failure(20, "timeout", std::nullopt, "Timeout after 5000 ms", "hf1", 5000));
  v.push_back(failure(21, "error", -32000,
                      "Upstream 'api' returned 502 for request 3f2a9c1e-1b2c-4d5e-8f90-123456789abc",
                      "hf3", 200));
  Interaction ok = row(22, "web", "fetch");
  ok.input_hash = "hf4";
  ok.output_hash = "of4";
  ok.latency_ms = 100;
  ok.input = R"({"url":"x"})";
  ok.output = R"({"ok":true})";
  v.push_back(ok);
  // Not tools/call: a denied initialize (no agent, no tool) and a tools/list.
  Interaction denied = row(23, "", std::nullopt, "denied");
  denied.error_code = -32001;
  denied.error_message = "token 'bob' lacks scope";
  v.push_back(denied);
  Interaction list = row(24, "demo", std::nullopt);
  list.method = "tools/list";
  v.push_back(list);
  // dump: one response over 1 MiB.
  Interaction big = scored(25, "dump", "hd1", "od1", std::nullopt, false, "none", {}, {});
  big.response_bytes = 2 << 20;
  v.push_back(big);
  Interaction small = scored(26, "dump", "hd2", "od2", std::nullopt, false, "none", {}, {});
  small.response_bytes = 1000;
  v.push_back(small);
  // render: 20 calls, 500 ms .. 10 s.
  for (int i = 1; i <= 20; ++i) {
    Interaction r = row(26 + i, "slowpoke", "render");
    r.latency_ms = 500.0 * i;
    v.push_back(r);
  }
  return v;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

std::string ts(int sec) { return format_timestamp(kT0 + std::chrono::seconds(sec)); }

// The exact successful_interactions.jsonl line of a row from `scored`/`row`.
std::string example_line(const std::string& id, const std::string& agent, const std::string& tool,
                         const std::string& params, const std::string& args_json_string,
                         const std::string& content_json_string, const std::string& ih,
                         const std::string& oh, const std::string& latency,
                         const std::string& quality, const std::string& level, int sec) {
  return R"({"tools":[{"type":"function","function":{"name":")" + tool + R"(","parameters":)" +
         params + R"(}}],"messages":[{"role":"assistant","tool_calls":[{"id":")" + id +
         R"(","type":"function","function":{"name":")" + tool + R"(","arguments":)" +
         args_json_string + R"(}}]},{"role":"tool","tool_call_id":")" + id + R"(","content":)" +
         content_json_string + R"(}],"metadata":{"agent_type":")" + agent + R"(","tool":")" +
         tool + R"(","input_hash":")" + ih + R"(","output_hash":")" + oh +
         R"(","latency_ms":)" + latency + R"(,"latency_bucket":"fast","output_quality":)" +
         quality + R"(,"precision_score":null,"agent_confidence":null,"contradiction_level":")" +
         level + R"(","timestamp":")" + ts(sec) + R"("}})";
}

std::string search_line(int sec, const std::string& ih, const std::string& oh, const char* q,
                        const std::string& quality, const std::string& level, int v) {
  char id[8];
  std::snprintf(id, sizeof id, "r%02d", sec);
  return example_line(id, "demo", "search", R"({"type":"object"})",
                      std::string(R"("{\"q\":\")") + q + R"(\"}")",
                      R"("{\"v\":)" + std::to_string(v) + R"(}")", ih, oh,
                      std::to_string(sec * 10), quality, level, sec);
}

class DatasetExportTest : public ::testing::Test {
 protected:
  ExportOptions options() {
    ExportOptions o;
    o.out_dir = (dir_.path() / "out").string();
    o.capture_mode = "full";
    o.bastion_version = "0.1.0-test";
    return o;
  }
  std::string file(std::string_view name) { return (dir_.path() / "out" / name).string(); }
  TempDir dir_;
};

TEST_F(DatasetExportTest, CraftedHistoryGivesExactFiles) {
  VectorStore store(crafted_history());
  ExportOptions o = options();
  int schema_calls = 0;
  o.tool_schema = [&](std::string_view agent, std::string_view tool) -> std::optional<json::object> {
    ++schema_calls;
    if (agent == "demo" && tool == "echo") {
      return json::object{{"type", "object"},
                          {"properties", json::object{{"message", {{"type", "string"}}}}}};
    }
    return std::nullopt;
  };
  std::ostringstream progress;
  ASSERT_EQ(run_dataset_export(o, store, progress, false), 0) << progress.str();
  EXPECT_EQ(schema_calls, 3);  // once each for demo/search, demo/echo, web/fetch
  EXPECT_NE(progress.str().find("exported 46 rows"), std::string::npos) << progress.str();
  EXPECT_EQ(progress.str().find('\r'), std::string::npos);  // no progress line off a terminal

  // 1. Successful examples: r01 is below 0.7; hashed rows are left out.
  std::vector<std::string> expected_examples = {
      search_line(2, "h1", "o2", "a", "0.9", "mild", 2),
      search_line(3, "h1", "o3", "a", "0.8", "none", 3),
      search_line(4, "h1", "o4", "a", "0.9", "extreme", 4),
      search_line(5, "h2", "o5", "b", "0.75", "none", 5),
      search_line(6, "h2", "o5", "b", "0.75", "mild", 5),
      search_line(7, "h3", "o7", "c", "0.7", "moderate", 7),
      search_line(8, "h3", "o8", "c", "0.95", "none", 8),
      search_line(9, "h4", "o9", "d", "0.99", "mild", 9),
      example_line("r10", "demo", "echo",
                   R"({"type":"object","properties":{"message":{"type":"string"}}})",
                   R"("{\"message\":\"hi\"}")",
                   R"("{\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}")", "h6", "o10",
                   "100", "null", "none", 10),
      example_line("r22", "web", "fetch", R"({"type":"object"})", R"("{\"url\":\"x\"}")",
                   R"("{\"ok\":true}")", "hf4", "of4", "100", "null", "none", 22),
  };
  EXPECT_EQ(read_lines(file(kSuccessfulFile)), expected_examples);

  // 2. Pairs: only search/h1 (r02 over r03); the echo/h5 pair has no payloads.
  EXPECT_EQ(read_lines(file(kPairsFile)),
            std::vector<std::string>{
                R"({"prompt":{"tool":"search","arguments":"{\"q\":\"a\"}"},"chosen":"{\"v\":2}",)"
                R"("rejected":"{\"v\":3}","chosen_quality":0.9,"rejected_quality":0.8,)"
                R"("tool":"search","input_hash":"h1","contradiction_level":"mild",)"
                R"("ids":{"chosen":"r02","rejected":"r03"}})"});

  // 3. Failures: both timeout messages in one group.
  EXPECT_EQ(
      read_lines(file(kFailuresFile)),
      (std::vector<std::string>{
          R"({"agent_type":"web","tool":"fetch","status":"timeout","error_code":null,)"
          R"("message":"timeout after # ms","count":3,"first_seen":")" +
              ts(18) + R"(","last_seen":")" + ts(20) +
              R"(","example_input_hashes":["hf1","hf2"],"tool_calls":5,"share":0.6})",
          R"({"agent_type":"","tool":null,"status":"denied","error_code":-32001,)"
          R"("message":"token <str> lacks scope","count":1,"first_seen":")" +
              ts(23) + R"(","last_seen":")" + ts(23) +
              R"(","example_input_hashes":[],"tool_calls":1,"share":1})",
          R"({"agent_type":"web","tool":"fetch","status":"error","error_code":-32000,)"
          R"("message":"upstream <str> returned # for request <id>","count":1,"first_seen":")" +
              ts(21) + R"(","last_seen":")" + ts(21) +
              R"(","example_input_hashes":["hf3"],"tool_calls":5,"share":0.2})"}));

  // 4. Opportunities: cacheable at 3 (not hd at 2), oversized dump, slow render, fetch timeouts.
  auto ops = read_lines(file(kOpportunitiesFile));
  ASSERT_EQ(ops.size(), 4u);
  EXPECT_EQ(ops[0], R"({"kind":"cacheable_repeat","tool":"lookup","input_hash":"hc",)"
                    R"("output_hash":"oc","count":3,"evidence":"the same input returned the )"
                    R"(same output 3 times between )" +
                        ts(13) + " and " + ts(15) +
                        R"(","suggestion":"cache lookup results keyed by input hash"})");
  EXPECT_EQ(ops[1], R"({"kind":"oversized_output","tool":"dump","agent":"demo",)"
                    R"("max_bytes":2097152,"mean_bytes":1049076,"oversized_calls":1,"calls":2,)"
                    R"("evidence":"1 responses larger than 1048576 bytes",)"
                    R"("suggestion":"paginate or summarise dump results"})");
  json::object slow = json::parse(ops[2]).as_object();
  EXPECT_EQ(slow.at("kind"), "slow_tool");
  EXPECT_EQ(slow.at("tool"), "render");
  EXPECT_EQ(slow.at("agent"), "slowpoke");
  EXPECT_EQ(slow.at("calls"), 20);
  EXPECT_NEAR(slow.at("p50_ms").to_number<double>(), 5000, 50);  // nearest rank 10 of 20
  EXPECT_NEAR(slow.at("p95_ms").to_number<double>(), 9500, 95);  // rank 19
  EXPECT_EQ(slow.at("p99_ms").to_number<double>(), 10000);       // rank 20: the exact max
  EXPECT_EQ(ops[3], R"({"kind":"timeout_prone","tool":"fetch","agent":"web","timeouts":3,)"
                    R"("calls":5,"timeout_share":0.6,"p95_ms":5000,)"
                    R"("evidence":"3 of 5 calls timed out","suggestion":"raise the upstream )"
                    R"(timeout of web or split the work of fetch into smaller calls"})");

  // 5. Manifest.
  json::object m = json::parse(read_lines(file(kManifestFile)).at(0)).as_object();
  EXPECT_EQ(m.at("rows_scanned"), 46);
  EXPECT_EQ(m.at("schema_version"), 3);
  EXPECT_EQ(m.at("store"), "memory");
  EXPECT_EQ(m.at("capture_mode"), "full");
  EXPECT_EQ(m.at("bastion_version"), "0.1.0-test");
  EXPECT_EQ(m.at("first_timestamp"), json::value(ts(1)));
  EXPECT_EQ(m.at("last_timestamp"), json::value(ts(46)));
  EXPECT_EQ(m.at("range"), json::parse(R"({"since":null,"until":null})"));
  EXPECT_EQ(m.at("files"), json::parse(R"({
      "successful_interactions.jsonl":{"lines":10}, "contradiction_improvements.jsonl":{"lines":1},
      "failure_patterns.jsonl":{"lines":3}, "optimization_opportunities.jsonl":{"lines":4}})"));
  // Hashed rows: r11, r12, five lookups, two dumps, twenty renders.
  EXPECT_EQ(m.at("skipped"), json::parse(R"({
      "successful_interactions.jsonl":{"no_payload":29,"below_quality_threshold":1},
      "contradiction_improvements.jsonl":{"no_payload":1}, "outside_range":0})"));
  EXPECT_EQ(m.at("notes").as_array().size(), 1u);
  EXPECT_NE(m.at("notes").at(0).as_string().find("capture mode hashed"), std::string::npos);
  EXPECT_TRUE(m.at("generated_at").is_string());

  // Every line of every file is JSON; nothing temporary is left behind; private permissions.
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path() / "out")) {
    ++files;
    EXPECT_NE(entry.path().filename().string().front(), '.') << entry.path();
    struct stat st {};
    ASSERT_EQ(::stat(entry.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << entry.path();
    for (const auto& line : read_lines(entry.path().string())) {
      boost::system::error_code ec;
      json::parse(line, ec);
      EXPECT_FALSE(ec) << entry.path() << ": " << line;
    }
  }
  EXPECT_EQ(files, 5u);
  struct stat dir_stat {};
  ASSERT_EQ(::stat((dir_.path() / "out").c_str(), &dir_stat), 0);
  EXPECT_EQ(dir_stat.st_mode & 0777, 0700u);
}

TEST_F(DatasetExportTest, SinceUntilRangeIsHonoured) {
  // The exporter filters too, so a store that ignores the range gives the same files.
  for (bool honour : {true, false}) {
    SCOPED_TRACE(honour);
    VectorStore store(crafted_history(), honour);
    ExportOptions o = options();
    o.since = kT0 + 3s;
    o.until = kT0 + 19s;  // exclusive: r03..r18
    ExportSummary s = export_dataset(o, store);
    ASSERT_TRUE(s.ok) << s.error;
    EXPECT_EQ(s.rows_scanned, 16u);
    auto lines = read_lines(file(kSuccessfulFile));
    ASSERT_EQ(lines.size(), 8u);  // r03..r10
    EXPECT_NE(lines.front().find(R"("id":"r03")"), std::string::npos);
    EXPECT_NE(lines.back().find(R"("id":"r10")"), std::string::npos);
    // r02 is outside: the h1 pair is gone (r04 vs r03 would win, and does).
    auto pairs = read_lines(file(kPairsFile));
    ASSERT_EQ(pairs.size(), 1u);
    EXPECT_NE(pairs[0].find(R"("ids":{"chosen":"r04","rejected":"r03"})"), std::string::npos);
    auto failures = read_lines(file(kFailuresFile));
    ASSERT_EQ(failures.size(), 1u);
    EXPECT_NE(failures[0].find(R"("count":1)"), std::string::npos);
    json::object m = json::parse(read_lines(file(kManifestFile)).at(0)).as_object();
    EXPECT_EQ(m.at("range").at("since"), json::value(ts(3)));
    EXPECT_EQ(m.at("range").at("until"), json::value(ts(19)));
    EXPECT_EQ(m.at("first_timestamp"), json::value(ts(3)));
    EXPECT_EQ(m.at("last_timestamp"), json::value(ts(18)));
    EXPECT_EQ(m.at("skipped").at("outside_range"), honour ? 0 : 30);
  }
}

TEST_F(DatasetExportTest, HashedCaptureWritesNoExamplesAndSaysWhy) {
  std::vector<Interaction> rows;
  for (int i = 0; i < 10; ++i) {
    rows.push_back(scored(i, "echo", "h", "o" + std::to_string(i % 2), 0.9 - 0.1 * (i % 2), i % 2 == 0,
                          "mild", std::nullopt, std::nullopt));
  }
  VectorStore store(rows);
  ExportOptions o = options();
  o.capture_mode = "hashed";
  std::ostringstream out;
  ASSERT_EQ(run_dataset_export(o, store, out, false), 0);
  EXPECT_NE(out.str().find("left out for lack of captured payloads"), std::string::npos);
  EXPECT_TRUE(read_lines(file(kSuccessfulFile)).empty());
  EXPECT_TRUE(read_lines(file(kPairsFile)).empty());
  json::object m = json::parse(read_lines(file(kManifestFile)).at(0)).as_object();
  EXPECT_EQ(m.at("capture_mode"), "hashed");
  EXPECT_EQ(m.at("skipped").at(kSuccessfulFile).at("no_payload"), 10);
  EXPECT_EQ(m.at("skipped").at(kPairsFile).at("no_payload"), 1);
  // Hash-only aggregates still work: o0 came back five times.
  auto ops = read_lines(file(kOpportunitiesFile));
  ASSERT_EQ(ops.size(), 2u);
  EXPECT_NE(ops[0].find(R"("output_hash":"o0","count":5)"), std::string::npos);
}

TEST_F(DatasetExportTest, RepeatThresholdIsInclusive) {
  std::vector<Interaction> rows;
  for (int i = 0; i < 4; ++i) rows.push_back(scored(i, "t", "a", "x", {}, false, "none", {}, {}));
  for (int i = 4; i < 7; ++i) rows.push_back(scored(i, "t", "b", "y", {}, false, "none", {}, {}));
  VectorStore store(rows);
  ExportOptions o = options();
  o.repeat_threshold = 4;
  ASSERT_TRUE(export_dataset(o, store).ok);
  auto ops = read_lines(file(kOpportunitiesFile));
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_NE(ops[0].find(R"("input_hash":"a","output_hash":"x","count":4)"), std::string::npos);
}

TEST_F(DatasetExportTest, MaxGroupsBoundsTablesAndCountsTheRest) {
  std::vector<Interaction> rows;
  for (int i = 0; i < 1000; ++i) {
    rows.push_back(scored(i, "t", "in" + std::to_string(i), "out", 0.9, false, "none", {}, {}));
  }
  VectorStore store(rows);
  ExportOptions o = options();
  o.max_groups = 100;
  ExportSummary s = export_dataset(o, store);
  ASSERT_TRUE(s.ok) << s.error;
  EXPECT_EQ(s.manifest.at("groups").at("used"), 100);
  // 1 tool group + 99 more; every later row misses a pair and a repeat group.
  EXPECT_GT(s.group_overflow_rows, 1000u);
  EXPECT_EQ(s.manifest.at("notes").as_array().size(), 2u);
}

TEST_F(DatasetExportTest, InvalidOptionsAndStoreErrors) {
  VectorStore store({});
  ExportOptions o = options();
  o.since = kT0 + 5s;
  o.until = kT0 + 5s;
  EXPECT_EQ(export_dataset(o, store).exit_code, 2);
  o = options();
  o.out_dir.clear();
  EXPECT_EQ(export_dataset(o, store).exit_code, 2);

  class BrokenStore final : public Store {
   public:
    std::string_view kind() const override { return "broken"; }
    StoreResult open() override { return {}; }
    StoreResult write(std::span<const Interaction>) override { return {}; }
    StoreResult scan(const ScanRange&, const std::function<bool(const Interaction&)>& visit) override {
      visit(row(1, "a", "b"));
      return {false, "connection lost"};
    }
    std::int64_t schema_version() const override { return 1; }
  } broken;
  std::ostringstream out;
  EXPECT_EQ(run_dataset_export(options(), broken, out, false), 1);
  EXPECT_NE(out.str().find("connection lost"), std::string::npos);
  // Nothing half-done is left: no temporaries, no final files.
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path() / "out"));
}

TEST_F(DatasetExportTest, TerminalGetsCarriageReturnProgress) {
  std::vector<Interaction> rows;
  for (int i = 0; i < 10'000; ++i) rows.push_back(row(i, "a", "b"));
  VectorStore store(rows);
  std::ostringstream out;
  ASSERT_EQ(run_dataset_export(options(), store, out, true), 0);
  // The first redraw happens at the first progress callback (4096 rows); later ones are throttled.
  EXPECT_EQ(out.str().rfind("\rexporting: 4096 rows (", 0), 0u) << out.str();
  EXPECT_NE(out.str().find("rows/s)"), std::string::npos);
  EXPECT_NE(out.str().find("\nexported 10000 rows"), std::string::npos);
}

// Generates rows on the fly: nothing is held per row.
class GeneratorStore final : public Store {
 public:
  explicit GeneratorStore(std::uint64_t rows) : rows_(rows) {
    char h[80];
    for (int k = 0; k < kInputs; ++k) {
      std::snprintf(h, sizeof h, "%064x", k * 2654435761u);
      hashes_.emplace_back(h);
    }
  }
  std::string_view kind() const override { return "generator"; }
  StoreResult open() override { return {}; }
  StoreResult write(std::span<const Interaction>) override { return {}; }
  StoreResult scan(const ScanRange&, const std::function<bool(const Interaction&)>& visit) override {
    Interaction r;
    r.agent_type = "gen";
    r.method = "tools/call";
    r.tool = "";
    r.input_hash = "";
    r.output_hash = "";
    char buf[64];
    for (std::uint64_t i = 0; i < rows_; ++i) {
      std::snprintf(buf, sizeof buf, "0190%012llx", static_cast<unsigned long long>(i));
      r.id = buf;
      r.timestamp = kT0 + std::chrono::milliseconds(i);
      std::snprintf(buf, sizeof buf, "tool_%llu", static_cast<unsigned long long>(i % 20));
      *r.tool = buf;
      *r.input_hash = hashes_[i % kInputs];
      *r.output_hash = hashes_[(i * 7) % kInputs];
      r.latency_ms = static_cast<double>(i % 997);
      r.response_bytes = static_cast<std::int64_t>(i % 4096);
      r.contradiction_applied = i % 2 == 1;
      r.output_quality = static_cast<double>(i % 10) / 10;
      if (i % 25 == 0) {
        r.status = "error";
        r.error_code = -32000;
        std::snprintf(buf, sizeof buf, "failed after %llu ms", static_cast<unsigned long long>(i));
        r.error_message = buf;
      } else {
        r.status = "ok";
        r.error_code.reset();
        r.error_message.reset();
      }
      std::snprintf(buf, sizeof buf, R"({"n":%llu,"q":"some query text"})",
                    static_cast<unsigned long long>(i));
      r.input = buf;
      std::snprintf(buf, sizeof buf, R"({"content":[{"type":"text","text":"%llu"}]})",
                    static_cast<unsigned long long>(i % 7));
      r.output = buf;
      if (!visit(r)) break;
    }
    return {};
  }
  std::int64_t schema_version() const override { return 1; }

 private:
  static constexpr int kInputs = 5000;
  std::uint64_t rows_;
  std::vector<std::string> hashes_;
};

long rss_bytes() {
  long pages = 0, resident = 0;
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return -1;
  if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
  std::fclose(f);
  return resident * ::sysconf(_SC_PAGESIZE);
}

TEST_F(DatasetExportTest, MillionRowsInBoundedMemory) {
  constexpr std::uint64_t kRows = 1'000'000;
  GeneratorStore store(kRows);
  const long before = rss_bytes();
  ASSERT_GT(before, 0);
  long peak = before, at_100k = 0;
  auto progress = [&](const ExportProgress& p) {
    long now = rss_bytes();
    peak = std::max(peak, now);
    if (at_100k == 0 && p.rows >= 100'000) at_100k = now;
  };
  ExportSummary s = export_dataset(options(), store, progress);
  ASSERT_TRUE(s.ok) << s.error;
  EXPECT_EQ(s.rows_scanned, kRows);
  EXPECT_EQ(s.group_overflow_rows, 0u);
  // 20 tools, 5000 inputs: the tables stay small whatever the row count.
  EXPECT_LT(peak - before, 50L << 20) << "RSS grew by " << (peak - before) / 1024 << " KiB";
  EXPECT_LT(peak - at_100k, 16L << 20) << "RSS grew between 100k and 1M rows";
  // Quality >= 0.7 on rows with i % 10 in {7, 8, 9}; the errors (i % 25 == 0) are not among them.
  EXPECT_EQ(s.successful, 300'000u);
  EXPECT_EQ(s.failure_patterns, 4u);  // one "failed after # ms" group per tool (i % 20 in 0, 5, 10, 15)
  auto rows_per_s = static_cast<double>(kRows) / s.seconds;
  std::printf("[ export   ] %llu rows in %.2f s = %.0f rows/s; RSS +%ld KiB (peak), +%ld KiB "
              "after 100k rows\n",
              static_cast<unsigned long long>(kRows), s.seconds, rows_per_s,
              (peak - before) / 1024, (peak - at_100k) / 1024);
  RecordProperty("rows_per_second", static_cast<int>(rows_per_s));
}

}  // namespace
}  // namespace bastion::record

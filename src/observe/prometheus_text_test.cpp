#include "observe/prometheus_text.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "observe/process_metrics.hpp"

namespace bastion::observe {
namespace {

// One family of each kind, registered out of name order on purpose.
void fill_golden(Registry& r) {
  auto& calls = r.counter("bastion_tool_calls_total", "Tool calls by upstream, tool and status.",
                          {"upstream", "tool", "status"});
  calls.labels({"b", "echo", "ok"}).inc(3);
  calls.labels({"a", "echo", "error"}).inc();
  auto& up = r.gauge("bastion_upstream_up", "1 when the upstream is healthy.", {"upstream"});
  up.labels({"b"}).set(1);
  up.labels({"a"}).set(0);
  auto& latency = r.histogram("bastion_tool_call_duration_seconds", "Tool call latency.", {"upstream"},
                              {0.125, 0.5, 1});
  auto& a = latency.labels({"a"});
  for (double v : {0.25, 0.5, 0.125, 4.0}) a.observe(v);
  r.callback_gauge("bastion_recorder_queue_depth", "Interactions waiting to be written.", [] { return 7.0; });
  r.counter("bastion_recorder_dropped_total", "Interactions dropped.");
}

TEST(PrometheusText, GoldenOutput) {
  Registry r;
  fill_golden(r);
  const std::string expected =
      "# HELP bastion_metrics_label_overflow_total Label sets that exceeded a family's cardinality cap and were "
      "recorded in its \"_other\" series.\n"
      "# TYPE bastion_metrics_label_overflow_total counter\n"
      "# HELP bastion_recorder_dropped_total Interactions dropped.\n"
      "# TYPE bastion_recorder_dropped_total counter\n"
      "bastion_recorder_dropped_total 0\n"
      "# HELP bastion_recorder_queue_depth Interactions waiting to be written.\n"
      "# TYPE bastion_recorder_queue_depth gauge\n"
      "bastion_recorder_queue_depth 7\n"
      "# HELP bastion_tool_call_duration_seconds Tool call latency.\n"
      "# TYPE bastion_tool_call_duration_seconds histogram\n"
      "bastion_tool_call_duration_seconds_bucket{upstream=\"a\",le=\"0.125\"} 1\n"
      "bastion_tool_call_duration_seconds_bucket{upstream=\"a\",le=\"0.5\"} 3\n"
      "bastion_tool_call_duration_seconds_bucket{upstream=\"a\",le=\"1\"} 3\n"
      "bastion_tool_call_duration_seconds_bucket{upstream=\"a\",le=\"+Inf\"} 4\n"
      "bastion_tool_call_duration_seconds_sum{upstream=\"a\"} 4.875\n"
      "bastion_tool_call_duration_seconds_count{upstream=\"a\"} 4\n"
      "# HELP bastion_tool_calls_total Tool calls by upstream, tool and status.\n"
      "# TYPE bastion_tool_calls_total counter\n"
      "bastion_tool_calls_total{upstream=\"a\",tool=\"echo\",status=\"error\"} 1\n"
      "bastion_tool_calls_total{upstream=\"b\",tool=\"echo\",status=\"ok\"} 3\n"
      "# HELP bastion_upstream_up 1 when the upstream is healthy.\n"
      "# TYPE bastion_upstream_up gauge\n"
      "bastion_upstream_up{upstream=\"a\"} 0\n"
      "bastion_upstream_up{upstream=\"b\"} 1\n";
  EXPECT_EQ(render(r), expected);
}

TEST(PrometheusText, UnlabelledHistogramWithDefaultBuckets) {
  Registry r;
  r.histogram("lat_seconds", "h").get().observe(0.003);
  const auto text = render(r);
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"0.0005\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"0.001\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"0.005\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"30\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"+Inf\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_sum 0.003\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_count 1\n"), std::string::npos);
}

TEST(PrometheusText, LabelAndHelpEscaping) {
  EXPECT_EQ(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(escape_label_value("plain \xC3\xA9"), "plain \xC3\xA9");
  EXPECT_EQ(escape_help("x\\y\nz \"q\""), "x\\\\y\\nz \"q\"");

  Registry r;
  r.counter("odd_total", "Help with \\ and\nnewline.", {"path"}).labels({"C:\\dir \"x\"\n"}).inc();
  const auto text = render(r);
  EXPECT_NE(text.find("# HELP odd_total Help with \\\\ and\\nnewline.\n"), std::string::npos);
  EXPECT_NE(text.find("odd_total{path=\"C:\\\\dir \\\"x\\\"\\n\"} 1\n"), std::string::npos);
}

TEST(PrometheusText, FloatFormatting) {
  EXPECT_EQ(format_double(0.0), "0");
  EXPECT_EQ(format_double(-0.0), "0");
  EXPECT_EQ(format_double(1), "1");
  EXPECT_EQ(format_double(-1), "-1");
  EXPECT_EQ(format_double(1e6), "1000000");
  EXPECT_EQ(format_double(123456789012.0), "123456789012");
  EXPECT_EQ(format_double(9007199254740992.0), "9007199254740992");
  EXPECT_EQ(format_double(1e20), "100000000000000000000");
  EXPECT_EQ(format_double(1e21), "1e+21");
  EXPECT_EQ(format_double(1.5e300), "1.5e+300");
  EXPECT_EQ(format_double(2.5), "2.5");
  EXPECT_EQ(format_double(0.1), "0.1");
  EXPECT_EQ(format_double(0.0005), "0.0005");
  EXPECT_EQ(format_double(0.0001), "0.0001");
  EXPECT_EQ(format_double(0.00001), "1e-05");
  EXPECT_EQ(format_double(-0.25), "-0.25");
  EXPECT_EQ(format_double(1.0 / 3.0), "0.3333333333333333");
  EXPECT_EQ(format_double(DBL_MAX), "1.7976931348623157e+308");
  EXPECT_EQ(format_double(4.9406564584124654e-324), "5e-324");
  EXPECT_EQ(format_double(INFINITY), "+Inf");
  EXPECT_EQ(format_double(-INFINITY), "-Inf");
  EXPECT_EQ(format_double(NAN), "NaN");
}

TEST(PrometheusText, FloatsRoundTripExactly) {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<std::uint64_t> bits;
  int checked = 0;
  for (int i = 0; i < 20000; ++i) {
    double v = 0;
    const auto b = bits(rng);
    std::memcpy(&v, &b, sizeof v);
    if (!std::isfinite(v)) continue;
    const auto text = format_double(v);
    ASSERT_EQ(std::strtod(text.c_str(), nullptr), v == 0 ? 0.0 : v) << text;
    ++checked;
  }
  for (double v : {0.1, 0.2, 0.3, 1e-4, 9.999999999999999e-5, 123.456, 1e15 + 0.5}) {
    EXPECT_EQ(std::strtod(format_double(v).c_str(), nullptr), v);
  }
  EXPECT_GT(checked, 19000);
}

TEST(PrometheusText, ContentType) { EXPECT_EQ(kPrometheusContentType, "text/plain; version=0.0.4; charset=utf-8"); }

// `promtool check metrics` parses and lints the exposition; exit 0 means no parse error and no lint
// problem.
struct PromtoolResult {
  int exit_code = -1;
  std::string output;
};

PromtoolResult run_promtool(const std::string& promtool, const std::string& text) {
  char dir_template[] = "/tmp/bastion-observe-XXXXXX";
  const char* dir = ::mkdtemp(dir_template);
  if (dir == nullptr) return {};
  const std::string input = std::string(dir) + "/metrics.prom";
  const std::string output = std::string(dir) + "/promtool.out";
  std::ofstream(input) << text;
  const std::string command = "'" + promtool + "' check metrics < '" + input + "' > '" + output + "' 2>&1";
  const int status = std::system(command.c_str());
  PromtoolResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(output);
  std::stringstream buffer;
  buffer << in.rdbuf();
  result.output = buffer.str();
  std::remove(input.c_str());
  std::remove(output.c_str());
  ::rmdir(dir);
  return result;
}

std::string promtool_path() {
  if (const char* env = std::getenv("BASTION_PROMTOOL")) return env;  // set by ctest
  return "/usr/bin/promtool";
}

TEST(PrometheusText, PromtoolAcceptsRenderOutput) {
  const auto promtool = promtool_path();
  if (::access(promtool.c_str(), X_OK) != 0) {
    if (std::getenv("BASTION_PROMTOOL") != nullptr) FAIL() << "promtool not found at " << promtool;
    GTEST_SKIP() << "promtool not installed";
  }
  Registry r(RegistryOptions{.max_children_per_family = 2});
  fill_golden(r);
  register_process_metrics(r);
  auto& odd = r.counter("bastion_odd_total", "Escaping \\ and\nnewlines.", {"value"});
  odd.labels({"quote \" backslash \\ newline \n end"}).inc();
  odd.labels({"\xff invalid utf-8"}).inc();
  odd.labels({"third goes to _other"}).add(0.5);
  r.gauge("bastion_extreme_values", "Extreme values.", {"kind"}).labels({"huge"}).set(1e300);
  r.gauge("bastion_extreme_values", "Extreme values.", {"kind"}).labels({"tiny"}).set(5e-324);
  r.gauge("bastion_special_values", "Special values.", {"kind"}).labels({"nan"}).set(NAN);
  r.gauge("bastion_special_values", "Special values.", {"kind"}).labels({"inf"}).set(INFINITY);
  r.histogram("bastion_empty_seconds", "Histogram without observations.", {"upstream"}).labels({"a"});

  const auto text = render(r);
  const auto result = run_promtool(promtool, text);
  EXPECT_EQ(result.exit_code, 0) << result.output << "\n--- input ---\n" << text;

  // The check is meaningful: a broken exposition is rejected.
  const auto broken = run_promtool(promtool, "# TYPE x counter\nx{a=\"unterminated} 1\n");
  EXPECT_NE(broken.exit_code, 0) << broken.output;
}

}  // namespace
}  // namespace bastion::observe

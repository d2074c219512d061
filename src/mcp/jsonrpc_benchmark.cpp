// The JSON-RPC codec on the request path: parse and validate a tools/call body as a client sends
// it (2026-07-28 form), and serialise the reply Bastion writes back; a small call and one whose
// arguments and result carry ~10 KB. The upstream side (one stdio line) is measured too.
#include <benchmark/benchmark.h>

#include <string>

#include "mcp/jsonrpc.hpp"

namespace {

namespace json = boost::json;
using namespace bastion::mcp;

const std::string kMeta =
    R"("_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}})";

// A tools/call request whose arguments hold `rows` records (~100 bytes each).
std::string tools_call(int rows) {
  std::string args = R"({"message":"hello")";
  if (rows > 0) {
    args += R"(,"rows":[)";
    for (int i = 0; i < rows; ++i) {
      if (i) args += ',';
      args += R"({"id":)" + std::to_string(i) +
              R"(,"name":"row )" + std::to_string(i) +
              R"(","tags":["alpha","beta"],"score":0.75,"active":true,"note":"a short note"})";
    }
    args += ']';
  }
  args += '}';
  return R"({"jsonrpc":"2.0","id":"t0-1","method":"tools/call","params":{"name":"echo","arguments":)" + args +
         "," + kMeta + "}}";
}

// The result of a tools/call whose text content is `bytes` long.
json::object call_result(std::size_t bytes) {
  return json::object{
      {"content", json::array{json::object{{"type", "text"}, {"text", std::string(bytes, 'x')}}}},
      {"isError", false},
      {"resultType", "complete"},
      {"_meta", json::object{{"io.modelcontextprotocol/serverInfo",
                              json::object{{"name", "bastion"}, {"version", "0.1.0"}}}}}};
}

// Parse + validate + what routing reads (method, params.name).
void parse_request(benchmark::State& state, const std::string& body) {
  const ParseLimits limits{64};
  for (auto _ : state) {
    auto parsed = parse_body(body, limits);
    const auto& message = parsed.body->messages.front();
    benchmark::DoNotOptimize(message.method());
    benchmark::DoNotOptimize(message.params()->if_contains("name"));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
  state.counters["bytes"] = static_cast<double>(body.size());
}

void BM_ParseToolsCallSmall(benchmark::State& state) { parse_request(state, tools_call(0)); }
BENCHMARK(BM_ParseToolsCallSmall);

void BM_ParseToolsCall10KB(benchmark::State& state) { parse_request(state, tools_call(100)); }
BENCHMARK(BM_ParseToolsCall10KB);

// make_result + serialise: what the router does for the reply to a client.
void serialise_reply(benchmark::State& state, std::size_t bytes) {
  const json::object result = call_result(bytes);
  const json::value id = "t0-1";
  std::size_t size = 0;
  for (auto _ : state) {
    auto reply = json::serialize(make_result(id, result));
    size = reply.size();
    benchmark::DoNotOptimize(reply);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
  state.counters["bytes"] = static_cast<double>(size);
}

void BM_SerialiseReplySmall(benchmark::State& state) { serialise_reply(state, 5); }
BENCHMARK(BM_SerialiseReplySmall);

void BM_SerialiseReply10KB(benchmark::State& state) { serialise_reply(state, 10'000); }
BENCHMARK(BM_SerialiseReply10KB);

// An upstream's reply line (stdio transport): parsed and classified before it is relayed.
void parse_upstream_reply(benchmark::State& state, std::size_t bytes) {
  const std::string line = json::serialize(make_result(json::value(7), call_result(bytes)));
  for (auto _ : state) {
    auto message = parse_upstream_line(line);
    benchmark::DoNotOptimize(message);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * line.size()));
  state.counters["bytes"] = static_cast<double>(line.size());
}

void BM_ParseUpstreamReplySmall(benchmark::State& state) { parse_upstream_reply(state, 5); }
BENCHMARK(BM_ParseUpstreamReplySmall);

void BM_ParseUpstreamReply10KB(benchmark::State& state) { parse_upstream_reply(state, 10'000); }
BENCHMARK(BM_ParseUpstreamReply10KB);

}  // namespace

BENCHMARK_MAIN();

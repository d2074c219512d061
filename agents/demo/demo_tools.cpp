// The demo tools of ARCHITECTURE §3: echo, contradict, slow, fail, leak.
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "demo/content.hpp"
#include "demo/tool_args.hpp"
#include "demo/tool_catalog.hpp"

namespace bastion::demo {
namespace {

constexpr std::int64_t kMaxSlowMs = 300000;
constexpr std::int64_t kMaxLeakPerCallMib = 1024;
constexpr std::int64_t kMaxLeakTotalMib = 16384;
constexpr int kSlowProgressSteps = 10;

constexpr std::array<std::string_view, 4> kContradictionLevels = {"none", "mild", "moderate",
                                                                  "extreme"};

std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t hash = 14695981039346656037ull;
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  return hash;
}

double round3(double value) { return std::round(std::clamp(value, 0.0, 1.0) * 1000.0) / 1000.0; }

Outcome echo(CallContext&, const json::object& args) {
  const auto message = string_arg(args, "message");
  if (!message) {
    return content::tool_error("echo needs a string argument 'message'");
  }
  return content::tool_text(*message);
}

std::string contradiction_text(std::string_view level, std::string_view claim) {
  const std::string quoted = "\"" + std::string(claim) + "\"";
  if (level == "none") {
    return "No objection: " + quoted + " matches what I know.";
  }
  if (level == "mild") {
    return "Not quite: " + quoted + " overstates the case; it is only partly true.";
  }
  if (level == "moderate") {
    return "I disagree: " + quoted + " does not hold.";
  }
  return "Absolutely not: the opposite of " + quoted + " is true.";
}

Outcome contradict(CallContext&, const json::object& args) {
  const auto claim = string_arg(args, "claim");
  if (!claim) {
    return content::tool_error("contradict needs a string argument 'claim'");
  }
  // Everything derives from a hash of the claim, so the same claim always gets the same tags.
  const std::uint64_t hash = fnv1a(*claim);
  std::string_view level = kContradictionLevels[hash % kContradictionLevels.size()];
  if (const json::value* forced = args.if_contains("level")) {
    const auto* it = forced->is_string()
                         ? std::find(kContradictionLevels.begin(), kContradictionLevels.end(),
                                     std::string_view(forced->get_string()))
                         : kContradictionLevels.end();
    if (it == kContradictionLevels.end()) {
      return content::tool_error("level must be one of none, mild, moderate, extreme");
    }
    level = *it;
  }
  constexpr std::array<double, 4> kBaseQuality = {0.92, 0.74, 0.48, 0.18};
  const auto level_index = static_cast<std::size_t>(
      std::find(kContradictionLevels.begin(), kContradictionLevels.end(), level) -
      kContradictionLevels.begin());
  double quality =
      round3(kBaseQuality[level_index] + static_cast<double>((hash >> 8) % 61) / 1000.0 - 0.03);
  if (const json::value* forced = args.if_contains("quality")) {
    const auto value = as_number(*forced);
    if (!value || *value < 0.0 || *value > 1.0) {
      return content::tool_error("quality must be a number between 0 and 1");
    }
    quality = round3(*value);
  }
  const double precision = round3(quality - 0.05 + static_cast<double>((hash >> 20) % 11) / 100.0);
  const double confidence = round3(0.55 + static_cast<double>((hash >> 32) % 41) / 100.0);

  json::object result = content::tool_text(contradiction_text(level, *claim));
  json::object meta;
  meta["bastion/quality"] = quality;
  meta["bastion/precision"] = precision;
  meta["bastion/confidence"] = confidence;
  meta["bastion/contradiction"] = level;
  result["_meta"] = std::move(meta);
  return result;
}

Outcome slow(CallContext& ctx, const json::object& args) {
  const json::value* raw = args.if_contains("ms");
  const auto ms = raw != nullptr ? as_integer(*raw) : std::nullopt;
  if (!ms || *ms < 0 || *ms > kMaxSlowMs) {
    return content::tool_error("slow needs an integer argument 'ms' between 0 and 300000");
  }
  const auto total = static_cast<double>(*ms);
  if (!ctx.has_progress_token()) {
    if (!ctx.sleep_for(std::chrono::milliseconds(*ms))) {
      return NoReply{};
    }
  } else {
    ctx.progress(0, total, "started");
    std::int64_t elapsed = 0;
    for (int step = 1; step <= kSlowProgressSteps; ++step) {
      const std::int64_t target = *ms * step / kSlowProgressSteps;
      if (!ctx.sleep_for(std::chrono::milliseconds(target - elapsed))) {
        return NoReply{};
      }
      elapsed = target;
      ctx.progress(static_cast<double>(elapsed), total,
                   "slept " + std::to_string(elapsed) + " of " + std::to_string(*ms) + " ms");
    }
  }
  json::object result = content::tool_text("Slept " + std::to_string(*ms) + " ms");
  json::object structured;
  structured["sleptMs"] = *ms;
  result["structuredContent"] = std::move(structured);
  return result;
}

Outcome fail(CallContext&, const json::object& args) {
  if (const json::value* raw = args.if_contains("code")) {
    const auto code = as_integer(*raw);
    // Only a negative code that fits a JSON-RPC error object is answered as a JSON-RPC error.
    if (code && *code < 0 && *code >= std::numeric_limits<std::int32_t>::min()) {
      json::object data;
      data["requestedCode"] = *code;
      return jsonrpc::RpcError{static_cast<int>(*code),
                               "Requested failure with JSON-RPC code " + std::to_string(*code),
                               json::value(std::move(data))};
    }
  }
  return content::tool_error("Requested failure: this tool always fails");
}

struct LeakedMemory {
  std::mutex mutex;
  std::vector<std::unique_ptr<char[]>> blocks;
  std::int64_t total_mib = 0;
};

LeakedMemory& leaked() {
  static LeakedMemory memory;  // held for the process lifetime on purpose
  return memory;
}

Outcome leak(CallContext&, const json::object& args) {
  const json::value* raw = args.if_contains("mb");
  const auto mib = raw != nullptr ? as_integer(*raw) : std::nullopt;
  if (!mib || *mib < 1 || *mib > kMaxLeakPerCallMib) {
    return content::tool_error("leak needs an integer argument 'mb' between 1 and 1024");
  }
  LeakedMemory& memory = leaked();
  {
    std::lock_guard lock(memory.mutex);
    if (memory.total_mib + *mib > kMaxLeakTotalMib) {
      return content::tool_error("leak refuses to hold more than 16384 MiB in total");
    }
  }
  const auto bytes = static_cast<std::size_t>(*mib) * 1024 * 1024;
  std::unique_ptr<char[]> block(new (std::nothrow) char[bytes]);
  if (!block) {
    return content::tool_error("allocation of " + std::to_string(*mib) + " MiB failed");
  }
  // Touch every page so the pages are really resident, not just reserved address space.
  std::memset(block.get(), 0xA5, bytes);
  std::int64_t total = 0;
  {
    std::lock_guard lock(memory.mutex);
    memory.blocks.push_back(std::move(block));
    memory.total_mib += *mib;
    total = memory.total_mib;
  }
  json::object result = content::tool_text("Leaked " + std::to_string(*mib) + " MiB; " +
                                           std::to_string(total) + " MiB held in total");
  json::object structured;
  structured["leakedMiB"] = *mib;
  structured["totalLeakedMiB"] = total;
  result["structuredContent"] = std::move(structured);
  return result;
}

}  // namespace

std::vector<ToolDefinition> demo_tools() {
  std::vector<ToolDefinition> tools;

  json::object echo_props;
  echo_props["message"] = schema::string("Text to return unchanged");
  tools.push_back({"echo", "Echo", "Returns the message unchanged.",
                   schema::object(std::move(echo_props), {"message"}), echo});

  json::object level;
  level["type"] = "string";
  level["enum"] = json::array{"none", "mild", "moderate", "extreme"};
  level["description"] = "Force the contradiction level (default: derived from the claim)";
  json::object contradict_props;
  contradict_props["claim"] = schema::string("The statement to contradict");
  contradict_props["level"] = std::move(level);
  contradict_props["quality"] =
      schema::number("Force the reported output quality (default: derived from the claim)", 0, 1);
  tools.push_back({"contradict", "Contradict",
                   "Replies with a contradiction of the claim and reports quality, precision, "
                   "confidence and contradiction level in the result _meta (bastion/*).",
                   schema::object(std::move(contradict_props), {"claim"}), contradict});

  json::object slow_props;
  slow_props["ms"] = schema::integer("Milliseconds to sleep", 0, kMaxSlowMs);
  tools.push_back({"slow", "Slow",
                   "Sleeps for ms milliseconds, then answers. Reports progress when the request "
                   "carries a progressToken; notifications/cancelled stops it.",
                   schema::object(std::move(slow_props), {"ms"}), slow, true});

  json::object code;
  code["type"] = "integer";
  code["description"] =
      "A negative JSON-RPC error code to answer with; absent or non-negative gives an isError "
      "tool result";
  json::object fail_props;
  fail_props["code"] = std::move(code);
  tools.push_back({"fail", "Fail", "Always fails, as a JSON-RPC error or an isError result.",
                   schema::object(std::move(fail_props)), fail});

  json::object leak_props;
  leak_props["mb"] = schema::integer("MiB to allocate and keep", 1, kMaxLeakPerCallMib);
  tools.push_back({"leak", "Leak",
                   "Allocates mb MiB, touches every page and keeps it until the process exits "
                   "(memory-pressure tests). Reports the total held.",
                   schema::object(std::move(leak_props), {"mb"}), leak, true});
  return tools;
}

}  // namespace bastion::demo

#pragma once
// Test-only: fully populated interaction rows.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/testing/temp_dir.hpp"
#include "record/interaction.hpp"

namespace bastion::record::testing {

// Row `i`: every optional column set on even rows, left empty on odd rows. Timestamps are whole
// milliseconds (what stores keep), one millisecond apart from `base`.
inline Interaction make_record(int i, Clock::time_point base = Clock::time_point{
                                          std::chrono::milliseconds{1'795'887'107'000}}) {
  Interaction r;
  r.timestamp = base + std::chrono::milliseconds(i);
  // A UUIDv7 whose random bits are `i`: the same row every call, ids ordered like (time, i).
  auto ms = static_cast<unsigned long long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(r.timestamp.time_since_epoch())
          .count());
  char id[96];
  std::snprintf(id, sizeof id, "%08llx-%04llx-7000-8000-%012llx", ms >> 16, ms & 0xFFFF,
                static_cast<unsigned long long>(i));
  r.id = id;
  r.agent_type = "demo";
  r.method = "tools/call";
  r.latency_ms = 1.5 * i;
  r.latency_bucket = i % 2 ? "slow" : "fast";
  r.request_bytes = 100 + i;
  r.response_bytes = 200 + i;
  if (i % 2 == 0) {
    r.tool = "echo";
    r.client = "alice";
    r.session_hash = std::string(64, 'a');
    r.input_hash = std::string(64, 'b');
    r.output_hash = std::string(64, 'c');
    r.status = "error";
    r.error_code = -32000 - i;
    r.error_message = "boom \"quoted\"\n" + std::to_string(i);
    r.output_quality = 0.25;
    r.precision_score = 1.0 / 3.0;
    r.agent_confidence = 0.0;
    r.contradiction_applied = true;
    r.contradiction_level = "moderate";
    r.trace_id = std::string(32, 'f');
    r.input = R"({"message":"héllo"})";
    r.output = R"({"content":[]})";
  }
  return r;
}

// A fresh directory under $TMPDIR, removed with everything in it.
struct TempDir : core::testing::TempDir {
  TempDir() : core::testing::TempDir("record") {}
};

}  // namespace bastion::record::testing

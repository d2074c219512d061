#include "record/spool.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "record/test_records.hpp"

namespace bastion::record {
namespace {
using testing::make_record;
using testing::TempDir;
namespace fs = std::filesystem;

SpoolConfig config(const fs::path& dir, std::uint64_t segment_bytes = 16 << 20,
                   std::uint64_t max_bytes = 1 << 30) {
  SpoolConfig c;
  c.dir = dir;
  c.segment_bytes = segment_bytes;
  c.max_bytes = max_bytes;
  return c;
}

std::vector<Interaction> batch(int from, int count) {
  std::vector<Interaction> out;
  for (int i = from; i < from + count; ++i) out.push_back(make_record(i));
  return out;
}

std::vector<fs::path> segments(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".spool") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<Interaction> drain(Spool& spool) {
  std::vector<Interaction> all;
  spool.replay([&](std::vector<Interaction>& records) {
    all.insert(all.end(), records.begin(), records.end());
    return true;
  });
  return all;
}

TEST(Crc32c, KnownVector) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(""), 0u);
}

TEST(Spool, AppendReplayInOrderAndAckDeletes) {
  TempDir dir;
  Spool spool(config(dir.path()));
  ASSERT_TRUE(spool.open().ok);
  EXPECT_FALSE(spool.has_pending());
  auto a = batch(0, 3), b = batch(3, 2);
  ASSERT_TRUE(spool.append(a).ok());
  ASSERT_TRUE(spool.append(b).ok());
  EXPECT_TRUE(spool.has_pending());
  EXPECT_GT(spool.bytes(), 0u);

  auto first = spool.next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->records, a);
  auto again = spool.next();  // not consumed: the same frame again
  ASSERT_TRUE(again);
  EXPECT_EQ(again->end, first->end);
  spool.consume(first->end);
  auto second = spool.next();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->records, b);
  spool.consume(second->end);
  EXPECT_FALSE(spool.next());
  EXPECT_FALSE(spool.has_pending());
  EXPECT_EQ(spool.bytes(), 0u);
  EXPECT_TRUE(segments(dir.path()).empty());  // drained segments are deleted

  ASSERT_TRUE(spool.append(batch(5, 1)).ok());  // appends after a drain start a new segment
  EXPECT_EQ(drain(spool), batch(5, 1));
}

TEST(Spool, ReplayStopsWhereTheVisitorRefuses) {
  TempDir dir;
  Spool spool(config(dir.path()));
  ASSERT_TRUE(spool.open().ok);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(spool.append(batch(i * 2, 2)).ok());
  int calls = 0;
  auto stats = spool.replay([&](std::vector<Interaction>&) { return ++calls <= 2; });
  EXPECT_EQ(stats.frames, 2u);
  EXPECT_EQ(stats.records, 4u);
  EXPECT_FALSE(stats.drained);
  EXPECT_EQ(drain(spool), batch(4, 4));  // resumes at the refused frame
}

TEST(Spool, SegmentsRollAtTheSizeLimit) {
  TempDir dir;
  Spool spool(config(dir.path(), 2048));
  ASSERT_TRUE(spool.open().ok);
  std::vector<Interaction> all;
  for (int i = 0; i < 20; ++i) {
    auto b = batch(i * 2, 2);
    ASSERT_TRUE(spool.append(b).ok());
    all.insert(all.end(), b.begin(), b.end());
  }
  auto segs = segments(dir.path());
  EXPECT_GT(segs.size(), 3u);
  for (const auto& s : segs) EXPECT_LE(fs::file_size(s), 2048u);
  EXPECT_EQ(spool.segment_count(), segs.size());
  EXPECT_EQ(drain(spool), all);
  EXPECT_TRUE(segments(dir.path()).empty());
}

TEST(Spool, OverCapIsAnErrorAndNothingIsWritten) {
  TempDir dir;
  Spool spool(config(dir.path(), 16 << 20, 4096));
  ASSERT_TRUE(spool.open().ok);
  int accepted = 0;
  SpoolAppendResult r;
  for (int i = 0; i < 100 && r.ok(); ++i) {
    r = spool.append(batch(i, 1));
    if (r.ok()) ++accepted;
  }
  EXPECT_EQ(r.error, SpoolAppendResult::Error::over_cap);
  EXPECT_GT(accepted, 0);
  EXPECT_LE(spool.bytes(), 4096u);
  EXPECT_EQ(drain(spool).size(), static_cast<std::size_t>(accepted));
  EXPECT_TRUE(spool.append(batch(0, 1)).ok());  // room again once drained
}

TEST(Spool, SecondProcessCannotShareTheDirectory) {
  TempDir dir;
  Spool a(config(dir.path()));
  ASSERT_TRUE(a.open().ok);
  Spool b(config(dir.path()));
  EXPECT_FALSE(b.open().ok);
}

// kill -9 between appends: the process dies mid-frame (torn tail); a new run replays every
// complete frame, counts the torn one, and keeps working.
TEST(Spool, SurvivesACrashWithATornTail) {
  TempDir dir;
  std::vector<Interaction> complete;
  {
    Spool spool(config(dir.path()));
    ASSERT_TRUE(spool.open().ok);
    for (int i = 0; i < 3; ++i) {
      auto b = batch(i * 3, 3);
      ASSERT_TRUE(spool.append(b).ok());
      if (i < 2) complete.insert(complete.end(), b.begin(), b.end());
    }
  }  // destroyed without any shutdown step, like a killed process
  auto segs = segments(dir.path());
  ASSERT_EQ(segs.size(), 1u);
  fs::resize_file(segs[0], fs::file_size(segs[0]) - 7);  // the last frame is torn

  Spool spool(config(dir.path()));
  ASSERT_TRUE(spool.open().ok);
  ASSERT_TRUE(spool.append(batch(100, 1)).ok());  // written to a fresh segment
  EXPECT_EQ(segments(dir.path()).size(), 2u);
  auto expected = complete;
  expected.push_back(make_record(100));
  EXPECT_EQ(drain(spool), expected);
  EXPECT_EQ(spool.corrupt_frames(), 1u);
  EXPECT_FALSE(spool.has_pending());
  EXPECT_TRUE(segments(dir.path()).empty());
}

TEST(Spool, TornHeaderAndGarbageTails) {
  for (std::string tail : {std::string("BSP"), std::string("\x00\x00\x00\x00\x00", 5),
                           std::string("BSP1\xff\xff\xff\x7f....", 12)}) {
    TempDir dir;
    {
      Spool spool(config(dir.path()));
      ASSERT_TRUE(spool.open().ok);
      ASSERT_TRUE(spool.append(batch(0, 2)).ok());
    }
    auto seg = segments(dir.path()).at(0);
    std::ofstream(seg, std::ios::app | std::ios::binary) << tail;
    Spool spool(config(dir.path()));
    ASSERT_TRUE(spool.open().ok);
    EXPECT_EQ(drain(spool), batch(0, 2));
    EXPECT_EQ(spool.corrupt_frames(), 1u);
  }
}

TEST(Spool, ChecksumMismatchSkipsOnlyThatFrame) {
  TempDir dir;
  {
    Spool spool(config(dir.path()));
    ASSERT_TRUE(spool.open().ok);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(spool.append(batch(i * 2, 2)).ok());
  }
  auto seg = segments(dir.path()).at(0);
  auto size = fs::file_size(seg);
  {
    std::fstream f(seg, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size / 2));  // inside the middle frame's payload
    f.put('#');
  }
  Spool spool(config(dir.path()));
  ASSERT_TRUE(spool.open().ok);
  auto got = drain(spool);
  EXPECT_EQ(spool.corrupt_frames(), 1u);
  auto expected = batch(0, 2);
  auto last = batch(4, 2);
  expected.insert(expected.end(), last.begin(), last.end());
  EXPECT_EQ(got, expected);
}

}  // namespace
}  // namespace bastion::record

#include "upstream/stdio/line_framer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace bastion::upstream::stdio {
namespace {

struct Collector {
  std::vector<std::string> lines;
  std::vector<std::size_t> oversized;

  void feed(LineFramer& f, std::string_view bytes) {
    f.feed(
        bytes, [this](std::string_view l) { lines.emplace_back(l); },
        [this](std::size_t n) { oversized.push_back(n); });
  }
};

TEST(LineFramer, SplitsLinesAcrossChunks) {
  LineFramer f(1024);
  Collector c;
  c.feed(f, "{\"jsonrpc\":");
  EXPECT_TRUE(c.lines.empty());
  EXPECT_EQ(f.buffered(), 11u);
  c.feed(f, "\"2.0\"}\n{\"a\"");
  ASSERT_EQ(c.lines.size(), 1u);
  EXPECT_EQ(c.lines[0], R"({"jsonrpc":"2.0"})");
  EXPECT_EQ(f.buffered(), 4u);
  c.feed(f, ":1}\n");
  ASSERT_EQ(c.lines.size(), 2u);
  EXPECT_EQ(c.lines[1], R"({"a":1})");
  EXPECT_EQ(f.buffered(), 0u);
}

TEST(LineFramer, ByteByByte) {
  LineFramer f(64);
  Collector c;
  const std::string input = "one\r\ntwo\nthree\n";
  for (char ch : input) c.feed(f, std::string_view(&ch, 1));
  EXPECT_EQ(c.lines, (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_TRUE(c.oversized.empty());
}

TEST(LineFramer, StripsTrailingCarriageReturnOnly) {
  LineFramer f(64);
  Collector c;
  c.feed(f, "a\r\nb\rc\r\n\r\n");
  // Only the '\r' right before '\n' is a line ending; an embedded one is content.
  EXPECT_EQ(c.lines, (std::vector<std::string>{"a", "b\rc"}));
}

TEST(LineFramer, CrLfSplitBetweenChunks) {
  LineFramer f(64);
  Collector c;
  c.feed(f, "hello\r");
  c.feed(f, "\nworld\r");
  c.feed(f, "\n");
  EXPECT_EQ(c.lines, (std::vector<std::string>{"hello", "world"}));
}

TEST(LineFramer, SkipsEmptyLines) {
  LineFramer f(64);
  Collector c;
  c.feed(f, "\n\n\r\nx\n\n");
  EXPECT_EQ(c.lines, (std::vector<std::string>{"x"}));
}

TEST(LineFramer, ManyLinesInOneChunk) {
  LineFramer f(32);
  Collector c;
  std::string chunk;
  for (int i = 0; i < 1000; ++i) chunk += "line-" + std::to_string(i) + "\n";
  chunk += "tail";
  c.feed(f, chunk);
  ASSERT_EQ(c.lines.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(c.lines[i], "line-" + std::to_string(i));
  EXPECT_EQ(f.buffered(), 4u);
}

TEST(LineFramer, LineExactlyAtLimitIsKept) {
  LineFramer f(8);
  Collector c;
  c.feed(f, "12345678\n");
  EXPECT_EQ(c.lines, (std::vector<std::string>{"12345678"}));
  EXPECT_TRUE(c.oversized.empty());
}

TEST(LineFramer, OversizedLineInOneChunkIsDroppedAndNeighboursSurvive) {
  LineFramer f(8);
  Collector c;
  c.feed(f, "ok1\n123456789\nok2\n");
  EXPECT_EQ(c.lines, (std::vector<std::string>{"ok1", "ok2"}));
  EXPECT_EQ(c.oversized, (std::vector<std::size_t>{9}));
}

// The start of an oversized line stays readable during on_oversized (its owner may recognise
// whose reply it was), whether the line crossed the cap in one chunk or over several.
TEST(LineFramer, OversizedHeadIsTheStartOfTheLine) {
  const std::string line = R"({"jsonrpc":"2.0","id":7,"result":")" + std::string(3000, 'x') + "\"}\n";
  for (std::size_t chunk : {std::size_t{1}, std::size_t{50}, std::size_t{4096}}) {
    LineFramer f(1000);
    std::vector<std::string> heads;
    for (std::size_t i = 0; i < line.size(); i += chunk) {
      f.feed(
          std::string_view(line).substr(i, chunk), [](std::string_view) {},
          [&](std::size_t) { heads.emplace_back(f.oversized_head()); });
    }
    ASSERT_EQ(heads.size(), 1u) << "chunk " << chunk;
    EXPECT_EQ(heads[0], line.substr(0, LineFramer::kHeadBytes)) << "chunk " << chunk;
  }
}

TEST(LineFramer, OversizedLineAcrossChunksReportedOnceAndBufferStaysBounded) {
  LineFramer f(16);
  Collector c;
  c.feed(f, "0123456789");
  c.feed(f, "0123456789");  // crosses the limit here
  EXPECT_EQ(c.oversized, (std::vector<std::size_t>{20}));
  EXPECT_TRUE(f.discarding());
  EXPECT_EQ(f.buffered(), 0u);
  for (int i = 0; i < 1000; ++i) {
    c.feed(f, std::string(1000, 'x'));  // a megabyte without newline
    ASSERT_EQ(f.buffered(), 0u);
  }
  c.feed(f, "still the same line\nnext\n");
  EXPECT_EQ(c.oversized.size(), 1u);
  EXPECT_FALSE(f.discarding());
  EXPECT_EQ(c.lines, (std::vector<std::string>{"next"}));
}

TEST(LineFramer, SecondOversizedLineReportedSeparately) {
  LineFramer f(4);
  Collector c;
  c.feed(f, "aaaaaa\nbbbbbbbb\ncc\n");
  EXPECT_EQ(c.oversized, (std::vector<std::size_t>{6, 8}));
  EXPECT_EQ(c.lines, (std::vector<std::string>{"cc"}));
}

TEST(LineFramer, FinishDeliversUnterminatedTailButNotADiscardedOne) {
  {
    LineFramer f(16);
    Collector c;
    c.feed(f, "a\npartial\r");
    f.finish([&](std::string_view l) { c.lines.emplace_back(l); });
    EXPECT_EQ(c.lines, (std::vector<std::string>{"a", "partial"}));
    EXPECT_EQ(f.buffered(), 0u);
  }
  {
    LineFramer f(4);
    Collector c;
    c.feed(f, "toolongtail");
    f.finish([&](std::string_view l) { c.lines.emplace_back(l); });
    EXPECT_TRUE(c.lines.empty());
    EXPECT_EQ(c.oversized.size(), 1u);
  }
}

TEST(LineFramer, EmptyFeedIsNoop) {
  LineFramer f(4);
  Collector c;
  c.feed(f, "");
  EXPECT_TRUE(c.lines.empty());
  EXPECT_EQ(f.buffered(), 0u);
}

}  // namespace
}  // namespace bastion::upstream::stdio

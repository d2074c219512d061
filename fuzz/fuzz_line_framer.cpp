// The stdio framing reader: bytes from an agent's stdout in two pieces. Every line handed out is
// within the cap and has no '\n'; the same lines come out whatever the split.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "upstream/stdio/line_framer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t cap = 1 + data[0] % 64;
  std::string_view text(reinterpret_cast<const char*>(data + 2), size - 2);
  const std::size_t cut = data[1] % (text.size() + 1);
  auto run = [&](std::vector<std::string_view> pieces) {
    bastion::upstream::stdio::LineFramer framer(cap);
    std::vector<std::string> lines;
    for (auto p : pieces) {
      framer.feed(
          p,
          [&](std::string_view line) {
            if (line.size() > cap || line.find('\n') != std::string_view::npos) std::abort();
            lines.emplace_back(line);
          },
          [](std::size_t) {});
    }
    return lines;
  };
  if (run({text}) != run({text.substr(0, cut), text.substr(cut)})) std::abort();
  return 0;
}

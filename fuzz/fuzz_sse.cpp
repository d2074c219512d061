// The upstream SSE parser, fed the same bytes whole and in two pieces: same events either way.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "net/client/sse_parser.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  bastion::net::client::SseParser whole, split;
  std::vector<bastion::net::client::SseEvent> a, b;
  auto ea = whole.feed(text, a);
  const std::size_t cut = text.empty() ? 0 : data[0] % (text.size() + 1);
  auto eb = split.feed(text.substr(0, cut), b);
  if (!eb) eb = split.feed(text.substr(cut), b);
  if (!ea && !eb && a.size() != b.size()) std::abort();
  return 0;
}

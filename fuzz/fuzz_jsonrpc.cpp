// JSON-RPC/MCP bodies as a client sends them: parse with the gateway's limits, then every
// question the router and the era detection ask of what parsed.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mcp/http_headers.hpp"
#include "mcp/jsonrpc.hpp"
#include "mcp/protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = bastion::mcp::parse_body(text, bastion::mcp::ParseLimits{64});
  if (!parsed.body) return 0;
  for (const auto& m : parsed.body->messages) {
    (void)m.method();
    (void)m.id();
    (void)m.params();
    (void)bastion::mcp::meta_protocol_version(m);
    (void)bastion::mcp::target_name(m);
  }
  return 0;
}

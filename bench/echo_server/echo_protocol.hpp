#pragma once
// The MCP side of bastion-bench-echo, without sockets: one HTTP request in, one reply out.
// A minimal, stateless Streamable-HTTP MCP server with a single tool, `echo {message}`, that
// speaks both eras:
//  - 2025 (2025-03-26 .. 2025-11-25): initialize mints an Mcp-Session-Id, later requests must
//    carry one (any value is accepted: the server keeps no session state, by design);
//  - 2026-07-28: every request names its version in params._meta; server/discover, tools/list
//    and tools/call answer with resultType "complete".
// Replies are always plain JSON (never SSE). Only what is needed to answer is validated.
// Optionally it is also a tiny bearer-token checker for nginx's auth_request (see EchoOptions).
#include <optional>
#include <string>
#include <string_view>

namespace bastion::bench {

enum class Verb { post, get, del, other };

// The parts of an HTTP request the echo server looks at. Absent headers are nullopt.
struct RequestView {
  Verb verb = Verb::post;
  std::string_view target;
  std::optional<std::string_view> content_type;
  std::optional<std::string_view> protocol_version;  // MCP-Protocol-Version
  std::optional<std::string_view> mcp_method;        // Mcp-Method (2026-07-28)
  std::optional<std::string_view> session_id;        // Mcp-Session-Id (2025 era)
  std::optional<std::string_view> authorization;     // Authorization (the auth route only)
  std::string_view body;
};

struct Reply {
  unsigned status = 200;
  std::string body;        // JSON when non-empty; empty means no body (202, 405 ...)
  std::string session_id;  // sent as Mcp-Session-Id when non-empty
  std::string_view allow;  // sent as Allow when non-empty (405)
};

struct EchoOptions {
  std::string path = "/mcp";
  std::size_t max_json_depth = 32;
  // When auth_token is set, requests to auth_path (any verb) are an auth check in the shape
  // nginx's auth_request expects: 204 for `Authorization: Bearer <auth_token>`, else 401.
  std::string auth_path = "/auth";
  std::string auth_token;
};

class EchoService {
 public:
  explicit EchoService(EchoOptions options);

  // Pure apart from minting session ids; safe to call from several threads at once.
  Reply handle(const RequestView& request) const;

  const EchoOptions& options() const { return options_; }

 private:
  EchoOptions options_;
  std::string tools_list_2025_;  // serialised once: the catalog never changes
  std::string tools_list_2026_;
  std::string discover_;
};

// 32 lower-case hex characters from a per-thread generator (visible ASCII, as the spec asks).
std::string mint_session_id();

}  // namespace bastion::bench

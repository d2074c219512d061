// Everything one tools/call or prompts/get handler may do besides computing its answer:
// report progress, log, sleep (cancellably) and ask the client for input.
//
// Asking is era-agnostic. In the session era ask() sends elicitation/sampling/roots requests to
// the client and blocks for the answer. In the stateless era (2026 MRTR) it looks the answer up
// in params.inputResponses or the signed requestState; a missing answer is recorded and
// input_stop() turns the round into an InputRequiredResult. Handlers are written once:
//
//   auto name = ctx.ask("user_name", elicitation(...));
//   if (auto stop = ctx.input_stop()) return std::move(*stop);
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "demo/outcome.hpp"
#include "demo/protocol.hpp"
#include "demo/session.hpp"

namespace bastion::demo {

namespace json = boost::json;

enum class CallKind { tool, prompt };

// The MRTR inputs of one stateless round, already validated and (for the state) verified.
struct RoundInput {
  json::object responses;  // params.inputResponses
  json::object carried;    // answers sealed into requestState by earlier rounds
  bool state_verified = false;
};

// Reads inputResponses/requestState; -32602 when they are malformed, tampered, expired or
// issued for another request.
std::variant<RoundInput, jsonrpc::RpcError> read_round_input(const RequestStateCodec& codec,
                                                             const json::object& params,
                                                             std::string_view method,
                                                             std::string_view target,
                                                             const json::object& arguments);

// SHA-256 of the canonical (key-sorted) JSON form; binds a requestState to its arguments.
std::string canonical_digest(const json::value& value);

class CallContext {
 public:
  CallContext(Session& session, std::shared_ptr<RequestControl> control, json::value request_id,
              protocol::RequestMeta meta, CallKind kind, std::string method, std::string target,
              std::string arguments_digest, RoundInput round);

  protocol::Era era() const { return meta_.era; }
  const json::value& request_id() const { return request_id_; }
  Session& session() { return session_; }
  bool client_supports(std::string_view capability) const;

  bool cancelled() const;
  // False when the request was cancelled before the time elapsed.
  bool sleep_for(std::chrono::milliseconds duration);
  bool has_progress_token() const { return meta_.progress_token.has_value(); }
  void progress(double done, double total, std::string_view message);
  void log(protocol::LogLevel level, json::value data);

  // Round-trips must present a verified requestState before answers are accepted.
  void require_state() { require_state_ = true; }
  bool state_verified() const { return round_.state_verified; }

  // input_request is {method, params}. Returns the client's answer when it is available.
  std::optional<json::object> ask(std::string_view key, json::object input_request);
  // Set when an ask() could not be answered: the Outcome the handler must return now.
  std::optional<Outcome> input_stop();

 private:
  struct InputFailure {
    enum class Kind { missing_capability, invalid_answer, client_error, unavailable };
    Kind kind;
    std::string capability;
    std::string message;
  };

  std::optional<json::object> ask_client(std::string_view method, json::object params);
  Outcome failure_outcome(const InputFailure& failure) const;
  json::object notification_meta() const;

  Session& session_;
  std::shared_ptr<RequestControl> control_;
  json::value request_id_;
  protocol::RequestMeta meta_;
  CallKind kind_;
  std::string method_;
  std::string target_;
  std::string arguments_digest_;
  RoundInput round_;
  bool require_state_ = false;
  json::object consumed_;  // answers used this round, sealed into the next requestState
  json::object pending_;   // requests still unanswered this round
  std::optional<InputFailure> failure_;
  bool cancelled_ = false;
};

}  // namespace bastion::demo

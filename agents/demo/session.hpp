// State shared by every request on the one stdio connection: the writer, the session-era
// handshake, in-flight requests (for cancellation) and requests the agent sends to the client.
#pragma once

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "demo/json_rpc.hpp"
#include "demo/line_io.hpp"
#include "demo/protocol.hpp"
#include "demo/request_state.hpp"
#include "demo/subscriptions.hpp"

namespace bastion::demo {

namespace json = boost::json;

// Per in-flight request: its cancellation flag and the mailbox for the client's reply to the
// one request the handler may be waiting on.
class RequestControl {
 public:
  enum class Wait { reply, cancelled, closed, timeout };

  void cancel();
  bool cancelled() const;
  // Set for requests running on a worker. Only those may block on the client's answer: the
  // stdin reader thread delivers that answer, so it must never wait for one itself.
  void allow_waiting() { may_wait_ = true; }
  bool may_wait() const { return may_wait_; }
  // Sleeps for duration unless cancelled first; false when cancelled.
  bool sleep_for(std::chrono::milliseconds duration);

  void deliver(json::object reply);
  void close();  // the client can no longer answer (stdin ended)
  void clear_reply();
  Wait await_reply(std::chrono::steady_clock::time_point deadline, json::object& reply);

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool cancelled_ = false;
  bool closed_ = false;
  std::atomic<bool> may_wait_{false};
  std::optional<json::object> reply_;
};

struct SessionOptions {
  std::chrono::milliseconds input_timeout{
      60000};  // wait for a client's elicitation/sampling answer
  std::size_t max_in_flight = 256;
  std::chrono::seconds state_max_age{3600};  // MRTR requestState lifetime
};

// Catalog switches flipped by the test_trigger_* tools (list_changed / updated notifications).
struct CatalogState {
  std::atomic<bool> dynamic_tool{false};
  std::atomic<bool> dynamic_prompt{false};
  std::atomic<bool> dynamic_resource{false};
  std::atomic<std::int64_t> watched_version{1};
};

class Session {
 public:
  Session(MessageWriter& writer, SessionOptions options);

  void send(const json::object& message);
  void send(const json::array& batch);
  void notify(std::string_view method, json::object params);

  // Session era (2025): initialize handshake and what it established.
  std::variant<json::object, jsonrpc::RpcError> initialize(const json::object& params);
  bool initialized() const;
  protocol::ClientCapabilities session_capabilities() const;
  protocol::LogLevel session_log_level() const;
  void set_session_log_level(protocol::LogLevel level);

  // In-flight requests, keyed by id, so notifications/cancelled can reach them.
  enum class Begin { ok, duplicate, busy };
  std::pair<Begin, std::shared_ptr<RequestControl>> begin_request(const json::value& id);
  void end_request(const json::value& id);
  void cancel_request(const json::value& id);
  void cancel_all();

  // A request from the agent to the client (session era only) and its outcome.
  enum class AskStatus { answered, client_error, timeout, cancelled, closed };
  struct AskResult {
    AskStatus status = AskStatus::closed;
    json::object reply;  // the client's whole response message when answered/client_error
  };
  AskResult ask_client(const std::shared_ptr<RequestControl>& control, std::string_view method,
                       json::object params);
  void deliver_reply(const jsonrpc::Response& response);
  // Stdin ended: every pending ask fails now and later ones fail at once.
  void close_input();

  const RequestStateCodec& state_codec() const { return codec_; }
  const SessionOptions& options() const { return options_; }
  CatalogState& catalog() { return catalog_; }
  Subscriptions& subscriptions() { return subscriptions_; }

 private:
  MessageWriter& writer_;
  SessionOptions options_;
  RequestStateCodec codec_;
  CatalogState catalog_;

  mutable std::mutex mutex_;
  bool initialized_ = false;
  protocol::ClientCapabilities capabilities_;
  protocol::LogLevel log_level_ = protocol::LogLevel::info;
  std::map<std::string, std::shared_ptr<RequestControl>> in_flight_;
  std::map<std::int64_t, std::weak_ptr<RequestControl>> outbound_;
  std::int64_t next_outbound_id_ = 1;
  bool input_closed_ = false;

  Subscriptions subscriptions_;  // last: it calls back into the members above
};

}  // namespace bastion::demo

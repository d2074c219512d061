// Test helper: runs the real bastion-demo-agent binary with pipes and exchanges JSON lines.
#pragma once

#include <sys/types.h>

#include <boost/json.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bastion::demo::testing {

namespace json = boost::json;
using namespace std::chrono_literals;

class AgentProcess {
 public:
  // extra_env entries look like "NAME=value".
  explicit AgentProcess(std::vector<std::string> extra_env = {});
  ~AgentProcess();  // kills (by pid) and reaps the agent if it is still running
  AgentProcess(const AgentProcess&) = delete;
  AgentProcess& operator=(const AgentProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool started() const { return pid_ > 0; }

  void send(const json::value& message);
  void send_raw(std::string_view bytes);  // no newline added
  void close_stdin();

  // The next message matching match (earlier non-matching ones are kept for later calls).
  std::optional<json::object> await(const std::function<bool(const json::object&)>& match,
                                    std::chrono::milliseconds timeout = 5000ms);
  std::optional<json::object> await_response(const json::value& id,
                                             std::chrono::milliseconds timeout = 5000ms);
  // Sends a request and waits for its response.
  std::optional<json::object> call(const json::value& id, std::string_view method,
                                   json::object params = {},
                                   std::chrono::milliseconds timeout = 5000ms);

  // Messages received but not claimed yet, removed from the backlog when they match.
  std::vector<json::object> take(const std::function<bool(const json::object&)>& match);

  // Lines that were not valid JSON objects (must stay empty: no interleaved writes).
  const std::vector<std::string>& bad_lines() const { return bad_lines_; }

  // Exit status once the process ends within timeout (nullopt: still running).
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

  // Resident set size from /proc/<pid>/status, in KiB.
  std::optional<long> rss_kib() const;

 private:
  enum class Read { data, timeout, eof };
  Read read_more(std::chrono::steady_clock::time_point deadline);

  pid_t pid_ = -1;
  int to_agent_ = -1;
  int from_agent_ = -1;
  std::string buffer_;
  std::deque<json::object> backlog_;
  std::vector<std::string> bad_lines_;
  std::optional<int> exit_status_;
};

json::object request(const json::value& id, std::string_view method, json::object params = {});
json::object notification(std::string_view method, json::object params = {});
json::object reply(const json::value& id, json::object result);

// Message predicates.
bool has_method(const json::object& message, std::string_view method);
std::string method_of(const json::object& message);

// _meta for a 2026-07-28 stateless request with the given client capabilities.
json::object stateless_meta(json::object capabilities);
json::object all_client_capabilities();

// First text block of a CallToolResult ("" when absent).
std::string first_text(const json::object& result);

}  // namespace bastion::demo::testing

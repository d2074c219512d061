// Who wants change notifications, in both eras:
//  - session era: list_changed goes to the initialized session, resources/updated to the URIs
//    it subscribed to with resources/subscribe;
//  - stateless era: each open subscriptions/listen request gets only the notification types it
//    asked for, tagged with its subscription id (the listen request's id).
#pragma once

#include <boost/json.hpp>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace bastion::demo {

namespace json = boost::json;

struct ListenFilter {
  bool tools = false;
  bool prompts = false;
  bool resources = false;
  std::vector<std::string> resource_uris;

  json::object to_json() const;
};

class Subscriptions {
 public:
  static constexpr std::size_t kMaxListeners = 32;
  static constexpr std::size_t kMaxListenUris = 64;
  static constexpr std::size_t kMaxSessionUris = 256;

  using Send = std::function<void(const json::object&)>;
  using SessionOpen = std::function<bool()>;

  Subscriptions(Send send, SessionOpen session_open);

  bool subscribe(const std::string& uri);  // false when the set is full
  void unsubscribe(const std::string& uri);

  // Sends the acknowledgement, then registers; false (nothing sent) when too many are open.
  bool listen(const json::value& id, ListenFilter honored);
  bool stop_listening(const json::value& id);  // true when id was an open listen request
  void stop_all();

  void tools_changed();
  void prompts_changed();
  void resources_changed();
  void resource_updated(std::string_view uri);

 private:
  struct Listener {
    json::value id;
    ListenFilter filter;
  };

  void publish(std::string_view method, bool to_session,
               const std::function<bool(const ListenFilter&)>& wants, const json::object& params);

  Send send_;
  SessionOpen session_open_;
  std::mutex mutex_;
  std::set<std::string> session_uris_;
  std::map<std::string, Listener> listeners_;  // keyed by jsonrpc::id_key
};

}  // namespace bastion::demo

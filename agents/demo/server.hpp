// The agent's stdio loop: reads lines, answers cheap requests inline, hands blocking ones to
// workers, feeds client replies back to waiting handlers, and shuts down cleanly on EOF.
#pragma once

#include <chrono>
#include <cstddef>

#include "demo/dispatcher.hpp"
#include "demo/json_rpc.hpp"
#include "demo/line_io.hpp"
#include "demo/session.hpp"
#include "demo/tool_catalog.hpp"
#include "demo/worker_pool.hpp"

namespace bastion::demo {

struct ServerOptions {
  SessionOptions session;
  std::size_t max_workers = 64;
  std::size_t max_batch = 128;
  std::chrono::milliseconds write_stall_timeout{30000};
  // After EOF, in-flight requests get this long to finish before they are cancelled.
  std::chrono::milliseconds shutdown_grace{5000};
};

class Server {
 public:
  Server(int in_fd, int out_fd, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int run();  // returns the process exit code

 private:
  void on_line(const std::string& line);
  void on_message(jsonrpc::Message message);
  void start_request(jsonrpc::Request request);
  void run_request(const jsonrpc::Request& request, const std::shared_ptr<RequestControl>& control);
  void run_batch(const json::array& batch);
  void send_error(const json::value& id, int code, std::string message);
  void shutdown();

  ServerOptions options_;
  int wake_read_ = -1;
  int wake_write_ = -1;
  MessageWriter writer_;
  LineReader reader_;
  Session session_;
  ToolCatalog tools_;
  Dispatcher dispatcher_;
  WorkerPool workers_;
};

}  // namespace bastion::demo

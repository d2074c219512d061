#include "demo/agent_process.hpp"

#include "demo/json_rpc.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

extern char** environ;

namespace bastion::demo::testing {

AgentProcess::AgentProcess(std::vector<std::string> extra_env) {
  // If the agent dies, writing to its stdin must fail the test, not kill the test binary.
  ::signal(SIGPIPE, SIG_IGN);
  int in_pipe[2];
  int out_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0) {
    return;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);

  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) {
    env_storage.emplace_back(*e);
  }
  for (auto& entry : extra_env) {
    env_storage.push_back(std::move(entry));
  }
  std::vector<char*> envp;
  for (auto& entry : env_storage) {
    envp.push_back(entry.data());
  }
  envp.push_back(nullptr);
  std::string path = BASTION_DEMO_AGENT_PATH;
  char* argv[] = {path.data(), nullptr};
  const int rc = ::posix_spawn(&pid_, path.c_str(), &actions, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  if (rc != 0) {
    pid_ = -1;
    ::close(in_pipe[1]);
    ::close(out_pipe[0]);
    return;
  }
  to_agent_ = in_pipe[1];
  from_agent_ = out_pipe[0];
  // Writes never block: while the agent's stdin is full, send_raw() drains its stdout.
  ::fcntl(to_agent_, F_SETFL, ::fcntl(to_agent_, F_GETFL) | O_NONBLOCK);
}

AgentProcess::~AgentProcess() {
  close_stdin();
  if (pid_ > 0 && !exit_status_) {
    if (!wait_exit(2000ms)) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  if (from_agent_ >= 0) {
    ::close(from_agent_);
  }
}

void AgentProcess::send_raw(std::string_view bytes) {
  // Like a real client, keep reading the agent's output while writing: an agent that answers
  // as it reads would otherwise block on a full stdout pipe while we block on its full stdin.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  std::size_t offset = 0;
  while (offset < bytes.size() && to_agent_ >= 0) {
    const ssize_t n = ::write(to_agent_, bytes.data() + offset, bytes.size() - offset);
    if (n > 0) {
      offset += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno != EINTR && errno != EAGAIN) {
      ADD_FAILURE() << "writing to the agent failed: " << std::strerror(errno);
      return;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ADD_FAILURE() << "the agent stopped reading its stdin";
      return;
    }
    std::array<pollfd, 2> fds{{{to_agent_, POLLOUT, 0}, {from_agent_, POLLIN, 0}}};
    if (::poll(fds.data(), fds.size(), 1000) > 0 && (fds[1].revents & (POLLIN | POLLHUP)) != 0) {
      read_more(std::chrono::steady_clock::now());
    }
  }
}

void AgentProcess::send(const json::value& message) {
  std::string line = json::serialize(message);
  line += '\n';
  send_raw(line);
}

void AgentProcess::close_stdin() {
  if (to_agent_ >= 0) {
    ::close(to_agent_);
    to_agent_ = -1;
  }
}

AgentProcess::Read AgentProcess::read_more(std::chrono::steady_clock::time_point deadline) {
  if (from_agent_ < 0) {
    return Read::eof;
  }
  const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  pollfd fd{from_agent_, POLLIN, 0};
  const int ready = ::poll(&fd, 1, static_cast<int>(std::max<long>(0, remaining.count())));
  if (ready < 0 && errno == EINTR) {
    return Read::data;  // nothing read; the caller re-checks its deadline
  }
  if (ready <= 0) {
    return Read::timeout;
  }
  char chunk[65536];
  const ssize_t n = ::read(from_agent_, chunk, sizeof chunk);
  if (n <= 0) {
    return Read::eof;
  }
  buffer_.append(chunk, static_cast<std::size_t>(n));
  std::size_t newline;
  while ((newline = buffer_.find('\n')) != std::string::npos) {
    std::string line = buffer_.substr(0, newline);
    buffer_.erase(0, newline + 1);
    std::error_code ec;
    json::parse_options options;
    options.max_depth = 256;
    json::value parsed = json::parse(line, ec, {}, options);
    if (ec) {
      bad_lines_.push_back(line.substr(0, 200));
      continue;
    }
    if (parsed.is_object()) {
      backlog_.push_back(std::move(parsed.get_object()));
    } else if (parsed.is_array()) {
      // A batch reply: keep it whole under a marker key so tests can find it.
      json::object wrapper;
      wrapper["batch"] = std::move(parsed);
      backlog_.push_back(std::move(wrapper));
    } else {
      bad_lines_.push_back(line.substr(0, 200));
    }
  }
  return Read::data;
}

std::optional<json::object> AgentProcess::await(
    const std::function<bool(const json::object&)>& match, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::size_t checked = 0;
  for (;;) {
    for (; checked < backlog_.size(); ++checked) {
      if (match(backlog_[checked])) {
        json::object found = std::move(backlog_[checked]);
        backlog_.erase(backlog_.begin() + static_cast<std::ptrdiff_t>(checked));
        return found;
      }
    }
    if (read_more(deadline) != Read::data) {
      return std::nullopt;  // timed out, or the agent closed its stdout
    }
  }
}

std::optional<json::object> AgentProcess::await_response(const json::value& id,
                                                         std::chrono::milliseconds timeout) {
  return await(
      [&id](const json::object& m) {
        const json::value* got = m.if_contains("id");
        return got != nullptr && *got == id && !m.contains("method");
      },
      timeout);
}

std::optional<json::object> AgentProcess::call(const json::value& id, std::string_view method,
                                               json::object params,
                                               std::chrono::milliseconds timeout) {
  send(request(id, method, std::move(params)));
  return await_response(id, timeout);
}

std::vector<json::object> AgentProcess::take(
    const std::function<bool(const json::object&)>& match) {
  // Drain whatever is already readable without blocking.
  while (read_more(std::chrono::steady_clock::now()) == Read::data) {
  }
  std::vector<json::object> out;
  for (auto it = backlog_.begin(); it != backlog_.end();) {
    if (match(*it)) {
      out.push_back(std::move(*it));
      it = backlog_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::optional<int> AgentProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (exit_status_ || pid_ <= 0) {
    return exit_status_;
  }
  // A pidfd becomes readable when the child exits: wait for that event with a timeout.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd >= 0) {
    pollfd fd{pidfd, POLLIN, 0};
    int ready = 0;
    do {
      ready = ::poll(&fd, 1, static_cast<int>(timeout.count()));
    } while (ready < 0 && errno == EINTR);
    ::close(pidfd);
    if (ready <= 0) {
      return std::nullopt;
    }
  }
  int status = 0;
  const pid_t done = ::waitpid(pid_, &status, pidfd >= 0 ? 0 : WNOHANG);
  if (done != pid_) {
    return std::nullopt;
  }
  exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return exit_status_;
}

std::optional<long> AgentProcess::rss_kib() const {
  std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream fields(line.substr(6));
      long kib = 0;
      fields >> kib;
      return kib;
    }
  }
  return std::nullopt;
}

// The test speaks the agent's own wire format: build messages with the agent's builders.
json::object request(const json::value& id, std::string_view method, json::object params) {
  return jsonrpc::make_request(id, method, std::move(params));
}

json::object notification(std::string_view method, json::object params) {
  return jsonrpc::make_notification(method, std::move(params));
}

json::object reply(const json::value& id, json::object result) {
  return jsonrpc::make_result(id, std::move(result));
}

bool has_method(const json::object& message, std::string_view method) {
  const json::value* m = message.if_contains("method");
  return m != nullptr && m->is_string() && m->get_string() == method;
}

std::string method_of(const json::object& message) {
  const json::value* m = message.if_contains("method");
  return m != nullptr && m->is_string() ? std::string(m->get_string()) : std::string();
}

json::object stateless_meta(json::object capabilities) {
  json::object meta;
  meta["io.modelcontextprotocol/protocolVersion"] = "2026-07-28";
  meta["io.modelcontextprotocol/clientInfo"] = json::object{{"name", "gtest"}, {"version", "1"}};
  meta["io.modelcontextprotocol/clientCapabilities"] = std::move(capabilities);
  return meta;
}

json::object all_client_capabilities() {
  return json::object{{"sampling", json::object()},
                      {"elicitation", json::object()},
                      {"roots", json::object{{"listChanged", true}}}};
}

std::string first_text(const json::object& result) {
  const json::value* blocks = result.if_contains("content");
  if (blocks == nullptr || !blocks->is_array()) {
    return "";
  }
  for (const json::value& block : blocks->get_array()) {
    if (block.is_object()) {
      if (const json::value* text = block.get_object().if_contains("text");
          text && text->is_string()) {
        return std::string(text->get_string());
      }
    }
  }
  return "";
}

}  // namespace bastion::demo::testing

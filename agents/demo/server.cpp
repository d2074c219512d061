#include "demo/server.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <variant>

#include "demo/diag.hpp"

namespace bastion::demo {
namespace {

bool is_blank(const std::string& line) {
  return line.find_first_not_of(" \t\r") == std::string::npos;
}

}  // namespace

Server::Server(int in_fd, int out_fd, ServerOptions options)
    : options_(options),
      writer_(out_fd, options.write_stall_timeout),
      reader_(in_fd, -1, kMaxLineBytes),
      session_(writer_, options.session),
      dispatcher_(session_, tools_),
      workers_(options.max_workers) {
  // Self-pipe: a broken stdout wakes the reader so the agent shuts down instead of lingering.
  int fds[2] = {-1, -1};
  if (::pipe2(fds, O_CLOEXEC) == 0) {
    wake_read_ = fds[0];
    wake_write_ = fds[1];
    reader_ = LineReader(in_fd, wake_read_, kMaxLineBytes);
    writer_.on_broken([fd = wake_write_] {
      const char byte = 1;
      [[maybe_unused]] const ssize_t ignored = ::write(fd, &byte, 1);
    });
  }
}

Server::~Server() {
  workers_.join_all();
  if (wake_read_ >= 0) {
    ::close(wake_read_);
  }
  if (wake_write_ >= 0) {
    ::close(wake_write_);
  }
}

int Server::run() {
  for (;;) {
    auto next = reader_.next();
    if (std::holds_alternative<LineReader::EndOfInput>(next)) {
      break;
    }
    if (std::holds_alternative<LineReader::Oversized>(next)) {
      send_error(nullptr, jsonrpc::kInvalidRequest,
                 "Invalid Request: message exceeds the 16 MiB line limit and was discarded");
      continue;
    }
    const std::string& line = std::get<LineReader::Line>(next).text;
    if (!is_blank(line)) {
      on_line(line);
    }
  }
  shutdown();
  return 0;
}

void Server::on_line(const std::string& line) {
  auto parsed = jsonrpc::parse(line);
  if (!parsed) {
    send_error(nullptr, jsonrpc::kParseError, "Parse error: the line is not valid JSON");
    return;
  }
  if (json::array* batch = parsed->if_array()) {
    // JSON-RPC batches (allowed by 2025-03-26): answered as one array, on a worker.
    if (batch->empty() || batch->size() > options_.max_batch) {
      send_error(nullptr, jsonrpc::kInvalidRequest,
                 batch->empty() ? "Invalid Request: empty batch"
                                : "Invalid Request: batch has more than 128 messages");
      return;
    }
    if (!workers_.spawn([this, items = std::move(*batch)] { run_batch(items); })) {
      send_error(nullptr, jsonrpc::kServerBusy, "Server busy: too many requests in progress");
    }
    return;
  }
  on_message(jsonrpc::classify(*parsed));
}

void Server::on_message(jsonrpc::Message message) {
  if (auto* request = std::get_if<jsonrpc::Request>(&message)) {
    start_request(std::move(*request));
  } else if (auto* notification = std::get_if<jsonrpc::Notification>(&message)) {
    dispatcher_.handle(*notification);
  } else if (auto* response = std::get_if<jsonrpc::Response>(&message)) {
    session_.deliver_reply(*response);
  } else {
    const auto& invalid = std::get<jsonrpc::Invalid>(message);
    session_.send(jsonrpc::make_error(invalid.id, invalid.error));
  }
}

void Server::start_request(jsonrpc::Request request) {
  // Registered before the next line is read, so a cancellation right behind it finds it.
  auto [begin, control] = session_.begin_request(request.id);
  if (begin == Session::Begin::duplicate) {
    send_error(request.id, jsonrpc::kInvalidRequest,
               "Invalid Request: a request with this id is already in progress");
    return;
  }
  if (begin == Session::Begin::busy) {
    send_error(request.id, jsonrpc::kServerBusy, "Server busy: too many requests in progress");
    return;
  }
  if (!dispatcher_.may_block(request)) {
    run_request(request, control);
    return;
  }
  control->allow_waiting();
  const json::value id = request.id;
  if (!workers_.spawn([this, request = std::move(request), control = control] {
        run_request(request, control);
      })) {
    session_.end_request(id);
    send_error(id, jsonrpc::kServerBusy, "Server busy: too many requests in progress");
  }
}

void Server::run_request(const jsonrpc::Request& request,
                         const std::shared_ptr<RequestControl>& control) {
  Dispatcher::Reply reply = dispatcher_.handle(request, control);
  if (reply.message) {
    session_.send(*reply.message);
  }
  if (!reply.keep_open) {
    session_.end_request(request.id);
  }
}

void Server::run_batch(const json::array& batch) {
  json::array replies;
  for (const json::value& item : batch) {
    jsonrpc::Message message = jsonrpc::classify(item);
    if (auto* request = std::get_if<jsonrpc::Request>(&message)) {
      auto [begin, control] = session_.begin_request(request->id);
      if (control) {
        control->allow_waiting();  // batches run on a worker
      }
      if (begin != Session::Begin::ok) {
        replies.emplace_back(jsonrpc::make_error(
            request->id,
            {begin == Session::Begin::duplicate ? jsonrpc::kInvalidRequest : jsonrpc::kServerBusy,
             begin == Session::Begin::duplicate
                 ? "Invalid Request: a request with this id is already in progress"
                 : "Server busy: too many requests in progress",
             {}}));
        continue;
      }
      Dispatcher::Reply reply = dispatcher_.handle(*request, control);
      if (reply.message) {
        replies.emplace_back(std::move(*reply.message));
      }
      if (!reply.keep_open) {
        session_.end_request(request->id);
      }
    } else if (auto* notification = std::get_if<jsonrpc::Notification>(&message)) {
      dispatcher_.handle(*notification);
    } else if (auto* response = std::get_if<jsonrpc::Response>(&message)) {
      session_.deliver_reply(*response);
    } else {
      const auto& invalid = std::get<jsonrpc::Invalid>(message);
      replies.emplace_back(jsonrpc::make_error(invalid.id, invalid.error));
    }
  }
  if (!replies.empty()) {
    session_.send(replies);
  }
}

void Server::send_error(const json::value& id, int code, std::string message) {
  session_.send(jsonrpc::make_error(id, {code, std::move(message), {}}));
}

void Server::shutdown() {
  diag(DiagLevel::debug, "stdin closed; shutting down");
  session_.close_input();               // handlers waiting on the client give up now
  session_.subscriptions().stop_all();  // listen streams end with the connection
  if (!workers_.wait_idle(options_.shutdown_grace)) {
    diag(DiagLevel::info, "cancelling requests still running after the shutdown grace period");
    session_.cancel_all();
  }
  workers_.join_all();
}

}  // namespace bastion::demo

#pragma once
// Sends spans to an OpenTelemetry collector (or LangWatch) over OTLP/HTTP with the JSON encoding.
// Never on the request path: submit() queues (bounded; beyond it spans are dropped and counted),
// one coroutine on its own strand sends batches of up to max_batch spans, at least every
// `interval`, and retries a failed batch with exponential backoff (connection errors, 408, 429,
// 5xx) while new spans queue behind it. A collector that refuses a batch as malformed (other 4xx)
// gets it dropped and counted, not retried forever.
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "net/client/http_client.hpp"
#include "record/otlp/otlp_json.hpp"

namespace bastion::record::otlp {

struct ExporterOptions {
  std::string endpoint;  // http(s)://collector:4318/v1/traces
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. Authorization (a secret)
  std::optional<std::string> ca_file;
  Resource resource;
  std::size_t max_queue = 8192;
  std::size_t max_batch = 512;
  std::chrono::milliseconds interval{1'000};
  std::chrono::milliseconds timeout{5'000};
  std::chrono::milliseconds min_backoff{500};
  std::chrono::milliseconds max_backoff{30'000};
};

struct ExporterStats {
  std::uint64_t exported = 0;         // spans the collector accepted
  std::uint64_t dropped = 0;          // queue full, or refused by the collector as malformed
  std::uint64_t failed_requests = 0;  // attempts that will be retried
  std::size_t queued = 0;
  bool failing = false;               // the last attempt failed
  std::string last_error;             // never holds header values
};

enum class ExporterHealth { pass, warn, fail };

class OtlpExporter : public std::enable_shared_from_this<OtlpExporter> {
 public:
  // nullptr with `error` set when the endpoint or CA file is unusable.
  static std::shared_ptr<OtlpExporter> create(boost::asio::any_io_executor ex, ExporterOptions options,
                                              std::string& error);

  void start();
  void submit(Span span);
  // Stops the loop and sends what is queued, within `budget`.
  boost::asio::awaitable<void> shutdown(std::chrono::milliseconds budget);

  ExporterStats stats() const;
  // pass: exporting (or nothing to export yet); warn: the last attempt failed, spans wait;
  // fail: spans are being dropped (the queue is full).
  ExporterHealth health() const;

 private:
  OtlpExporter(boost::asio::any_io_executor ex, ExporterOptions options,
               std::shared_ptr<net::client::HttpClientPool> pool);
  boost::asio::awaitable<void> run();
  boost::asio::awaitable<void> stop_on_strand(std::chrono::milliseconds budget);
  // true: done with the batch (sent, or dropped as refused); false: retry later.
  boost::asio::awaitable<bool> send(const std::vector<Span>& batch);
  std::vector<Span> take_batch();

  boost::asio::any_io_executor ex_;  // a strand
  ExporterOptions options_;
  std::shared_ptr<net::client::HttpClientPool> pool_;
  boost::asio::steady_timer wake_;
  boost::asio::steady_timer done_;

  mutable std::mutex mutex_;
  std::deque<Span> queue_;
  ExporterStats stats_;
  bool dropping_ = false;  // since the last successful export
  std::atomic<bool> stopping_{false};
  bool running_ = false;
};

}  // namespace bastion::record::otlp

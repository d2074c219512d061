#include "record/otlp/otlp_exporter.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url/parse.hpp>
#include <random>

namespace bastion::record::otlp {

namespace asio = boost::asio;
using namespace std::chrono_literals;

std::shared_ptr<OtlpExporter> OtlpExporter::create(asio::any_io_executor ex, ExporterOptions options,
                                                   std::string& error) {
  auto url = boost::urls::parse_absolute_uri(options.endpoint);
  if (!url || (url->scheme() != "http" && url->scheme() != "https")) {
    error = "telemetry.otlp_endpoint must be an http(s) URL";
    return nullptr;
  }
  net::client::PoolOptions pool_options;
  pool_options.connect_timeout = options.timeout;
  pool_options.io_timeout = options.timeout;
  pool_options.max_body_bytes = 1 << 20;
  pool_options.max_idle_per_origin = 2;
  pool_options.ca_file = options.ca_file;
  auto strand = asio::make_strand(ex);
  auto pool = net::client::HttpClientPool::create(strand, pool_options);
  if (!pool) {
    error = "telemetry: " + pool.error().message();
    return nullptr;
  }
  return std::shared_ptr<OtlpExporter>(new OtlpExporter(strand, std::move(options), *pool));
}

OtlpExporter::OtlpExporter(asio::any_io_executor ex, ExporterOptions options,
                           std::shared_ptr<net::client::HttpClientPool> pool)
    : ex_(std::move(ex)), options_(std::move(options)), pool_(std::move(pool)), wake_(ex_), done_(ex_) {
  options_.max_batch = std::max<std::size_t>(1, options_.max_batch);
  options_.max_queue = std::max(options_.max_queue, options_.max_batch);
}

void OtlpExporter::start() {
  {
    std::lock_guard lock(mutex_);
    if (running_) return;
    running_ = true;
  }
  // Outside the lock: co_spawn may start run() right here.
  asio::post(ex_, [self = shared_from_this()] {
    self->done_.expires_at(asio::steady_timer::time_point::max());
    asio::co_spawn(self->ex_, self->run(), asio::detached);
  });
}

void OtlpExporter::submit(Span span) {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() >= options_.max_queue) {
      ++stats_.dropped;
      if (!dropping_) spdlog::warn("telemetry: span queue full ({} spans); dropping spans", options_.max_queue);
      dropping_ = true;
      return;
    }
    queue_.push_back(std::move(span));
    wake = queue_.size() == options_.max_batch;  // a full batch goes now, not at the interval
  }
  if (wake) asio::post(ex_, [self = shared_from_this()] { self->wake_.cancel(); });
}

std::vector<Span> OtlpExporter::take_batch() {
  std::lock_guard lock(mutex_);
  std::vector<Span> batch;
  const auto n = std::min(options_.max_batch, queue_.size());
  batch.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return batch;
}

asio::awaitable<bool> OtlpExporter::send(const std::vector<Span>& batch) {
  net::client::HttpRequest request;
  request.method = boost::beast::http::verb::post;
  request.url = options_.endpoint;
  request.headers = options_.headers;
  request.headers.emplace_back("Content-Type", "application/json");
  request.body = export_request_json(batch, options_.resource);
  request.deadline = std::chrono::steady_clock::now() + options_.timeout;
  auto response = co_await pool_->fetch(std::move(request));
  std::lock_guard lock(mutex_);
  if (response && response->status / 100 == 2) {
    stats_.exported += batch.size();
    stats_.failing = false;
    dropping_ = false;
    co_return true;
  }
  const unsigned status = response ? response->status : 0;
  stats_.last_error = response ? "HTTP " + std::to_string(status) : response.error().message();
  if (status >= 400 && status < 500 && status != 408 && status != 429) {
    // The collector refuses this payload: sending it again would fail the same way.
    stats_.dropped += batch.size();
    stats_.failing = true;
    spdlog::error("telemetry: the collector refused {} spans ({}); dropped", batch.size(), stats_.last_error);
    co_return true;
  }
  ++stats_.failed_requests;
  if (!stats_.failing) spdlog::warn("telemetry: export failed ({}); retrying with backoff", stats_.last_error);
  stats_.failing = true;
  co_return false;
}

asio::awaitable<void> OtlpExporter::run() {
  auto self = shared_from_this();
  std::minstd_rand jitter(std::random_device{}());
  auto backoff = options_.min_backoff;
  std::vector<Span> batch;
  while (!stopping_) {
    if (batch.empty()) {
      bool full;
      {
        std::lock_guard lock(mutex_);
        full = queue_.size() >= options_.max_batch;
      }
      if (!full) {
        wake_.expires_after(options_.interval);
        co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
        if (stopping_) break;
      }
      batch = take_batch();
      if (batch.empty()) continue;
    }
    if (co_await send(batch)) {
      batch.clear();
      backoff = options_.min_backoff;
      continue;
    }
    // Retry the same batch later; spans keep queueing (bounded) meanwhile.
    auto wait = backoff + std::chrono::milliseconds(jitter() % (backoff.count() / 4 + 1));
    backoff = std::min(options_.max_backoff, backoff * 2);
    wake_.expires_after(wait);
    co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  if (!batch.empty()) {  // put the unsent batch back in front for the final flush
    std::lock_guard lock(mutex_);
    for (auto it = batch.rbegin(); it != batch.rend(); ++it) queue_.push_front(std::move(*it));
  }
  done_.cancel();
}

asio::awaitable<void> OtlpExporter::shutdown(std::chrono::milliseconds budget) {
  // The timers belong to the strand: the whole shutdown runs there.
  co_await asio::co_spawn(ex_, stop_on_strand(budget), asio::use_awaitable);
}

asio::awaitable<void> OtlpExporter::stop_on_strand(std::chrono::milliseconds budget) {
  auto self = shared_from_this();
  bool was_running;
  {
    std::lock_guard lock(mutex_);
    was_running = running_;
  }
  stopping_ = true;
  wake_.cancel();
  const auto deadline = std::chrono::steady_clock::now() + budget;
  if (was_running) {
    done_.expires_at(deadline);
    co_await done_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  // One last pass at what is queued, as long as the budget lasts and the collector takes it.
  while (std::chrono::steady_clock::now() < deadline) {
    auto batch = take_batch();
    if (batch.empty()) break;
    options_.timeout = std::min(options_.timeout, std::chrono::duration_cast<std::chrono::milliseconds>(
                                                      deadline - std::chrono::steady_clock::now()));
    if (!co_await send(batch)) {
      std::lock_guard lock(mutex_);
      stats_.dropped += batch.size();
      break;
    }
  }
  std::lock_guard lock(mutex_);
  if (!queue_.empty()) {
    spdlog::warn("telemetry: {} spans not exported at shutdown", queue_.size());
    stats_.dropped += queue_.size();
    queue_.clear();
  }
}

ExporterStats OtlpExporter::stats() const {
  std::lock_guard lock(mutex_);
  auto s = stats_;
  s.queued = queue_.size();
  return s;
}

ExporterHealth OtlpExporter::health() const {
  std::lock_guard lock(mutex_);
  if (dropping_ && queue_.size() >= options_.max_queue) return ExporterHealth::fail;
  return stats_.failing ? ExporterHealth::warn : ExporterHealth::pass;
}

}  // namespace bastion::record::otlp

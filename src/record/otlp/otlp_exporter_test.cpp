// The exporter against a real HTTP receiver on loopback: batching, backoff and retry, refusals,
// the bounded queue, headers. Waits poll the exporter's counters with a deadline.
#include "record/otlp/otlp_exporter.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "net/server/http_server.hpp"

using namespace bastion;
using namespace bastion::record::otlp;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

struct Receiver {
  std::mutex mutex;
  std::vector<std::size_t> batch_sizes;  // spans per accepted request
  std::vector<std::string> authorization;
  std::deque<unsigned> statuses;         // answers to give first; then 200
  std::size_t requests = 0;
};

class ExporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_shared<net::HttpServer>(
        ioc_, "collector", net::ServerLimits{},
        [this](net::Request& req, net::ResponseWriter& w, const net::ConnectionInfo&) -> asio::awaitable<void> {
          unsigned status = 200;
          {
            std::lock_guard lock(receiver_.mutex);
            ++receiver_.requests;
            if (!receiver_.statuses.empty()) {
              status = receiver_.statuses.front();
              receiver_.statuses.pop_front();
            }
            auto auth = req.find(boost::beast::http::field::authorization);
            receiver_.authorization.push_back(auth == req.end() ? "" : std::string(auth->value()));
            if (status == 200) {
              auto doc = boost::json::parse(req.body());
              receiver_.batch_sizes.push_back(doc.at("resourceSpans").at(0).at("scopeSpans").at(0).at("spans").as_array().size());
            }
          }
          co_await w.send(net::text_response(static_cast<boost::beast::http::status>(status), "{}"));
        });
    auto ep = server_->bind("127.0.0.1:0");
    ASSERT_TRUE(ep);
    endpoint_ = "http://127.0.0.1:" + std::to_string(ep->port()) + "/v1/traces";
    server_->start();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  void TearDown() override {
    work_.reset();
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
  }

  std::shared_ptr<OtlpExporter> exporter(ExporterOptions options) {
    if (options.endpoint.empty()) options.endpoint = endpoint_;
    std::string error;
    auto e = OtlpExporter::create(ioc_.get_executor(), std::move(options), error);
    EXPECT_TRUE(e) << error;
    return e;
  }

  static Span span(int i) {
    Span s;
    s.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    s.span_id = "00f067aa0ba9" + std::to_string(1000 + i);
    s.name = "tools/call echo";
    return s;
  }

  // Polls until `done` holds (bounded).
  static bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(10ms);
    }
    return done();
  }

  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(ioc_);
  std::shared_ptr<net::HttpServer> server_;
  std::string endpoint_;
  std::thread thread_;
  Receiver receiver_;
};

}  // namespace

TEST_F(ExporterTest, SendsFullBatchesAtOnceAndTheRestAtTheInterval) {
  ExporterOptions o;
  o.max_batch = 500;
  o.interval = 200ms;
  o.headers = {{"Authorization", "Bearer collector-key"}};
  auto e = exporter(o);
  e->start();
  for (int i = 0; i < 1200; ++i) e->submit(span(i));
  ASSERT_TRUE(eventually([&] { return e->stats().exported == 1200; })) << e->stats().exported;
  std::lock_guard lock(receiver_.mutex);
  std::size_t total = 0, largest = 0;
  for (auto n : receiver_.batch_sizes) total += n, largest = std::max(largest, n);
  EXPECT_EQ(total, 1200u);
  EXPECT_EQ(largest, 500u);
  EXPECT_GE(receiver_.batch_sizes.size(), 3u);
  for (const auto& a : receiver_.authorization) EXPECT_EQ(a, "Bearer collector-key");
  EXPECT_EQ(e->stats().dropped, 0u);
  EXPECT_EQ(e->health(), ExporterHealth::pass);
}

TEST_F(ExporterTest, RetriesWithBackoffUntilTheCollectorTakesTheBatch) {
  {
    std::lock_guard lock(receiver_.mutex);
    receiver_.statuses = {503, 429, 500};
  }
  ExporterOptions o;
  o.interval = 50ms;
  o.min_backoff = 20ms;
  o.max_backoff = 100ms;
  auto e = exporter(o);
  e->start();
  for (int i = 0; i < 10; ++i) e->submit(span(i));
  ASSERT_TRUE(eventually([&] { return e->stats().failed_requests >= 1; }));
  EXPECT_EQ(e->health(), ExporterHealth::warn);
  ASSERT_TRUE(eventually([&] { return e->stats().exported == 10; }));
  auto s = e->stats();
  EXPECT_EQ(s.failed_requests, 3u);
  EXPECT_EQ(s.dropped, 0u);
  EXPECT_FALSE(s.failing);
  EXPECT_EQ(e->health(), ExporterHealth::pass);
}

TEST_F(ExporterTest, DropsABatchTheCollectorRefusesAsMalformed) {
  {
    std::lock_guard lock(receiver_.mutex);
    receiver_.statuses = {400};
  }
  ExporterOptions o;
  o.interval = 50ms;
  auto e = exporter(o);
  e->start();
  for (int i = 0; i < 7; ++i) e->submit(span(i));
  ASSERT_TRUE(eventually([&] { return e->stats().dropped == 7; }));
  e->submit(span(99));
  ASSERT_TRUE(eventually([&] { return e->stats().exported == 1; }));
  std::lock_guard lock(receiver_.mutex);
  EXPECT_EQ(receiver_.requests, 2u);  // the refused batch was not sent again
}

TEST_F(ExporterTest, BoundedQueueDropsAndCountsWhileTheCollectorIsDown) {
  ExporterOptions o;
  o.endpoint = "http://127.0.0.1:9/v1/traces";  // nothing listens on the discard port
  o.max_queue = 10;
  o.max_batch = 10;
  o.interval = 10s;
  o.timeout = 200ms;
  auto e = exporter(o);
  // Not started yet: nothing takes spans out of the queue, so the bound is exact.
  for (int i = 0; i < 15; ++i) e->submit(span(i));
  EXPECT_EQ(e->stats().dropped, 5u);
  EXPECT_EQ(e->stats().queued, 10u);
  e->start();
  ASSERT_TRUE(eventually([&] { return e->stats().failed_requests >= 1; }));
  // The failing batch is out of the queue and waits for its retry: room for 10 more, not 15.
  for (int i = 0; i < 15; ++i) e->submit(span(i));
  EXPECT_EQ(e->stats().dropped, 10u);
  EXPECT_EQ(e->health(), ExporterHealth::fail);
}

TEST_F(ExporterTest, ShutdownSendsWhatIsQueued) {
  ExporterOptions o;
  o.interval = 10s;  // nothing would go before shutdown otherwise
  auto e = exporter(o);
  e->start();
  for (int i = 0; i < 42; ++i) e->submit(span(i));
  std::promise<void> stopped;
  asio::co_spawn(ioc_, e->shutdown(3s), [&](std::exception_ptr) { stopped.set_value(); });
  ASSERT_EQ(stopped.get_future().wait_for(10s), std::future_status::ready);
  EXPECT_EQ(e->stats().exported, 42u);
  EXPECT_EQ(e->stats().queued, 0u);
}

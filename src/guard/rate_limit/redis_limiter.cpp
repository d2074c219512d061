#include "guard/rate_limit/redis_limiter.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url/parse.hpp>
#include <charconv>
#include <fstream>
#include <optional>
#include <vector>

namespace bastion::rate_limit {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;

namespace {

// KEYS[1] = state key; ARGV[1] = emission interval T (us); ARGV[2] = burst.
// Returns {stored TAT or 0, now, 1 if admitted and stored else 0}. The admission rule is
// gcra_check's: TAT' = max(TAT, now) + T, admitted iff TAT' - now <= (burst + 1) * T.
// Times are microseconds since the Unix epoch (< 2^53, exact in Lua numbers); the TAT is written
// with %d so that it is never rounded through %.14g.
constexpr std::string_view kScript = R"lua(local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local stored = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local current = stored
if current < now then current = now end
local tat = current + interval
if tat - now > (burst + 1) * interval then
  return {stored, now, 0}
end
redis.call('SET', KEYS[1], string.format('%d', tat))
redis.call('PEXPIRE', KEYS[1], math.ceil((tat - now) / 1000))
return {stored, now, 1}
)lua";

std::string sha1_hex(std::string_view text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  if (EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha1(), nullptr) != 1) {
    return {};  // EVALSHA then always gets NOSCRIPT and falls back to EVAL
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < size; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

std::string_view reply_text(const redisReply* reply) {
  if (reply == nullptr || reply->str == nullptr) {
    return {};
  }
  return std::string_view(reply->str, std::min<std::size_t>(reply->len, 200));
}

// The secret stays out of logs: only the path is ever reported.
std::optional<std::string> read_secret_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  std::string secret;
  secret.resize(4096);
  in.read(secret.data(), static_cast<std::streamsize>(secret.size()));
  secret.resize(static_cast<std::size_t>(in.gcount()));
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) {
    secret.pop_back();
  }
  return secret;
}

// hiredis 0.14 writes with write(2): a write to a connection Redis has closed raises SIGPIPE,
// which would kill the process. Ignore it unless someone installed a handler.
void ignore_sigpipe() {
  static const bool once = [] {
    struct sigaction old {};
    if (::sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) {
      struct sigaction ign {};
      ign.sa_handler = SIG_IGN;
      ::sigemptyset(&ign.sa_mask);
      ::sigaction(SIGPIPE, &ign, nullptr);
    }
    return true;
  }();
  (void)once;
}

}  // namespace

std::variant<RedisEndpoint, RedisUrlError> parse_redis_url(std::string_view url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) {
    return RedisUrlError{"invalid redis URL \"" + std::string(url) +
                         "\": " + parsed.error().message()};
  }
  const auto& u = *parsed;
  if (u.scheme() == "rediss") {
    return RedisUrlError{
        "rediss:// (TLS) is not supported: use redis:// to a loopback or private address"};
  }
  if (u.scheme() != "redis") {
    return RedisUrlError{"invalid redis URL \"" + std::string(url) +
                         "\": the scheme must be redis://"};
  }
  if (u.has_userinfo()) {
    return RedisUrlError{"credentials are not accepted in the redis URL: use redis.password_file"};
  }
  RedisEndpoint endpoint;
  if (u.host_type() == boost::urls::host_type::ipv6) {
    endpoint.host = u.host_ipv6_address().to_string();
  } else {
    endpoint.host = u.host();
  }
  if (endpoint.host.empty()) {
    return RedisUrlError{"invalid redis URL \"" + std::string(url) + "\": missing host"};
  }
  if (u.has_port()) {
    const std::string_view text = u.port();
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || port == 0 ||
        port > 65535) {
      return RedisUrlError{"invalid redis URL \"" + std::string(url) + "\": bad port"};
    }
    endpoint.port = static_cast<std::uint16_t>(port);
  }
  std::string_view path = u.encoded_path();
  if (!path.empty() && path != "/") {
    path.remove_prefix(1);
    int db = -1;
    const auto [end, ec] = std::from_chars(path.data(), path.data() + path.size(), db);
    if (ec != std::errc{} || end != path.data() + path.size() || db < 0) {
      return RedisUrlError{"invalid redis URL \"" + std::string(url) +
                           "\": the path must be a database number"};
    }
    endpoint.db = db;
  }
  if (u.has_query() || u.has_fragment()) {
    return RedisUrlError{"invalid redis URL \"" + std::string(url) +
                         "\": no query or fragment allowed"};
  }
  return endpoint;
}

struct RedisLimiter::Impl : std::enable_shared_from_this<Impl> {
  using Strand = asio::strand<asio::any_io_executor>;
  enum class State { idle, connecting, ready, closed };

  // hiredis event hooks -> waits on a dup of the connection's descriptor (the dup is ours to
  // close; hiredis closes its own). Lives as long as a wait is outstanding.
  struct Events : std::enable_shared_from_this<Events> {
    Events(Impl* o, redisAsyncContext* c, asio::posix::stream_descriptor d)
        : owner(o), ac(c), descriptor(std::move(d)) {}

    Impl* owner;
    redisAsyncContext* ac;  // null once hiredis has freed the context
    asio::posix::stream_descriptor descriptor;
    bool want[2] = {false, false};  // [0] read, [1] write
    bool armed[2] = {false, false};

    static Events& of(void* p) { return *static_cast<Events*>(p); }
    static void add_read(void* p) {
      of(p).want[0] = true;
      of(p).arm(0);
    }
    static void del_read(void* p) { of(p).want[0] = false; }
    static void add_write(void* p) {
      of(p).want[1] = true;
      of(p).arm(1);
    }
    static void del_write(void* p) { of(p).want[1] = false; }
    static void cleanup(void* p) { of(p).on_cleanup(); }

    void arm(int dir) {
      if (armed[dir] || ac == nullptr) {
        return;
      }
      armed[dir] = true;
      descriptor.async_wait(dir == 0 ? asio::posix::descriptor_base::wait_read
                                     : asio::posix::descriptor_base::wait_write,
                            [self = shared_from_this(), dir](const boost::system::error_code& ec) {
                              self->on_ready(dir, ec);
                            });
    }

    void on_ready(int dir, const boost::system::error_code& ec) {
      armed[dir] = false;
      if (ec || ac == nullptr || !want[dir]) {
        return;
      }
      if (dir == 0) {
        redisAsyncHandleRead(ac);
      } else {
        redisAsyncHandleWrite(ac);
      }
      // hiredis may have freed the context in there (cleanup() cleared ac).
      if (ac != nullptr && want[dir]) {
        arm(dir);
      }
    }

    void on_cleanup() {
      auto keep = shared_from_this();
      ac = nullptr;
      want[0] = want[1] = false;
      if (!owner->destroying) {
        boost::system::error_code ignored;
        descriptor.close(ignored);  // pending waits end with operation_aborted
      }
      owner->context_freed();
    }
  };

  // One check in flight. Shared by the awaiting coroutine and the hiredis callback, either of
  // which may finish first (timeout vs reply).
  struct Pending {
    explicit Pending(const Strand& s) : timer(s) {}
    asio::steady_timer timer;
    std::string key;
    std::string interval;
    std::string burst;
    bool done = false;
    bool failed = false;
    bool retried = false;
    long long stored = 0;
    long long now = 0;
    long long applied = 0;
  };

  Impl(asio::any_io_executor executor, RedisLimiterOptions o)
      : strand(asio::make_strand(std::move(executor))),
        options(std::move(o)),
        reconnect_timer(strand),
        connect_timer(strand),
        resolver(strand),
        backoff(options.reconnect_min) {}

  ~Impl() {
    if (ac != nullptr) {
      // Last owner gone without close() having run (io_context stopped): free hiredis without
      // touching Asio objects that may be shutting down.
      destroying = true;
      redisAsyncFree(ac);
    }
  }

  Strand strand;
  const RedisLimiterOptions options;
  asio::steady_timer reconnect_timer;
  asio::steady_timer connect_timer;
  asio::ip::tcp::resolver resolver;
  std::chrono::milliseconds backoff;
  redisAsyncContext* ac = nullptr;
  std::shared_ptr<Events> events;
  State state = State::idle;
  bool started = false;
  bool tcp_up = false;
  bool destroying = false;
  int setup_pending = 0;
  std::uint64_t generation = 0;
  std::size_t in_flight = 0;
  SteadyClock::time_point last_reply{};
  std::atomic<bool> ready_flag{false};
  std::vector<std::shared_ptr<asio::steady_timer>> ready_waiters;

  std::string where() const {
    return options.endpoint.host + ":" + std::to_string(options.endpoint.port);
  }

  RedisDecision unavailable(std::string_view reason) const {
    RedisDecision d;
    d.source = RedisDecision::Source::unavailable;
    d.reason = reason;
    if (options.fail_mode == FailMode::open) {
      d.decision.kind = Decision::Kind::allow;
    } else {
      d.decision.kind = Decision::Kind::reject;
      d.decision.retry_after = std::chrono::seconds(1);
      d.service_unavailable = true;
    }
    return d;
  }

  void connect() {
    if (state == State::closed || ac != nullptr || destroying) {
      return;
    }
    const std::uint64_t gen = ++generation;
    state = State::connecting;
    tcp_up = false;
    setup_pending = 0;
    // One deadline for the whole attempt: resolve, TCP connect, AUTH and SELECT.
    connect_timer.expires_after(options.connect_timeout);
    connect_timer.async_wait([self = shared_from_this(), gen](const boost::system::error_code& ec) {
      if (ec || gen != self->generation || self->state != State::connecting) {
        return;
      }
      spdlog::warn("rate limit: connecting to redis at {} timed out", self->where());
      if (self->ac != nullptr) {
        redisAsyncFree(self->ac);  // context_freed() schedules the next attempt
      } else {
        self->resolver.cancel();
      }
    });

    boost::system::error_code ec;
    const auto address = asio::ip::make_address(options.endpoint.host, ec);
    if (!ec) {
      connect_to(address.to_string(), gen);
      return;
    }
    resolver.async_resolve(
        options.endpoint.host, std::to_string(options.endpoint.port),
        [self = shared_from_this(), gen](const boost::system::error_code& rec,
                                         const asio::ip::tcp::resolver::results_type& results) {
          if (gen != self->generation || self->state != State::connecting) {
            return;
          }
          if (rec || results.empty()) {
            spdlog::warn("rate limit: cannot resolve redis host {}: {}",
                         self->options.endpoint.host, rec ? rec.message() : "no address");
            self->state = State::idle;
            self->schedule_reconnect();
            return;
          }
          self->connect_to(results.begin()->endpoint().address().to_string(), gen);
        });
  }

  void connect_to(const std::string& ip, std::uint64_t gen) {
    if (gen != generation || state != State::connecting) {
      return;
    }
    std::optional<std::string> password;
    if (!options.password_file.empty()) {
      password = read_secret_file(options.password_file);
      if (!password) {
        spdlog::error("rate limit: cannot read the redis password file {}", options.password_file);
        fail_attempt();
        return;
      }
    }
    redisAsyncContext* c = redisAsyncConnect(ip.c_str(), options.endpoint.port);
    if (c == nullptr) {
      spdlog::warn("rate limit: cannot allocate a redis connection");
      fail_attempt();
      return;
    }
    if (c->err != 0) {
      spdlog::warn("rate limit: cannot connect to redis at {}: {}", where(), c->c.errstr);
      redisAsyncFree(c);
      fail_attempt();
      return;
    }
    const int fd = ::dup(c->c.fd);
    if (fd < 0) {
      spdlog::warn("rate limit: cannot watch the redis connection (dup failed)");
      redisAsyncFree(c);
      fail_attempt();
      return;
    }
    boost::system::error_code ec;
    asio::posix::stream_descriptor descriptor(strand);
    descriptor.assign(fd, ec);
    if (ec) {
      ::close(fd);
      spdlog::warn("rate limit: cannot watch the redis connection: {}", ec.message());
      redisAsyncFree(c);
      fail_attempt();
      return;
    }
    ac = c;
    ac->data = this;
    events = std::make_shared<Events>(this, ac, std::move(descriptor));
    ac->ev.data = events.get();
    ac->ev.addRead = &Events::add_read;
    ac->ev.delRead = &Events::del_read;
    ac->ev.addWrite = &Events::add_write;
    ac->ev.delWrite = &Events::del_write;
    ac->ev.cleanup = &Events::cleanup;
    redisAsyncSetConnectCallback(ac, &on_connect);
    redisAsyncSetDisconnectCallback(ac, &on_disconnect);
    // Queued now, written once connected, answered before any check queued after them.
    if (password) {
      const char* argv[] = {"AUTH", password->c_str()};
      const std::size_t lens[] = {4, password->size()};
      if (redisAsyncCommandArgv(ac, &on_setup_reply, nullptr, 2, argv, lens) == REDIS_OK) {
        ++setup_pending;
      }
      std::fill(password->begin(), password->end(), '\0');
    }
    if (options.endpoint.db != 0) {
      const std::string db = std::to_string(options.endpoint.db);
      const char* argv[] = {"SELECT", db.c_str()};
      const std::size_t lens[] = {6, db.size()};
      if (redisAsyncCommandArgv(ac, &on_setup_reply, nullptr, 2, argv, lens) == REDIS_OK) {
        ++setup_pending;
      }
    }
  }

  void fail_attempt() {
    state = State::idle;
    connect_timer.cancel();
    schedule_reconnect();
  }

  void schedule_reconnect() {
    if (state == State::closed || destroying) {
      return;
    }
    reconnect_timer.expires_after(backoff);
    backoff = std::min(backoff * 2, options.reconnect_max);
    reconnect_timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) {
        self->connect();
      }
    });
  }

  void maybe_ready() {
    if (!tcp_up || setup_pending != 0 || state != State::connecting) {
      return;
    }
    state = State::ready;
    ready_flag = true;
    backoff = options.reconnect_min;
    connect_timer.cancel();
    spdlog::info("rate limit: connected to redis at {}", where());
    for (auto& waiter : ready_waiters) {
      waiter->cancel();
    }
  }

  // hiredis has freed (or is freeing) the context: connect failure, drop, or our own free.
  void context_freed() {
    const bool was_ready = state == State::ready;
    ac = nullptr;
    tcp_up = false;
    setup_pending = 0;
    ready_flag = false;
    in_flight = 0;  // every pending callback has run with a NULL reply
    if (destroying) {
      return;
    }
    events.reset();
    connect_timer.cancel();
    if (state == State::closed) {
      return;
    }
    state = State::idle;
    if (was_ready) {
      spdlog::warn("rate limit: lost the connection to redis at {}; reconnecting", where());
    }
    schedule_reconnect();
  }

  static void on_connect(const redisAsyncContext* c, int status) {
    auto* self = static_cast<Impl*>(c->data);
    if (status != REDIS_OK) {
      // hiredis frees the context right after this; cleanup() schedules the retry.
      spdlog::warn("rate limit: cannot connect to redis at {}: {}", self->where(), c->c.errstr);
      return;
    }
    self->tcp_up = true;
    self->last_reply = SteadyClock::now();
    self->maybe_ready();
  }

  static void on_disconnect(const redisAsyncContext* c, int status) {
    if (status != REDIS_OK) {
      auto* self = static_cast<Impl*>(c->data);
      spdlog::debug("rate limit: redis at {} disconnected: {}", self->where(), c->c.errstr);
    }
  }

  static void on_setup_reply(redisAsyncContext* c, void* r, void*) {
    auto* self = static_cast<Impl*>(c->data);
    const auto* reply = static_cast<const redisReply*>(r);
    if (reply == nullptr) {
      return;  // the connection is going away
    }
    self->last_reply = SteadyClock::now();
    if (reply->type == REDIS_REPLY_ERROR) {
      // Redis's own message (e.g. WRONGPASS ...) never contains the password.
      spdlog::error("rate limit: redis at {} refused the connection setup: {}", self->where(),
                    reply_text(reply));
      redisAsyncFree(c);  // deferred by hiredis until this callback returns
      return;
    }
    if (--self->setup_pending == 0) {
      self->maybe_ready();
    }
  }

  bool send_script(redisAsyncContext* c, const std::shared_ptr<Pending>& p, bool eval) {
    const std::string& sha = script_sha1();
    const char* argv[6] = {eval ? "EVAL" : "EVALSHA",
                           eval ? kScript.data() : sha.c_str(),
                           "1",
                           p->key.c_str(),
                           p->interval.c_str(),
                           p->burst.c_str()};
    const std::size_t lens[6] = {
        eval ? 4u : 7u, eval ? kScript.size() : sha.size(), 1, p->key.size(), p->interval.size(),
        p->burst.size()};
    auto* holder = new std::shared_ptr<Pending>(p);
    if (redisAsyncCommandArgv(c, &on_script_reply, holder, 6, argv, lens) != REDIS_OK) {
      delete holder;
      return false;
    }
    ++in_flight;
    return true;
  }

  static void on_script_reply(redisAsyncContext* c, void* r, void* privdata) {
    std::unique_ptr<std::shared_ptr<Pending>> holder(
        static_cast<std::shared_ptr<Pending>*>(privdata));
    Pending& p = **holder;
    auto* self = static_cast<Impl*>(c->data);
    if (self->in_flight > 0) {
      --self->in_flight;
    }
    const auto* reply = static_cast<const redisReply*>(r);
    if (reply != nullptr) {
      self->last_reply = SteadyClock::now();
    }
    if (reply != nullptr && reply->type == REDIS_REPLY_ERROR &&
        reply_text(reply).starts_with("NOSCRIPT") && !p.retried && !p.done) {
      // Script cache flushed or a fresh server: send the body once; Redis caches it again.
      p.retried = true;
      if (self->send_script(c, *holder, true)) {
        return;
      }
    }
    if (reply != nullptr && reply->type == REDIS_REPLY_ARRAY && reply->elements == 3 &&
        reply->element[0]->type == REDIS_REPLY_INTEGER &&
        reply->element[1]->type == REDIS_REPLY_INTEGER &&
        reply->element[2]->type == REDIS_REPLY_INTEGER) {
      p.stored = reply->element[0]->integer;
      p.now = reply->element[1]->integer;
      p.applied = reply->element[2]->integer;
    } else {
      p.failed = true;
      if (reply != nullptr && !p.done) {
        spdlog::warn("rate limit: unexpected redis script reply: {}",
                     reply->type == REDIS_REPLY_ERROR ? reply_text(reply)
                                                      : std::string_view("(not an array)"));
      }
    }
    p.done = true;
    if (!self->destroying) {
      p.timer.cancel();
    }
  }

  // A check timed out. A connection with replies owed and silent for stall_timeout is dead
  // even if the socket is open (stopped process, black-holed network): drop and reconnect.
  void on_timeout() {
    if (ac != nullptr && state == State::ready && in_flight > 0 &&
        SteadyClock::now() - last_reply > options.stall_timeout) {
      spdlog::warn("rate limit: redis at {} stopped answering; reconnecting", where());
      redisAsyncFree(ac);
    }
  }

  static asio::awaitable<RedisDecision> run_check(std::shared_ptr<Impl> self, Micros interval,
                                                  std::uint32_t burst, bool nodelay,
                                                  std::string key,
                                                  SteadyClock::time_point deadline) {
    if (self->state == State::closed) {
      co_return self->unavailable("closed");
    }
    if (self->ac == nullptr) {
      co_return self->unavailable("disconnected");
    }
    if (self->in_flight >= self->options.max_in_flight) {
      co_return self->unavailable("overloaded");
    }
    auto p = std::make_shared<Pending>(self->strand);
    p->key = std::move(key);
    p->interval = std::to_string(interval.count());
    p->burst = std::to_string(burst);
    if (!self->send_script(self->ac, p, false)) {
      co_return self->unavailable("error");
    }
    p->timer.expires_at(deadline);
    if (!p->done) {
      co_await p->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (!p->done) {
      self->on_timeout();
      co_return self->unavailable("timeout");
    }
    if (p->failed) {
      co_return self->unavailable("error");
    }
    std::optional<Micros> tat;
    if (p->stored > 0) {
      tat = Micros(p->stored);
    }
    const GcraOutcome out = gcra_check(interval, burst, nodelay, tat, Micros(p->now));
    if (out.new_tat.has_value() != (p->applied == 1)) {
      spdlog::error("rate limit: the redis script and gcra_check disagree (key {})", p->key);
    }
    RedisDecision d;
    d.source = RedisDecision::Source::redis;
    d.decision = out.decision;
    co_return d;
  }

  static asio::awaitable<bool> run_wait_connected(std::shared_ptr<Impl> self,
                                                  std::chrono::milliseconds timeout) {
    if (self->state == State::ready || self->state == State::closed) {
      co_return self->state == State::ready;
    }
    auto timer = std::make_shared<asio::steady_timer>(self->strand, timeout);
    self->ready_waiters.push_back(timer);
    co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
    std::erase(self->ready_waiters, timer);
    co_return self->state == State::ready;
  }

  void do_close() {
    if (state == State::closed) {
      return;
    }
    state = State::closed;
    ready_flag = false;
    reconnect_timer.cancel();
    connect_timer.cancel();
    resolver.cancel();
    for (auto& waiter : ready_waiters) {
      waiter->cancel();
    }
    if (ac != nullptr) {
      redisAsyncFree(ac);  // pending checks get NULL replies and end as unavailable
    }
  }
};

RedisLimiter::RedisLimiter(asio::any_io_executor executor, RedisLimiterOptions options)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(options))) {
  ignore_sigpipe();
}

RedisLimiter::~RedisLimiter() { close(); }

void RedisLimiter::start() {
  asio::post(impl_->strand, [impl = impl_] {
    if (!impl->started && impl->state != Impl::State::closed) {
      impl->started = true;
      impl->connect();
    }
  });
}

void RedisLimiter::close() {
  asio::post(impl_->strand, [impl = impl_] { impl->do_close(); });
}

asio::awaitable<RedisDecision> RedisLimiter::check(const Policy& policy, std::string key) {
  const auto deadline = SteadyClock::now() + impl_->options.budget;
  std::string full_key;
  full_key.reserve(impl_->options.key_prefix.size() + policy.zone.size() + 1 + key.size());
  full_key.append(impl_->options.key_prefix).append(policy.zone).append(1, ':').append(key);
  co_return co_await asio::co_spawn(impl_->strand,
                                    Impl::run_check(impl_, emission_interval(policy), policy.burst,
                                                    policy.nodelay, std::move(full_key), deadline),
                                    asio::use_awaitable);
}

asio::awaitable<bool> RedisLimiter::wait_connected(std::chrono::milliseconds timeout) {
  co_return co_await asio::co_spawn(impl_->strand, Impl::run_wait_connected(impl_, timeout),
                                    asio::use_awaitable);
}

bool RedisLimiter::connected() const { return impl_->ready_flag.load(); }

std::string_view RedisLimiter::script() { return kScript; }

const std::string& RedisLimiter::script_sha1() {
  static const std::string sha = sha1_hex(kScript);
  return sha;
}

}  // namespace bastion::rate_limit

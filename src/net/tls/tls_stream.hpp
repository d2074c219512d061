#pragma once
// A server-side TLS stream over beast::tcp_stream whose ciphertext buffers exist only while bytes
// are in flight.
//
// Why not asio::ssl::stream: its engine holds four 17 KiB buffers (two vectors, a BIO pair) for
// the connection's whole life, 68 KiB of an idle keep-alive connection's ~75 KiB. Here OpenSSL
// reads and writes ciphertext through a BIO of ours: input comes from a small inline buffer (the
// read that waits for the next record) or from a heap buffer grown only while a burst arrives,
// output goes to a heap buffer sent as it fills. release_buffers() gives all of it back, with
// OpenSSL's own record buffers, once a connection is idle.
//
// It is only glue: OpenSSL does the record layer and the crypto. Errors are reported as
// asio::ssl::stream reports them (close_notify -> eof, TCP closed without one -> stream_truncated,
// OpenSSL errors in the ssl category), since callers tell a departed peer by them.
//
// One read and one write may be outstanding at once; flushes of ciphertext never interleave.
// Every TCP operation goes through the tcp_stream, so its expires_after() covers the TLS ones.
#include <openssl/ssl.h>

#include <array>
#include <boost/asio/append.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <algorithm>
#include <cstddef>
#include <cstring>

namespace bastion::net {

class TlsStream {
 public:
  using next_layer_type = boost::beast::tcp_stream;
  using executor_type = next_layer_type::executor_type;
  using handshake_type = boost::asio::ssl::stream_base::handshake_type;

  // `context` must outlive the stream (the SSL object refers to it).
  TlsStream(boost::asio::ip::tcp::socket socket, boost::asio::ssl::context& context);
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  executor_type get_executor() noexcept { return tcp_.get_executor(); }
  SSL* native_handle() noexcept { return ssl_; }
  next_layer_type& next_layer() noexcept { return tcp_; }
  const next_layer_type& next_layer() const noexcept { return tcp_; }

  // Frees the ciphertext buffers that hold no bytes and no pending operation's data, and
  // OpenSSL's record buffers (which it refuses while a record is half done). Safe at any time;
  // meant for a connection waiting for its next request.
  void release_buffers();

  // Heap bytes the stream holds for ciphertext (OpenSSL's own buffers not included).
  std::size_t buffer_capacity() const noexcept;

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
        EngineOp<ReadStep<MutableBuffers>>{{*this}, ReadStep<MutableBuffers>{buffers}}, token, tcp_);
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
        WriteOp<ConstBuffers>{{*this}, buffers}, token, tcp_);
  }

  template <class Token>
  auto async_handshake(handshake_type type, Token&& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code)>(
        EngineOp<HandshakeStep>{{*this}, HandshakeStep{type}}, token, tcp_);
  }

  // Sends close_notify and waits for the peer's (or the tcp_stream's timeout, or its EOF).
  template <class Token>
  auto async_shutdown(Token&& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code)>(
        EngineOp<ShutdownStep>{{*this}, ShutdownStep{}}, token, tcp_);
  }

 private:
  // One call into OpenSSL: finished (with bytes or an error), or it needs more ciphertext.
  struct Step {
    bool need_input = false;
    boost::system::error_code ec;
    std::size_t bytes = 0;
  };

  // Ciphertext read while waiting for a record goes here, so a waiting connection holds no heap
  // buffer; a read that fills it is followed by reads into `in_`, sized for a full record.
  static constexpr std::size_t kWaitRead = 1024;
  static constexpr std::size_t kBulkRead = 17 * 1024;
  // Plaintext taken by one async_write_some: four full records per send.
  static constexpr std::size_t kMaxWrite = 4 * 16 * 1024;
  // Small buffers (an HTTP header is one per field) are gathered into records of up to this.
  static constexpr std::size_t kStage = 16 * 1024;

  Step handshake_step(handshake_type type);
  Step read_step(void* data, std::size_t size);
  Step shutdown_step();
  boost::system::error_code write_plain(const void* data, std::size_t size);
  Step finish_step(int result, std::size_t bytes);

  // Where the next TCP read goes (both input sources are empty when OpenSSL asks for more).
  boost::asio::mutable_buffer input_space();
  void input_arrived(std::size_t n);
  std::size_t take_input(char* out, std::size_t size);
  void append_output(const char* data, std::size_t size);
  // A TCP EOF is a clean end only after the peer's close_notify, as Asio maps it.
  boost::system::error_code map_eof(boost::system::error_code ec) const;

  bool has_output() const noexcept { return out_.size() + backlog_.size() > 0; }
  boost::asio::const_buffer begin_flush();
  // After a send completed; true when more output is to be sent (the flush goes on).
  bool continue_flush();
  void end_flush();

  friend int tls_stream_bio_read(BIO*, char*, int);
  friend int tls_stream_bio_write(BIO*, const char*, int);
  friend long tls_stream_bio_ctrl(BIO*, int, long, void*);

  // Encrypts up to kMaxWrite bytes of `buffers`, gathering small pieces into one record.
  template <class ConstBuffers>
  std::size_t encrypt(const ConstBuffers& buffers, boost::system::error_code& ec) {
    std::array<unsigned char, kStage> stage;
    std::size_t staged = 0, taken = 0;
    auto flush_stage = [&] {
      if (staged > 0 && !ec) ec = write_plain(stage.data(), staged);
      staged = 0;
    };
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers) && taken < kMaxWrite && !ec; ++it) {
      boost::asio::const_buffer b(*it);
      while (b.size() > 0 && taken < kMaxWrite && !ec) {
        const std::size_t room = kMaxWrite - taken;
        if (staged == 0 && b.size() >= kStage) {
          const std::size_t n = std::min(b.size(), room);
          ec = write_plain(b.data(), n);
          taken += n;
          b += n;
          continue;
        }
        const std::size_t n = std::min({b.size(), kStage - staged, room});
        std::memcpy(stage.data() + staged, b.data(), n);
        staged += n;
        taken += n;
        b += n;
        if (staged == kStage) flush_stage();
      }
    }
    flush_stage();
    return ec ? 0 : taken;
  }

  // What every operation does the same way: send the pending ciphertext, and complete without
  // ever calling the handler inline (an operation that did no I/O completes through post).
  struct OpBase {
    TlsStream& s;
    enum { start, waiting, reading, flushing, posted } state = start;
    bool async = false;  // an inner operation ran, so completing now is not inline

    template <class Self>
    void send(Self& self) {
      state = flushing;
      async = true;
      boost::asio::async_write(s.tcp_, s.begin_flush(), std::move(self));
    }
    template <class Self, class... Results>
    void complete_once(Self& self, Results... results) {
      if (async) return self.complete(results...);
      state = posted;
      async = true;  // resumed through the post: complete then
      boost::asio::post(s.tcp_.get_executor(), boost::asio::append(std::move(self), results...));
    }
  };

  // Handshake, read and shutdown share one loop: call OpenSSL, send what it wrote, read what it
  // asks for, repeat. A read that finds a write's flush under way leaves its output (a key
  // update, an alert) to that flush rather than waiting for it.
  template <class Action>
  struct EngineOp : OpBase {
    Action action;
    Step step{};
    using OpBase::s, OpBase::state, OpBase::async, OpBase::send;

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}, std::size_t n = 0) {
      switch (state) {
        case start:
          if constexpr (Action::kTotalCancellation) {
            self.reset_cancellation_state(boost::asio::enable_total_cancellation());
          }
          break;
        case reading:
          s.input_arrived(n);
          if (ec) return finish(self, s.map_eof(ec), 0);
          break;
        case flushing:
          if (!ec && s.continue_flush()) return send(self);
          s.end_flush();
          if (step.ec || ec) return finish(self, step.ec ? step.ec : ec, 0);
          if (!step.need_input) return finish(self, {}, step.bytes);
          return fetch(self);
        case posted:
          return finish(self, ec, n);
        case waiting:
          break;  // not a state of these operations
      }
      step = action(s);
      if (s.has_output() && !s.flushing_) {
        s.flushing_ = true;
        return send(self);
      }
      if (!step.need_input) return finish(self, step.ec, step.bytes);
      fetch(self);
    }

    template <class Self>
    void fetch(Self& self) {
      state = reading;
      async = true;
      s.tcp_.async_read_some(s.input_space(), std::move(self));
    }
    template <class Self>
    void finish(Self& self, boost::system::error_code ec, std::size_t n) {
      if constexpr (Action::kTransfers) {
        this->complete_once(self, ec, n);
      } else {
        this->complete_once(self, ec);
      }
    }
  };

  template <class Buffers>
  struct ReadStep {
    static constexpr bool kTotalCancellation = true;  // nothing is lost if no bytes arrived
    static constexpr bool kTransfers = true;
    Buffers buffers;
    Step operator()(TlsStream& s) {
      for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers);
           ++it) {
        boost::asio::mutable_buffer b(*it);
        if (b.size() > 0) return s.read_step(b.data(), b.size());
      }
      return {};
    }
  };
  struct HandshakeStep {
    static constexpr bool kTotalCancellation = false;
    static constexpr bool kTransfers = false;
    handshake_type type;
    Step operator()(TlsStream& s) { return s.handshake_step(type); }
  };
  struct ShutdownStep {
    static constexpr bool kTotalCancellation = false;
    static constexpr bool kTransfers = false;
    Step operator()(TlsStream& s) { return s.shutdown_step(); }
  };

  // Waits while another operation's flush is under way (writes never interleave), encrypts, and
  // sends; the send also carries whatever a concurrent read left behind.
  template <class Buffers>
  struct WriteOp : OpBase {
    Buffers buffers;
    using OpBase::s, OpBase::state, OpBase::async, OpBase::send;
    std::size_t taken = 0;
    boost::system::error_code error{};

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}, std::size_t n = 0) {
      switch (state) {
        case start:
          if (boost::asio::buffer_size(buffers) == 0) return finish(self, {}, 0);
          if (s.flushing_) return wait_for_flush(self);
          break;
        case waiting:
          // The timer is cancelled when the flush ends, or by this write's own cancellation.
          if (self.cancelled() != boost::asio::cancellation_type::none) {
            return finish(self, boost::asio::error::operation_aborted, 0);
          }
          if (s.flushing_) return wait_for_flush(self);  // another flush began before this write resumed
          break;
        case flushing:
          if (!ec && s.continue_flush()) return send(self);
          s.end_flush();
          return finish(self, error ? error : ec, error || ec ? 0 : taken);
        case posted:
          return finish(self, ec, n);
        case reading:
          break;  // not a state of a write
      }
      taken = s.encrypt(buffers, error);
      if (!s.has_output()) return finish(self, error, taken);
      s.flushing_ = true;  // an alert goes out with the error too
      send(self);
    }
    template <class Self>
    void wait_for_flush(Self& self) {
      state = waiting;
      async = true;
      s.flush_done_.expires_at(boost::asio::steady_timer::time_point::max());
      s.flush_done_.async_wait(std::move(self));
    }
    template <class Self>
    void finish(Self& self, boost::system::error_code ec, std::size_t n) {
      this->complete_once(self, ec, n);
    }
  };

  next_layer_type tcp_;
  SSL* ssl_ = nullptr;
  boost::beast::flat_buffer in_;       // ciphertext of a burst, beyond the wait buffer
  boost::beast::flat_buffer out_;      // ciphertext to send (being sent while flushing_)
  boost::beast::flat_buffer backlog_;  // what a read produced during another's flush
  std::array<char, kWaitRead> wait_buf_{};
  std::size_t wait_begin_ = 0, wait_end_ = 0;
  bool bulk_next_ = false;      // the last read filled its buffer: more is likely queued
  bool fetching_bulk_ = false;  // a TCP read into `in_` is pending
  bool flushing_ = false;
  boost::asio::steady_timer flush_done_;  // a write waiting for another's flush waits on it
};

}  // namespace bastion::net

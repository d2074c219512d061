#include "net/tls/tls_stream.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>

#include <boost/system/system_error.hpp>
#include <climits>

namespace bastion::net {

namespace asio = boost::asio;

// The BIO OpenSSL reads and writes ciphertext through; its data pointer is the stream.
int tls_stream_bio_read(BIO* bio, char* out, int size) {
  BIO_clear_retry_flags(bio);
  auto* stream = static_cast<TlsStream*>(BIO_get_data(bio));
  const auto n = stream->take_input(out, static_cast<std::size_t>(size > 0 ? size : 0));
  if (n == 0) {
    BIO_set_retry_read(bio);  // the stream reads more from TCP and calls OpenSSL again
    return -1;
  }
  return static_cast<int>(n);
}

int tls_stream_bio_write(BIO* bio, const char* data, int size) {
  BIO_clear_retry_flags(bio);
  if (size <= 0) return 0;
  static_cast<TlsStream*>(BIO_get_data(bio))->append_output(data, static_cast<std::size_t>(size));
  return size;
}

long tls_stream_bio_ctrl(BIO* bio, int cmd, long, void*) {
  auto* stream = static_cast<TlsStream*>(BIO_get_data(bio));
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;  // output is sent by the operation that produced it
    case BIO_CTRL_PENDING:
      return static_cast<long>(stream->in_.size() + (stream->wait_end_ - stream->wait_begin_));
    case BIO_CTRL_WPENDING:
      return static_cast<long>(stream->out_.size() + stream->backlog_.size());
    default:
      return 0;
  }
}

namespace {

BIO_METHOD* bio_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "bastion tls stream");
    if (m == nullptr) return m;
    BIO_meth_set_read(m, tls_stream_bio_read);
    BIO_meth_set_write(m, tls_stream_bio_write);
    BIO_meth_set_ctrl(m, tls_stream_bio_ctrl);
    return m;
  }();
  return method;
}

boost::system::error_code last_ssl_error() {
  return {static_cast<int>(ERR_get_error()), asio::error::get_ssl_category()};
}

}  // namespace

TlsStream::TlsStream(asio::ip::tcp::socket socket, asio::ssl::context& context)
    : tcp_(std::move(socket)), flush_done_(tcp_.get_executor()) {
  ERR_clear_error();
  BIO_METHOD* method = bio_method();
  ssl_ = SSL_new(context.native_handle());
  BIO* bio = method != nullptr && ssl_ != nullptr ? BIO_new(method) : nullptr;
  if (bio == nullptr) {
    const auto ec = last_ssl_error();
    SSL_free(ssl_);
    throw boost::system::system_error(ec, "TLS stream");
  }
  BIO_set_data(bio, this);
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl_, bio, bio);  // one BIO both ways; the SSL object owns it
  // Busy connections keep OpenSSL's record buffers (freeing and allocating them for every record
  // costs several 16 KiB malloc/free pairs per request); release_buffers() frees them when idle.
  SSL_clear_mode(ssl_, SSL_MODE_RELEASE_BUFFERS);
}

TlsStream::~TlsStream() { SSL_free(ssl_); }

void TlsStream::release_buffers() {
  if (in_.size() == 0 && !fetching_bulk_) {
    in_.clear();
    in_.shrink_to_fit();
  }
  if (!flushing_ && out_.size() == 0) {
    out_.clear();
    out_.shrink_to_fit();
  }
  if (backlog_.size() == 0) backlog_.shrink_to_fit();
  SSL_free_buffers(ssl_);  // refuses (harmlessly) while a record is half read or written
}

std::size_t TlsStream::buffer_capacity() const noexcept {
  return in_.capacity() + out_.capacity() + backlog_.capacity();
}

TlsStream::Step TlsStream::finish_step(int result, std::size_t bytes) {
  if (result > 0) return {false, {}, bytes};
  const int error = SSL_get_error(ssl_, result);
  switch (error) {
    case SSL_ERROR_WANT_READ:
      return {true, {}, 0};
    case SSL_ERROR_ZERO_RETURN:
      return {false, asio::error::eof, 0};
    case SSL_ERROR_SSL:
      return {false, last_ssl_error(), 0};
    case SSL_ERROR_SYSCALL: {
      const auto code = ERR_get_error();
      if (code == 0) return {false, asio::ssl::error::unspecified_system_error, 0};
      return {false, {static_cast<int>(code), asio::error::get_ssl_category()}, 0};
    }
    default:  // our BIO never refuses a write, and no callback here asks to retry
      return {false, asio::ssl::error::unexpected_result, 0};
  }
}

TlsStream::Step TlsStream::handshake_step(handshake_type type) {
  ERR_clear_error();
  if (SSL_in_before(ssl_)) {
    if (type == handshake_type::server) {
      SSL_set_accept_state(ssl_);
    } else {
      SSL_set_connect_state(ssl_);
    }
  }
  return finish_step(SSL_do_handshake(ssl_), 0);
}

TlsStream::Step TlsStream::read_step(void* data, std::size_t size) {
  ERR_clear_error();
  std::size_t n = 0;
  const int ok = SSL_read_ex(ssl_, data, size, &n);
  return finish_step(ok, n);
}

TlsStream::Step TlsStream::shutdown_step() {
  ERR_clear_error();
  const int result = SSL_shutdown(ssl_);
  if (result == 0) return {true, {}, 0};  // ours is sent; the peer's is still to come
  return finish_step(result, 0);
}

boost::system::error_code TlsStream::write_plain(const void* data, std::size_t size) {
  ERR_clear_error();
  std::size_t n = 0;
  const int ok = SSL_write_ex(ssl_, data, size, &n);
  auto step = finish_step(ok, n);
  if (step.need_input) return asio::ssl::error::unexpected_result;  // renegotiation is off
  return step.ec;
}

asio::mutable_buffer TlsStream::input_space() {
  fetching_bulk_ = bulk_next_;
  if (fetching_bulk_) return in_.prepare(kBulkRead);
  return asio::buffer(wait_buf_);
}

void TlsStream::input_arrived(std::size_t n) {
  if (fetching_bulk_) {
    fetching_bulk_ = false;
    in_.commit(n);
    bulk_next_ = n == kBulkRead;
  } else {
    wait_begin_ = 0;
    wait_end_ = n;
    bulk_next_ = n == kWaitRead;
  }
}

std::size_t TlsStream::take_input(char* out, std::size_t size) {
  if (wait_begin_ < wait_end_) {
    const std::size_t n = std::min(size, wait_end_ - wait_begin_);
    std::memcpy(out, wait_buf_.data() + wait_begin_, n);
    wait_begin_ += n;
    return n;
  }
  const std::size_t n = std::min(size, in_.size());
  if (n > 0) asio::buffer_copy(asio::buffer(out, n), in_.data());
  in_.consume(n);
  return n;
}

void TlsStream::append_output(const char* data, std::size_t size) {
  auto& to = flushing_ ? backlog_ : out_;
  to.commit(asio::buffer_copy(to.prepare(size), asio::buffer(data, size)));
}

boost::system::error_code TlsStream::map_eof(boost::system::error_code ec) const {
  if (ec != asio::error::eof) return ec;
  if ((SSL_get_shutdown(ssl_) & SSL_RECEIVED_SHUTDOWN) == 0) return asio::ssl::error::stream_truncated;
  return ec;
}

asio::const_buffer TlsStream::begin_flush() { return out_.data(); }

bool TlsStream::continue_flush() {
  out_.consume(out_.size());
  if (backlog_.size() == 0) return false;
  out_.commit(asio::buffer_copy(out_.prepare(backlog_.size()), backlog_.data()));
  backlog_.clear();
  return true;
}

void TlsStream::end_flush() {
  out_.consume(out_.size());
  backlog_.clear();
  flushing_ = false;
  flush_done_.cancel();
}

}  // namespace bastion::net

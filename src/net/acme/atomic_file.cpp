#include "net/acme/atomic_file.hpp"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "core/hex.hpp"

namespace bastion::net::acme {

namespace {
boost::system::error_code last_errno() { return {errno, boost::system::system_category()}; }

std::string random_suffix() {
  unsigned char bytes[8];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return std::to_string(::getpid());
  return core::hex_encode({reinterpret_cast<const char*>(bytes), sizeof bytes});
}
}  // namespace

void sync_dir(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

boost::system::result<void> write_file_atomic(const std::filesystem::path& file, std::string_view content,
                                              unsigned mode) {
  auto tmp = file;
  tmp += ".tmp-" + random_suffix();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return last_errno();
  // The umask may have removed bits; key files must be exactly `mode`, never wider.
  ::fchmod(fd, mode);
  std::size_t done = 0;
  while (done < content.size()) {
    auto n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      auto ec = last_errno();
      ::close(fd);
      ::unlink(tmp.c_str());
      return ec;
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    auto ec = last_errno();
    ::unlink(tmp.c_str());
    return ec;
  }
  if (::rename(tmp.c_str(), file.c_str()) != 0) {
    auto ec = last_errno();
    ::unlink(tmp.c_str());
    return ec;
  }
  sync_dir(file.parent_path().empty() ? std::filesystem::path(".") : file.parent_path());
  return {};
}

boost::system::result<std::string> read_file_limited(const std::filesystem::path& file, std::size_t limit) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return last_errno();
  std::string out;
  char buf[8192];
  for (;;) {
    auto n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      auto ec = last_errno();
      ::close(fd);
      return ec;
    }
    if (n == 0) break;
    if (out.size() + static_cast<std::size_t>(n) > limit) {
      ::close(fd);
      return boost::system::errc::make_error_code(boost::system::errc::file_too_large);
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

boost::system::result<void> ensure_private_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) {
    auto parent = dir.parent_path();
    if (!parent.empty() && parent != dir) {
      auto r = ensure_private_dir(parent);
      if (!r) return r;
    }
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return last_errno();
    return {};
  }
  if (!std::filesystem::is_directory(dir, ec)) {
    return boost::system::errc::make_error_code(boost::system::errc::not_a_directory);
  }
  return {};
}

}  // namespace bastion::net::acme

#include "record/spool.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <boost/json.hpp>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "record/interaction_json.hpp"

namespace bastion::record {
namespace json = boost::json;
namespace {

constexpr char kMagic[4] = {'B', 'S', 'P', '1'};
constexpr std::size_t kHeader = 12;
constexpr std::uint64_t kMaxFrame = 1ull << 30;
constexpr std::string_view kPrefix = "segment-";
constexpr std::string_view kSuffix = ".spool";

std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k)
      c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;  // reflected Castagnoli
    t[i] = c;
  }
  return t;
}

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
std::uint32_t get_u32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string errno_text(std::string_view what) {
  return std::string(what) + ": " + std::strerror(errno);
}

bool write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// Reads exactly `size` bytes at `offset`; false on EOF or error.
bool read_at(int fd, std::uint64_t offset, char* out, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::pread(fd, out, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    out += n;
    size -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
  return true;
}

void fsync_dir(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// Segment number from "segment-<digits>.spool", or 0.
std::uint64_t segment_number(const std::string& name) {
  if (name.size() <= kPrefix.size() + kSuffix.size() ||
      name.compare(0, kPrefix.size(), kPrefix) != 0 ||
      name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
    return 0;
  }
  std::uint64_t n = 0;
  const char* b = name.data() + kPrefix.size();
  const char* e = name.data() + name.size() - kSuffix.size();
  auto [p, ec] = std::from_chars(b, e, n);
  return ec == std::errc{} && p == e ? n : 0;
}

}  // namespace

std::uint32_t crc32c(std::string_view data) {
  static const auto table = make_crc_table();
  std::uint32_t c = 0xFFFFFFFFu;
  for (char ch : data) c = table[(c ^ static_cast<unsigned char>(ch)) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

Spool::Spool(SpoolConfig config) : config_(std::move(config)) {}

Spool::~Spool() {
  close_active();
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

std::filesystem::path Spool::segment_path(std::uint64_t seq) const {
  std::array<char, 21> digits{};
  std::snprintf(digits.data(), digits.size(), "%020llu", static_cast<unsigned long long>(seq));
  return config_.dir / (std::string(kPrefix) + digits.data() + std::string(kSuffix));
}

StoreResult Spool::open() {
  if (opened_) return {};
  std::error_code ec;
  std::filesystem::create_directories(config_.dir, ec);
  if (ec) return {false, "spool: cannot create " + config_.dir.string() + ": " + ec.message()};
  lock_fd_ = ::open((config_.dir / "LOCK").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0)
    return {false, "spool: " + errno_text("cannot open lock file in " + config_.dir.string())};
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd_);
    lock_fd_ = -1;
    return {false, "spool: directory " + config_.dir.string() + " is in use by another process"};
  }
  for (const auto& entry : std::filesystem::directory_iterator(config_.dir, ec)) {
    auto seq = segment_number(entry.path().filename().string());
    if (seq == 0) continue;
    std::error_code size_ec;
    auto size = std::filesystem::file_size(entry.path(), size_ec);
    if (size_ec) continue;
    segments_[seq] = size;
    bytes_ += size;
    next_seq_ = std::max(next_seq_, seq + 1);
  }
  if (ec) return {false, "spool: cannot list " + config_.dir.string() + ": " + ec.message()};
  cursor_ = {segments_.empty() ? next_seq_ : segments_.begin()->first, 0};
  opened_ = true;
  if (!segments_.empty()) {
    spdlog::info("spool: {} segment(s), {} bytes left by an earlier run in {}", segments_.size(),
                 bytes_, config_.dir.string());
  }
  return {};
}

void Spool::close_active() {
  if (active_fd_ >= 0) ::close(active_fd_);
  active_fd_ = -1;
  active_seq_ = 0;
}

bool Spool::start_segment(std::string& error) {
  close_active();
  std::uint64_t seq = next_seq_++;
  auto path = segment_path(seq);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = errno_text("spool: cannot create " + path.string());
    return false;
  }
  if (config_.fsync) fsync_dir(config_.dir);  // the new name must survive a crash too
  active_fd_ = fd;
  active_seq_ = seq;
  segments_[seq] = 0;
  return true;
}

SpoolAppendResult Spool::append(std::span<const Interaction> batch) {
  using Error = SpoolAppendResult::Error;
  if (!opened_) return {Error::io, "spool: not open"};
  if (batch.empty()) return {};
  std::string payload;
  for (const auto& r : batch) {
    payload += json::serialize(interaction_to_json(r));
    payload.push_back('\n');
  }
  if (payload.size() > kMaxFrame)
    return {Error::over_cap, "spool: batch larger than a frame may be"};
  std::string frame(kMagic, sizeof kMagic);
  put_u32(frame, static_cast<std::uint32_t>(payload.size()));
  put_u32(frame, crc32c(payload));
  frame += payload;
  if (bytes_ + frame.size() > config_.max_bytes) {
    return {Error::over_cap,
            "spool: over its cap of " + std::to_string(config_.max_bytes) + " bytes"};
  }
  std::string error;
  if (active_fd_ < 0 || (segments_[active_seq_] > 0 &&
                         segments_[active_seq_] + frame.size() > config_.segment_bytes)) {
    if (!start_segment(error)) return {Error::io, error};
  }
  const std::uint64_t before = segments_[active_seq_];
  bool ok = write_all(active_fd_, frame.data(), frame.size());
  if (ok && config_.fsync) ok = ::fdatasync(active_fd_) == 0;
  if (!ok) {
    error = errno_text("spool: cannot write " + segment_path(active_seq_).string());
    // Leave no partial frame behind; if that fails too, readers stop at the recorded size and a
    // later run sees a corrupt tail, which replay skips.
    if (::ftruncate(active_fd_, static_cast<off_t>(before)) != 0) close_active();
    return {Error::io, error};
  }
  segments_[active_seq_] = before + frame.size();
  bytes_ += frame.size();
  return {};
}

void Spool::drop_segment(std::uint64_t seq) {
  if (seq == active_seq_) close_active();
  auto it = segments_.find(seq);
  if (it == segments_.end()) return;
  bytes_ -= it->second;
  segments_.erase(it);
  std::error_code ec;
  std::filesystem::remove(segment_path(seq), ec);
  if (ec) spdlog::warn("spool: cannot remove {}: {}", segment_path(seq).string(), ec.message());
}

void Spool::skip_corrupt(std::uint64_t seq, std::uint64_t to, std::string_view why) {
  ++corrupt_frames_;
  spdlog::warn("spool: {} in {} at offset {}; skipping to offset {}", why,
               segment_path(seq).string(), cursor_.offset, to);
  // Never append after damage: the next append starts a fresh segment.
  if (seq == active_seq_) close_active();
  cursor_ = {seq, to};
}

std::optional<SpoolFrame> Spool::next() {
  if (!opened_) return std::nullopt;
  // Each turn either returns, finishes a segment or skips damage, so this ends.
  for (std::size_t turns = 0; turns < 4 * segments_.size() + 4; ++turns) {
    auto it = segments_.lower_bound(cursor_.segment);
    if (it == segments_.end()) return std::nullopt;
    if (it->first != cursor_.segment) cursor_ = {it->first, 0};
    const std::uint64_t seq = it->first;
    const std::uint64_t size = it->second;
    if (cursor_.offset >= size) {
      if (seq == active_seq_) return std::nullopt;  // caught up with the writer
      drop_segment(seq);
      continue;
    }
    int fd = ::open(segment_path(seq).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      skip_corrupt(seq, size, "unreadable segment");
      continue;
    }
    char header[kHeader];
    const std::uint64_t remaining = size - cursor_.offset;
    if (remaining < kHeader || !read_at(fd, cursor_.offset, header, kHeader)) {
      ::close(fd);
      skip_corrupt(seq, size, "torn frame header");
      continue;
    }
    const std::uint32_t length = get_u32(header + 4);
    const std::uint32_t crc = get_u32(header + 8);
    if (std::memcmp(header, kMagic, sizeof kMagic) != 0 || length > kMaxFrame ||
        length > remaining - kHeader) {
      ::close(fd);
      skip_corrupt(seq, size, "bad or torn frame");
      continue;
    }
    std::string payload(length, '\0');
    bool read_ok = read_at(fd, cursor_.offset + kHeader, payload.data(), payload.size());
    ::close(fd);
    const std::uint64_t frame_end = cursor_.offset + kHeader + length;
    if (!read_ok) {
      skip_corrupt(seq, size, "short read");
      continue;
    }
    if (crc32c(payload) != crc) {
      skip_corrupt(seq, frame_end, "checksum mismatch");  // the length looked sane: skip one frame
      continue;
    }
    SpoolFrame frame;
    frame.end = {seq, frame_end};
    bool parsed = true;
    std::size_t pos = 0;
    while (pos < payload.size()) {
      auto nl = payload.find('\n', pos);
      if (nl == std::string::npos) nl = payload.size();
      boost::system::error_code ec;
      auto value = json::parse(std::string_view(payload).substr(pos, nl - pos), ec);
      auto record = ec ? std::nullopt : interaction_from_json(value);
      if (!record) {
        parsed = false;
        break;
      }
      frame.records.push_back(std::move(*record));
      pos = nl + 1;
    }
    if (!parsed) {
      skip_corrupt(seq, frame_end, "unreadable record");
      continue;
    }
    return frame;
  }
  return std::nullopt;
}

void Spool::consume(const SpoolCursor& end) {
  cursor_ = end;
  while (!segments_.empty()) {
    auto it = segments_.begin();
    const bool before = it->first < cursor_.segment;
    const bool done = it->first == cursor_.segment && cursor_.offset >= it->second;
    if (!before && !done) break;
    drop_segment(it->first);
  }
}

SpoolReplayStats Spool::replay(const std::function<bool(std::vector<Interaction>&)>& visit) {
  SpoolReplayStats stats;
  while (auto frame = next()) {
    if (!visit(frame->records)) return stats;
    ++stats.frames;
    stats.records += frame->records.size();
    consume(frame->end);
  }
  stats.drained = !has_pending();
  return stats;
}

bool Spool::has_pending() const {
  for (const auto& [seq, size] : segments_) {
    if (seq > cursor_.segment && size > 0) return true;
    if (seq == cursor_.segment && size > cursor_.offset) return true;
  }
  return false;
}

}  // namespace bastion::record

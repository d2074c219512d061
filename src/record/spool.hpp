#pragma once
// On-disk spool for interaction batches the store could not take (down or slow): a directory of
// append-only segment files, one checksummed frame per batch, fsynced before append() returns.
// Survives kill -9: a torn or corrupt tail frame is detected on replay, counted, logged and
// skipped; everything before it is replayed.
//
// Frame: "BSP1" | u32 LE payload length | u32 LE CRC32C(payload) | payload, where the payload is
// one compact JSON object per record (interaction_to_json), each ending in '\n'.
// Segments: "segment-<20 digits>.spool", read in number order. A new process never appends to a
// segment left by an earlier one (its tail may be torn); it starts a new segment.
//
// Not thread-safe: the owner (InteractionRecorder) serialises calls. The directory is locked
// (flock on "LOCK") so two processes cannot share it.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "record/interaction.hpp"

namespace bastion::record {

// CRC-32C (Castagnoli), as used by iSCSI/ext4: crc32c("123456789") == 0xE3069283.
std::uint32_t crc32c(std::string_view data);

struct SpoolConfig {
  std::filesystem::path dir;
  std::uint64_t segment_bytes = 16ull << 20;  // roll to a new segment beyond this
  std::uint64_t max_bytes = 1ull << 30;       // total cap; append() fails with over_cap beyond it
  bool fsync = true;                          // fdatasync every frame (tests may turn it off)
};

struct SpoolAppendResult {
  enum class Error { none, over_cap, io } error = Error::none;
  std::string message;
  bool ok() const { return error == Error::none; }
};

// A place in the spool: segment number and byte offset within it.
struct SpoolCursor {
  std::uint64_t segment = 0;
  std::uint64_t offset = 0;
  bool operator==(const SpoolCursor&) const = default;
};

struct SpoolFrame {
  std::vector<Interaction> records;
  SpoolCursor end;  // pass to consume() once the store accepted the records
};

struct SpoolReplayStats {
  std::uint64_t frames = 0;
  std::uint64_t records = 0;
  bool drained = false;  // every frame was accepted; nothing is pending
};

class Spool {
 public:
  explicit Spool(SpoolConfig config);
  ~Spool();  // closes files; appended frames are already durable
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Creates and locks the directory and indexes the segments left by an earlier run.
  StoreResult open();

  // Writes the batch as one frame and fsyncs it. An empty batch is a no-op.
  SpoolAppendResult append(std::span<const Interaction> batch);

  // The oldest frame not yet consumed (the same frame again until consume()), or nullopt when
  // nothing is pending. Corrupt or torn frames on the way are skipped, counted and logged: a bad
  // checksum skips that frame; a bad header (torn length, garbage) skips the rest of its segment.
  std::optional<SpoolFrame> next();

  // Everything before `end` is done with: fully consumed segments are deleted.
  void consume(const SpoolCursor& end);

  // next()/consume() in a loop: `visit` returns true when the batch was stored (it is consumed),
  // false to stop (it stays pending).
  SpoolReplayStats replay(const std::function<bool(std::vector<Interaction>&)>& visit);

  bool has_pending() const;
  std::uint64_t bytes() const { return bytes_; }  // on disk, pending or not yet deleted
  std::uint64_t corrupt_frames() const { return corrupt_frames_; }
  std::size_t segment_count() const { return segments_.size(); }
  const SpoolConfig& config() const { return config_; }

 private:
  std::filesystem::path segment_path(std::uint64_t seq) const;
  bool start_segment(std::string& error);
  void close_active();
  void drop_segment(std::uint64_t seq);
  void skip_corrupt(std::uint64_t seq, std::uint64_t to, std::string_view why);

  SpoolConfig config_;
  int lock_fd_ = -1;
  int active_fd_ = -1;
  std::uint64_t active_seq_ = 0;  // 0: no segment open for appending
  std::uint64_t next_seq_ = 1;
  std::map<std::uint64_t, std::uint64_t> segments_;  // number -> valid bytes
  std::uint64_t bytes_ = 0;
  SpoolCursor cursor_;  // first byte not yet consumed
  std::uint64_t corrupt_frames_ = 0;
  bool opened_ = false;
};

}  // namespace bastion::record

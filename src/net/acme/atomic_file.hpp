#pragma once
// Small file helpers for key material: bounded reads and crash-safe writes.
#include <boost/system/result.hpp>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

namespace bastion::net::acme {

// Writes `content` to `<file>.tmp-<random>` (O_EXCL, `mode`), fsyncs, renames over `file` and
// fsyncs the directory: a reader sees the old or the new content, never a mix.
boost::system::result<void> write_file_atomic(const std::filesystem::path& file, std::string_view content,
                                              unsigned mode = 0600);
// The whole file, failing with file_too_large beyond `limit` bytes.
boost::system::result<std::string> read_file_limited(const std::filesystem::path& file,
                                                     std::size_t limit = 1 << 20);
// Creates the directory and missing parents with mode 0700 (existing levels are left alone).
boost::system::result<void> ensure_private_dir(const std::filesystem::path& dir);
// fsync on a directory so a rename inside it survives a crash.
void sync_dir(const std::filesystem::path& dir);

}  // namespace bastion::net::acme

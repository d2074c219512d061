#pragma once
// For tests: a fresh directory under the system temp dir (bastion-<what>-XXXXXX), removed with
// everything in it on destruction. Aborts when none can be made: no test that asks for one can
// run without it.
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace bastion::core::testing {

class TempDir {
 public:
  explicit TempDir(std::string_view what = "test") {
    std::string pattern =
        (std::filesystem::temp_directory_path() / ("bastion-" + std::string(what) + "-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string file(std::string_view name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace bastion::core::testing

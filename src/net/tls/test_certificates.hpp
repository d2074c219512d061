#pragma once
// Test-only: self-signed certificates made with the OpenSSL API, and temporary directories.
#include <filesystem>
#include <string>
#include <string_view>

#include "core/testing/temp_dir.hpp"

namespace bastion::net::tls::testing {

enum class KeyType { ec_p256, rsa2048 };

struct TestCertificate {
  std::string cert_pem;
  std::string key_pem;
};

// A self-signed leaf for CN=`common_name` (SAN DNS:localhost, IP:127.0.0.1), valid for a day.
TestCertificate make_self_signed(std::string_view common_name, long serial,
                                 KeyType type = KeyType::ec_p256);

// Writes `content` to `path` through a temporary file and rename, as certbot does (new inode).
void write_file_atomically(const std::filesystem::path& path, std::string_view content);

// A fresh directory under the system temp dir, removed with everything in it on destruction.
struct TempDir : core::testing::TempDir {
  TempDir() : core::testing::TempDir("tls") {}
};

}  // namespace bastion::net::tls::testing

#include "core/secrets.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace bastion::core;

namespace {
std::string temp_file(const std::string& name, const std::string& content) {
  auto dir = std::filesystem::temp_directory_path() / ("bastion-secrets-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto path = (dir / name).string();
  std::ofstream(path) << content;
  ::chmod(path.c_str(), 0600);
  return path;
}
}  // namespace

TEST(Secrets, ReadsFileTrimsNewlineAndRegistersForRedaction) {
  auto path = temp_file("pw", "s3cret-password-value\n");
  auto read = read_secret_file(path);
  ASSERT_TRUE(read.value) << read.error;
  EXPECT_EQ(*read.value, "s3cret-password-value");
  EXPECT_EQ(redact_secrets("connecting with s3cret-password-value now"), "connecting with *** now");
}

TEST(Secrets, ErrorsNameTheFileNotTheContent) {
  auto read = read_secret_file("/nonexistent/bastion/secret");
  EXPECT_FALSE(read.value);
  EXPECT_NE(read.error.find("/nonexistent/bastion/secret"), std::string::npos);
}

TEST(Secrets, HeaderFilesRegisterEachValue) {
  auto path = temp_file("headers", "Authorization: Bearer upstream-key-123456\nX-Api-Key: another-key-7890\n");
  ASSERT_TRUE(read_secret_file(path).value);
  auto out = redact_secrets("sent X-Api-Key another-key-7890");
  EXPECT_EQ(out.find("another-key-7890"), std::string::npos) << out;
}

TEST(Secrets, MasksKnownShapes) {
  EXPECT_EQ(redact_secrets("Authorization: Bearer abc.def-ghi"), "Authorization: Bearer ***");
  EXPECT_EQ(redact_secrets("token bst_AbCdEf12_zzzzzzzzzzzz used"), "token *** used");
  EXPECT_EQ(redact_secrets("jwt=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-part ok"), "jwt=*** ok");
  auto pem = redact_secrets("key: -----BEGIN PRIVATE KEY-----\nMIIabc\n-----END PRIVATE KEY----- done");
  EXPECT_EQ(pem.find("MIIabc"), std::string::npos) << pem;
  EXPECT_NE(pem.find("done"), std::string::npos);
  EXPECT_EQ(redact_secrets("plain text stays"), "plain text stays");
  EXPECT_EQ(redact_secrets("1 bearer token(s) loaded"), "1 bearer token(s) loaded");
}

TEST(Secrets, EnvironmentVariableAndCredentialsDirectory) {
  ::setenv("BASTION_TEST_KEY_FILE", "/from/env", 1);
  EXPECT_EQ(secret_file_path(std::string("/from/config"), "TEST_KEY"), "/from/env");
  ::unsetenv("BASTION_TEST_KEY_FILE");
  EXPECT_EQ(secret_file_path(std::string("/from/config"), "TEST_KEY"), "/from/config");
  EXPECT_FALSE(secret_file_path(std::nullopt, "TEST_KEY"));
  ::setenv("CREDENTIALS_DIRECTORY", "/run/credentials/bastion.service", 1);
  EXPECT_EQ(secret_file_path(std::string("credential:db_password"), "TEST_KEY"),
            "/run/credentials/bastion.service/db_password");
  ::unsetenv("CREDENTIALS_DIRECTORY");
}

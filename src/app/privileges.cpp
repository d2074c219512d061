#include "app/privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace bastion::app {

DropResult prepare_data_dir(const std::string& data_dir, const std::string& user) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return {false, "cannot create data directory " + data_dir + ": " + ec.message()};
  ::chmod(data_dir.c_str(), 0700);
  if (::geteuid() != 0) return {};
  struct passwd* pw = ::getpwnam(user.c_str());
  if (!pw) return {false, "run_as user '" + user + "' does not exist"};
  for (auto& entry : std::filesystem::recursive_directory_iterator(data_dir, ec)) {
    if (::lchown(entry.path().c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return {false, "cannot hand " + entry.path().string() + " to " + user + ": " + std::strerror(errno)};
    }
  }
  if (::chown(data_dir.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
    return {false, "cannot hand " + data_dir + " to " + user + ": " + std::strerror(errno)};
  }
  // After the drop, every file of the knowledge base is opened by path as `user`: each parent
  // directory must let it through, or the database and spool would fail much later.
  auto absolute = std::filesystem::absolute(data_dir, ec).lexically_normal();
  for (auto dir = absolute.parent_path(); !ec; dir = dir.parent_path()) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0) {
      const bool searchable = st.st_uid == pw->pw_uid   ? (st.st_mode & S_IXUSR)
                              : st.st_gid == pw->pw_gid ? (st.st_mode & S_IXGRP)
                                                        : (st.st_mode & S_IXOTH);
      if (!searchable) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
        return {false, "run_as user '" + user + "' cannot reach data_dir " + absolute.string() + ": " + dir.string() +
                           " (mode " + mode + ") does not let it through; choose a data_dir it can reach, such as "
                           "/var/lib/bastion"};
      }
    }
    if (dir == dir.root_path()) break;
  }
  return {};
}

DropResult drop_privileges(const std::string& user) {
  if (::geteuid() != 0) {
    ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    return {};
  }
  struct passwd* pw = ::getpwnam(user.c_str());
  if (!pw) return {false, "run_as user '" + user + "' does not exist"};
  if (pw->pw_uid == 0) return {false, "run_as must not be root"};
  if (::setgroups(0, nullptr) != 0 || ::setgid(pw->pw_gid) != 0 || ::setuid(pw->pw_uid) != 0) {
    return {false, std::string("cannot drop privileges: ") + std::strerror(errno)};
  }
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return {false, std::string("cannot set no-new-privs: ") + std::strerror(errno)};
  }
  if (::setuid(0) == 0 || ::geteuid() == 0) return {false, "root could be regained after dropping"};
  return {};
}

}  // namespace bastion::app

#pragma once
// Dropping root: Bastion binds its listeners and prepares its data directory as root (when
// started so), then becomes an unprivileged user with no-new-privs before it serves anything.
#include <string>

namespace bastion::app {

struct DropResult {
  bool ok = true;
  std::string message;
};

// Creates `data_dir` (0700) and, when running as root, hands it to `user`.
DropResult prepare_data_dir(const std::string& data_dir, const std::string& user);
// No-op unless euid is 0; then setgroups/setgid/setuid to `user` and PR_SET_NO_NEW_PRIVS.
// Verifies root cannot be regained.
DropResult drop_privileges(const std::string& user);

}  // namespace bastion::app

#pragma once
// Who a request was authenticated as: the output of every authenticator (bearer token, JWT,
// auth_request) and the input of authorization (tool policy, scope checks).
#include <string>
#include <vector>

namespace bastion::guard::auth {

struct Principal {
  std::string name;                 // token name, JWT sub/client_id, or auth_request user
  std::vector<std::string> scopes;  // OAuth scopes granted
  std::vector<std::string> tools;   // allowed exposed tool names or globs; empty = all tools
  std::string kind;                 // "token" | "jwt" | "auth_request"
};

}  // namespace bastion::guard::auth

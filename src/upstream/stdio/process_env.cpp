#include "upstream/stdio/process_env.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace bastion::upstream::stdio {

namespace {

bool valid_name(std::string_view name) {
  return !name.empty() && name.find('=') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

bool is_executable_file(const std::filesystem::path& p, int& err) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) {
    err = errno;
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    err = EACCES;
    return false;
  }
  if (::access(p.c_str(), X_OK) != 0) {
    err = errno;
    return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> process_env_lookup(std::string_view name) {
  const std::string key(name);
  if (const char* v = std::getenv(key.c_str())) return std::string(v);
  return std::nullopt;
}

boost::system::result<std::map<std::string, std::string>> build_child_env(
    const std::map<std::string, std::string>& configured, const EnvLookup& lookup) {
  std::map<std::string, std::string> env;
  for (const auto& [name, value] : configured) {
    if (!valid_name(name) || value.find('\0') != std::string::npos) {
      return boost::system::errc::make_error_code(boost::system::errc::invalid_argument);
    }
    env.emplace(name, value);
  }
  for (std::string_view name : kInheritedEnv) {
    const std::string key(name);
    if (env.contains(key)) continue;
    if (auto v = lookup ? lookup(name) : std::nullopt; v && v->find('\0') == std::string::npos) {
      env.emplace(key, std::move(*v));
    }
  }
  env.try_emplace("PATH", std::string(kDefaultPath));
  return env;
}

std::vector<std::string> to_envp_strings(const std::map<std::string, std::string>& env) {
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [name, value] : env) out.push_back(name + "=" + value);
  return out;
}

boost::system::result<std::filesystem::path> resolve_command(
    std::string_view command, std::string_view path_var,
    const std::optional<std::filesystem::path>& working_dir) {
  using boost::system::errc::make_error_code;
  namespace errc = boost::system::errc;
  if (command.empty() || command.find('\0') != std::string_view::npos) {
    return make_error_code(errc::invalid_argument);
  }
  int err = ENOENT;
  if (command.find('/') != std::string_view::npos) {
    std::filesystem::path p(command);
    if (p.is_relative() && working_dir) p = *working_dir / p;
    if (is_executable_file(p, err)) return p;
    return boost::system::error_code(err, boost::system::system_category());
  }
  // Like execvp: remember EACCES but keep looking; an empty PATH element means ".".
  bool saw_eacces = false;
  std::size_t start = 0;
  while (start <= path_var.size()) {
    std::size_t end = path_var.find(':', start);
    if (end == std::string_view::npos) end = path_var.size();
    std::string_view dir = path_var.substr(start, end - start);
    std::filesystem::path candidate = dir.empty() ? std::filesystem::path(".") : dir;
    if (candidate.is_relative() && working_dir) candidate = *working_dir / candidate;
    candidate /= command;
    if (is_executable_file(candidate, err)) return candidate;
    if (err == EACCES) saw_eacces = true;
    start = end + 1;
  }
  return boost::system::error_code(saw_eacces ? EACCES : ENOENT, boost::system::system_category());
}

}  // namespace bastion::upstream::stdio

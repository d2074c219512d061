#pragma once

#include <boost/system/result.hpp>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bastion::upstream::stdio {

// Variables a child inherits from Bastion's own environment; everything else (secrets, BASTION_*,
// proxies, cloud credentials) is dropped.
inline constexpr std::string_view kInheritedEnv[] = {"PATH", "HOME", "LANG"};
// Used when neither the configuration nor Bastion's environment provides PATH.
inline constexpr std::string_view kDefaultPath = "/usr/local/bin:/usr/bin:/bin";

using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// Reads Bastion's real environment (getenv).
std::optional<std::string> process_env_lookup(std::string_view name);

// The scrubbed child environment: `configured` plus PATH, HOME and LANG from `lookup` (configured
// values win). PATH always ends up set. Fails with invalid_argument for a name that is empty or
// holds '=' or NUL, or a value holding NUL. Error values never carry the offending value.
boost::system::result<std::map<std::string, std::string>> build_child_env(
    const std::map<std::string, std::string>& configured, const EnvLookup& lookup);

// "NAME=value" strings for execve.
std::vector<std::string> to_envp_strings(const std::map<std::string, std::string>& env);

// Finds `command` the way execvp would, but with the child's PATH and before fork (no allocation
// is allowed after fork in a threaded process). A command containing '/' is used as given
// (relative to `working_dir` when set). ENOENT when nothing is found, EACCES when only
// non-executable matches exist.
boost::system::result<std::filesystem::path> resolve_command(
    std::string_view command, std::string_view path_var,
    const std::optional<std::filesystem::path>& working_dir = std::nullopt);

}  // namespace bastion::upstream::stdio

#pragma once
// Keys of the per-row group tables of the dataset export and the store analysis: the parts
// joined with NUL, which never occurs inside names, statuses or hashes, so ("ab", "c") and
// ("a", "bc") differ. The tables are looked up by string_view, so the per-row probes reuse one
// key buffer instead of allocating a string per row.
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <unordered_map>

namespace bastion::record {

struct GroupKeyHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <class T>
using GroupTable = std::unordered_map<std::string, T, GroupKeyHash, std::equal_to<>>;

inline void append_group_key(std::string& out, std::initializer_list<std::string_view> parts) {
  for (auto p : parts) {
    out.append(p);
    out += '\0';
  }
}

// The key as a string of its own (to keep in a group).
inline std::string group_key(std::initializer_list<std::string_view> parts) {
  std::string key;
  append_group_key(key, parts);
  return key;
}

// The probe key in a reused buffer: the view is valid until the next call.
class GroupKeyProbe {
 public:
  std::string_view operator()(std::initializer_list<std::string_view> parts) {
    key_.clear();
    append_group_key(key_, parts);
    return key_;
  }

 private:
  std::string key_;
};

}  // namespace bastion::record

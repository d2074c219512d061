#include "record/store_url.hpp"

namespace bastion::record {

std::optional<StoreUrl> parse_store_url(std::string_view url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  std::string scheme;
  for (char c : url.substr(0, scheme_end))
    scheme.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
  auto rest = url.substr(scheme_end + 3);
  if (scheme == "postgres" || scheme == "postgresql") {
    return StoreUrl{StoreKind::postgres, {}, std::string(url)};
  }
  if (scheme != "sqlite" && scheme != "sqlite3") return std::nullopt;
  if (rest.empty() || rest.find('?') != std::string_view::npos ||
      rest.find('#') != std::string_view::npos) {
    return std::nullopt;
  }
  if (rest.back() == '/') return std::nullopt;  // a directory, not a database file
  return StoreUrl{StoreKind::sqlite, std::string(rest), std::string(url)};
}

}  // namespace bastion::record

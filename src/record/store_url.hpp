#pragma once
// store.url: which database the recorder writes to.
#include <optional>
#include <string>
#include <string_view>

namespace bastion::record {

enum class StoreKind { sqlite, postgres };

struct StoreUrl {
  StoreKind kind = StoreKind::sqlite;
  std::string path;  // sqlite: the file path (or ":memory:"); postgres: empty
  std::string url;   // the text as given (postgres: pass it to libpq; it may hold a password)
};

// "sqlite://./rel/path.db" -> "./rel/path.db"; "sqlite:///abs/path.db" -> "/abs/path.db";
// "sqlite://rel/path.db" -> "rel/path.db"; "sqlite://:memory:" -> ":memory:";
// "postgres://…" and "postgresql://…" -> postgres (validated by the PostgreSQL store).
// A query ("?…") on a sqlite URL is rejected rather than silently ignored. nullopt when invalid.
std::optional<StoreUrl> parse_store_url(std::string_view url);

}  // namespace bastion::record

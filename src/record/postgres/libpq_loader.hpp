#pragma once
// libpq is opened on first use (see libpq_loader.cpp), not linked: a Bastion without a
// PostgreSQL store never maps it.
#include <string>

namespace bastion::record::pg {

// Why libpq could not be loaded; empty when it was (or has not been needed yet).
const std::string& libpq_problem();

}  // namespace bastion::record::pg

// The check a command makes before it starts work on the database: it answers, and its
// schema is the one this binary expects. Failing here, once, with a hint beats failing on
// every statement later.
#pragma once

#include "store/connection.h"

namespace opfleet::store {

// 0 when the database is reachable and migrated; otherwise logs why (database_unavailable,
// or schema_not_migrated with the hint to run `opfleet migrate`) and returns the exit code
// to end with: 69 (unreachable) or 78 (not migrated: restarting will not help).
int require_migrated(Connection& db);

}  // namespace opfleet::store

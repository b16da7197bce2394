#include "store/schema_gate.h"

#include "cli/exit_codes.h"
#include "common/log.h"
#include "store/migrations.h"

namespace opfleet::store {

int require_migrated(Connection& db) {
  auto schema = schema_status(db);
  if (!schema) {
    log::error("database_unavailable", {{"error", schema.error().describe()}});
    return cli::kExitUnavailable;
  }
  if (schema->current < schema->latest) {
    log::error("schema_not_migrated", {{"current", schema->current},
                                       {"latest", schema->latest},
                                       {"hint", "run `opfleet migrate` first"}});
    return cli::kExitConfig;
  }
  return cli::kExitOk;
}

}  // namespace opfleet::store

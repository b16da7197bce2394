// Versioned schema migrations, embedded in the binary (store/migrations_sql.cpp).
//
// migrate() applies the pending ones in order, each in its own transaction that first
// takes a transaction-level advisory lock (kMigrationLockKey). Two `opfleet migrate`
// runs at once are therefore safe: the second waits, then finds the work done. The
// bookkeeping table schema_migrations(version, name, applied_at) is created under the
// same lock (a concurrent CREATE TABLE IF NOT EXISTS can otherwise fail on the catalog's
// unique index). Re-running is a no-op. A migration that fails leaves the schema at the
// previous version (DDL is transactional in PostgreSQL).
//
// Migrations are append-only: never edit one that has shipped; add the next version.
// A database whose schema_migrations names a version this binary does not know (a newer
// binary migrated it), or a different name for a known version, is refused.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "store/connection.h"

namespace opfleet::store {

struct Migration {
  int version;            // 1, 2, 3... without gaps
  std::string_view name;  // short snake_case description
  std::string_view sql;   // one or more statements, run in one transaction
};

// The migrations of this binary, in version order.
std::span<const Migration> migrations();
int latest_schema_version();

// pg_advisory_xact_lock key taken by every migration transaction ("opfleet" in ASCII).
inline constexpr std::int64_t kMigrationLockKey = 0x6f70666c656574;

struct AppliedMigration {
  int version = 0;
  std::string name;
  std::string applied_at;  // ISO 8601, UTC
};

struct SchemaStatus {
  int current = 0;  // highest applied version, 0 for an empty database
  int latest = 0;   // highest version this binary knows
  std::vector<AppliedMigration> applied;
  std::vector<Migration> pending;
};

struct MigrateReport {
  int from = 0;
  int to = 0;
  std::vector<AppliedMigration> applied;  // by this call (empty: nothing to do)
};

// Applies every pending migration of `list` (default: this binary's).
Result<MigrateReport> migrate(Connection& conn, std::span<const Migration> list = migrations());

// Reads the schema version and history without changing anything.
Result<SchemaStatus> schema_status(Connection& conn,
                                   std::span<const Migration> list = migrations());

}  // namespace opfleet::store

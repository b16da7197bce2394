#include "store/migrations.h"

#include <fmt/format.h>

#include "common/log.h"
#include "store/transaction.h"

namespace opfleet::store {

namespace {

constexpr std::string_view kCreateBookkeeping = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version    integer PRIMARY KEY,
  name       text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
))sql";

constexpr std::string_view kIsoUtc =
    R"(to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))";

Status check_list(std::span<const Migration> list) {
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (list[i].version != static_cast<int>(i + 1) || list[i].name.empty() || list[i].sql.empty()) {
      return fail(Error::internal(fmt::format(
          "embedded migration #{} is malformed: versions must run 1, 2, 3... with a name and SQL",
          i + 1)));
    }
  }
  return ok();
}

template <class Executor>
Result<std::vector<AppliedMigration>> read_applied(Executor& ex) {
  OPFLEET_TRY(auto rows, ex.exec(fmt::format("SELECT version, name, {} AS applied_at "
                                             "FROM schema_migrations ORDER BY version",
                                             kIsoUtc)));
  std::vector<AppliedMigration> out;
  for (const Row& row : rows) {
    AppliedMigration m;
    OPFLEET_TRY(m.version, row.get<int>("version"));
    OPFLEET_TRY(m.name, row.get<std::string>("name"));
    OPFLEET_TRY(m.applied_at, row.get<std::string>("applied_at"));
    out.push_back(std::move(m));
  }
  return out;
}

// The database's history must be a prefix of ours.
Status check_history(const std::vector<AppliedMigration>& applied,
                     std::span<const Migration> list) {
  for (std::size_t i = 0; i < applied.size(); ++i) {
    const AppliedMigration& a = applied[i];
    if (a.version > static_cast<int>(list.size())) {
      return fail(Error::invalid(fmt::format(
          "the database schema is at version {}, newer than this binary knows (latest {}): "
          "run a newer opfleet",
          applied.back().version, list.size())));
    }
    if (a.version != static_cast<int>(i + 1)) {
      return fail(Error::invalid(
          fmt::format("schema_migrations is inconsistent: version {} recorded without version {}",
                      a.version, i + 1)));
    }
    if (a.name != list[i].name) {
      return fail(Error::invalid(
          fmt::format("migration {} is named '{}' in the database but '{}' in this binary",
                      a.version, a.name, list[i].name)));
    }
  }
  return ok();
}

}  // namespace

int latest_schema_version() {
  return static_cast<int>(migrations().size());
}

Result<MigrateReport> migrate(Connection& conn, std::span<const Migration> list) {
  OPFLEET_TRY_STATUS(check_list(list));
  MigrateReport report;
  bool first = true;
  while (true) {
    OPFLEET_TRY(auto tx, conn.begin());
    // Serialises concurrent migrators; released with this transaction.
    OPFLEET_TRY(auto locked, tx.exec("SELECT pg_advisory_xact_lock($1::bigint)",
                                     {param::int64(kMigrationLockKey)}));
    OPFLEET_TRY(auto created, tx.exec(kCreateBookkeeping));
    OPFLEET_TRY(auto applied, read_applied(tx));
    OPFLEET_TRY_STATUS(check_history(applied, list));
    const int current = applied.empty() ? 0 : applied.back().version;
    if (first) report.from = current;
    first = false;
    report.to = current;
    if (current >= static_cast<int>(list.size())) {
      OPFLEET_TRY_STATUS(tx.commit());
      return report;
    }
    const Migration& m = list[static_cast<std::size_t>(current)];
    if (auto st = tx.exec_script(m.sql); !st) {
      Error e = std::move(st).error();
      e.message = fmt::format("migration {} ({}) failed: {}", m.version, m.name, e.message);
      return fail(std::move(e));
    }
    OPFLEET_TRY(auto inserted,
                tx.exec(fmt::format("INSERT INTO schema_migrations (version, name) VALUES ($1, $2) "
                                    "RETURNING {} AS applied_at",
                                    kIsoUtc),
                        {param::int64(m.version), param::text(m.name)}));
    OPFLEET_TRY(auto applied_at, inserted.front().get<std::string>("applied_at"));
    OPFLEET_TRY_STATUS(tx.commit());
    log::info("schema_migrated", {{"version", m.version}, {"name", m.name}});
    report.applied.push_back(AppliedMigration{m.version, std::string(m.name), applied_at});
    report.to = m.version;
  }
}

Result<SchemaStatus> schema_status(Connection& conn, std::span<const Migration> list) {
  OPFLEET_TRY_STATUS(check_list(list));
  SchemaStatus status;
  status.latest = static_cast<int>(list.size());
  OPFLEET_TRY(auto exists, conn.exec("SELECT to_regclass('schema_migrations') IS NOT NULL AS e", {},
                                     Idempotent::kYes));
  OPFLEET_TRY(const bool has_table, exists.front().get<bool>("e"));
  if (has_table) {
    OPFLEET_TRY(status.applied, read_applied(conn));
    OPFLEET_TRY_STATUS(check_history(status.applied, list));
  }
  status.current = status.applied.empty() ? 0 : status.applied.back().version;
  for (std::size_t i = static_cast<std::size_t>(status.current); i < list.size(); ++i) {
    status.pending.push_back(list[i]);
  }
  return status;
}

}  // namespace opfleet::store

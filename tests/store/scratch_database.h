// A database of its own for a test: created through OPFLEET_PG_ADMIN_URL with a unique
// name, dropped (WITH (FORCE)) when the object goes. Failures throw (the test fails).
#pragma once

#include <string>
#include <string_view>

#include "store/connection.h"

namespace opfleet::testing {

class ScratchDatabase {
 public:
  explicit ScratchDatabase(std::string_view prefix = "opfleet_store");
  ~ScratchDatabase();
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;

  const std::string& name() const { return name_; }
  // A libpq connection string for this database.
  const std::string& url() const { return url_; }
  // Options for store::Connection: this database, short timeouts and backoff for tests.
  store::ConnectionOptions options() const;

 private:
  std::string admin_url_;
  std::string name_;
  std::string url_;
};

// `url` (URI or key=value) with its database replaced by `db`, as a key=value string.
std::string with_dbname(const std::string& url, const std::string& db);

// Runs one statement with a fresh libpq session (test plumbing independent of
// store::Connection); throws on error.
void admin_exec(const std::string& url, const std::string& sql);

}  // namespace opfleet::testing

#include "tests/store/scratch_database.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "tests/support/stack_env.h"

namespace opfleet::testing {

namespace {

std::string quote_value(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

}  // namespace

std::string with_dbname(const std::string& url, const std::string& db) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
  if (opts == nullptr) {
    std::string why = err != nullptr ? err : "out of memory";
    PQfreemem(err);
    throw std::runtime_error("bad URL: " + why);
  }
  std::string out;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    if (o->val == nullptr || std::strcmp(o->keyword, "dbname") == 0) continue;
    out += fmt::format("{}={} ", o->keyword, quote_value(o->val));
  }
  PQconninfoFree(opts);
  return out + "dbname=" + quote_value(db);
}

void admin_exec(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::string why = PQerrorMessage(c);
    PQfinish(c);
    throw std::runtime_error("admin connection failed: " + why);
  }
  PGresult* r = PQexec(c, sql.c_str());
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
  std::string why = ok ? "" : PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(c);
  if (!ok) throw std::runtime_error(fmt::format("{}: {}", sql, why));
}

ScratchDatabase::ScratchDatabase(std::string_view prefix) {
  admin_url_ = stack_env("OPFLEET_PG_ADMIN_URL");
  name_ = unique_name(prefix);
  std::replace(name_.begin(), name_.end(), '-', '_');
  admin_exec(admin_url_, fmt::format("CREATE DATABASE \"{}\"", name_));
  url_ = with_dbname(admin_url_, name_);
}

ScratchDatabase::~ScratchDatabase() {
  try {
    admin_exec(admin_url_, fmt::format("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", name_));
  } catch (const std::exception& e) {
    fmt::print(stderr, "warning: could not drop test database {}: {}\n", name_, e.what());
  }
}

store::ConnectionOptions ScratchDatabase::options() const {
  store::ConnectionOptions o;
  o.url = url_;
  o.application_name = "opfleet-store-test";
  o.statement_timeout = Millis(10000);
  o.reconnect = BackoffPolicy{Millis(10), Millis(100), 3};
  return o;
}

}  // namespace opfleet::testing

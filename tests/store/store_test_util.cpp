#include "tests/store/store_test_util.h"

#include <libpq-fe.h>

#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "tests/store/scratch_database.h"

namespace opfleet::testing {

void wait_until_sql(const std::string& url, const std::string& condition_sql,
                    std::chrono::milliseconds timeout) {
  PGconn* c = PQconnectdb(url.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::string why = PQerrorMessage(c);
    PQfinish(c);
    throw std::runtime_error("wait_until_sql: cannot connect: " + why);
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    PGresult* r = PQexec(c, condition_sql.c_str());
    const bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    const bool yes = ok && PQntuples(r) == 1 && std::string(PQgetvalue(r, 0, 0)) == "t";
    std::string why = ok ? "" : PQresultErrorMessage(r);
    PQclear(r);
    if (!ok) {
      PQfinish(c);
      throw std::runtime_error(fmt::format("wait_until_sql: {}: {}", condition_sql, why));
    }
    if (yes) break;
    if (std::chrono::steady_clock::now() > deadline) {
      PQfinish(c);
      throw std::runtime_error("wait_until_sql: timed out waiting for: " + condition_sql);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  PQfinish(c);
}

void terminate_backend(const std::string& url, int pid) {
  admin_exec(url, fmt::format("SELECT pg_terminate_backend({}, 10000)", pid));
}

}  // namespace opfleet::testing

#include "store/connection_config.h"

#include <libpq-fe.h>

#include <fmt/format.h>

namespace opfleet::store {

Result<ConnectionOptions> connection_options_from(const boost::program_options::variables_map& vm,
                                                  std::string application_name) {
  ConnectionOptions o;
  if (vm.count("database-url") != 0) o.url = vm["database-url"].as<std::string>();
  if (o.url.empty()) {
    return fail(Error::invalid("no database URL: set --database-url or OPFLEET_DATABASE_URL"));
  }
  // Check the URL now, so a typo is a configuration error at start-up rather than a
  // connection failure retried with backoff.
  char* err = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(o.url.c_str(), &err);
  if (parsed == nullptr) {
    std::string why = err != nullptr ? err : "out of memory";
    PQfreemem(err);
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    return fail(Error::invalid(fmt::format("--database-url: {}", why)));
  }
  PQconninfoFree(parsed);
  if (vm.count("db-statement-timeout-ms") != 0) {
    o.statement_timeout = Millis(vm["db-statement-timeout-ms"].as<int>());
  }
  if (vm.count("db-connect-timeout-s") != 0) {
    o.connect_timeout = std::chrono::seconds(vm["db-connect-timeout-s"].as<int>());
  }
  o.application_name = std::move(application_name);
  return o;
}

}  // namespace opfleet::store

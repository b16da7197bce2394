// ConnectionOptions from a subcommand's configuration (config::database_options():
// --database-url, --db-statement-timeout-ms, --db-connect-timeout-s).
#pragma once

#include <string>

#include <boost/program_options/variables_map.hpp>

#include "common/result.h"
#include "store/connection.h"

namespace opfleet::store {

// kInvalid when the URL is missing or unparsable. `application_name` shows in
// pg_stat_activity ("opfleet-worker", "opfleet-migrate"...).
Result<ConnectionOptions> connection_options_from(const boost::program_options::variables_map& vm,
                                                  std::string application_name);

}  // namespace opfleet::store

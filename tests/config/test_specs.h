// Two subcommands for the tests, registered like real ones ("testworker", "testscaler").
#pragma once

#include "config/config.h"

namespace opfleet::config::test {

CommandSpec worker_spec();  // database + AWS groups, slots, mode, lease, allow, api-token, JOB
CommandSpec scaler_spec();  // AWS group, min-workers

}  // namespace opfleet::config::test

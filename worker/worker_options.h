// The `worker` option group (also used by `supervise`, which passes them to its workers).
#pragma once

#include <boost/program_options.hpp>

#include "common/result.h"
#include "worker/worker.h"

namespace opfleet::worker {

boost::program_options::options_description worker_options();

// WorkerConfig from parsed options (queue URLs are resolved by the caller).
Result<WorkerConfig> worker_config_from(const boost::program_options::variables_map& vm);

// "<hostname>" (for attempts rows and lease owners).
std::string host_name();

}  // namespace opfleet::worker

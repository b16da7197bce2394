// `opfleet supervise` configuration: its own options, plus the worker, database and AWS
// groups, which it uses itself (crash recovery) and passes on to the workers it starts.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "config/config.h"
#include "sqs/client_config.h"
#include "store/connection.h"
#include "supervisor/child_table.h"
#include "supervisor/ecs_protection.h"

namespace opfleet::supervisor {

struct SupervisorConfig {
  std::string instance;
  int workers = 2;
  int worker_slots = 4;
  RestartPolicy restart;
  std::string http_listen;  // empty: no HTTP endpoint
  ProtectionPolicy protection;
  Duration drain_timeout{30000};  // the workers' --drain-timeout-s

  // How every worker is started: these flags after `worker --instance ... --worker-index
  // ...` (the options set anywhere but their defaults), and these environment
  // assignments (options whose values must not show in `ps`: the database URL).
  std::vector<std::string> worker_flags;
  std::vector<std::string> worker_env;

  // Crash recovery's own PostgreSQL session and SQS client.
  store::ConnectionOptions db;
  sqs::ClientConfig sqs;
  std::string queue_name;
};

config::CommandSpec supervise_spec();

// From a parse of supervise_spec().
Result<SupervisorConfig> supervisor_config_from(const config::Parsed& parsed);

// The flags and environment passed to workers for the options of `parsed` that the
// worker subcommand also declares (see SupervisorConfig).
void worker_passthrough(const config::Parsed& parsed, std::vector<std::string>* flags,
                        std::vector<std::string>* env);

}  // namespace opfleet::supervisor

// The simulator's reads of the fleet, each one statement or one API call:
//   - while it runs (the sampler, every sample interval): step and run counts of the
//     simulation's runs (by tag), the queue's depth from SQS, and the workers running
//     (from the supervisors' heartbeat rows when no local actuator is at hand);
//   - at the end: the timings of every run and step, and the faults the scaler injected.
// The simulator reaches PostgreSQL and SQS directly, not through the proxies that a
// partition cuts: it observes the partition, it is not inside it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "loadsim/report.h"
#include "sqs/client.h"
#include "store/connection.h"

namespace opfleet::loadsim {

struct StepCounts {
  std::int64_t waiting = 0;  // queued
  std::int64_t running = 0;
  std::int64_t done = 0;  // succeeded, failed, skipped
  std::int64_t runs = 0;
  std::int64_t runs_finished = 0;
};

// `tags` is the JSON object every run of the simulation carries ({"loadsim":"<id>"}).
Result<StepCounts> step_counts(store::Connection& db, const std::string& tags);

struct QueueDepth {
  std::int64_t visible = 0;
  std::int64_t in_flight = 0;
};
Result<QueueDepth> queue_depth(sqs::Client& sqs, const std::string& queue_url);

// Workers of the supervisors whose heartbeat is fresh (within three heartbeat periods).
Result<std::int64_t> heartbeat_workers(store::Connection& db);

// The database clock, epoch seconds, and the same instant as ISO 8601 UTC.
struct DbNow {
  double epoch = 0;
  std::string iso;
};
Result<DbNow> db_now(store::Connection& db);

Result<std::vector<RunTiming>> load_runs(store::Connection& db, const std::string& tags);
Result<std::vector<OpTiming>> load_ops(store::Connection& db, const std::string& tags);

// Faults recorded in scaling_events (by a scaler's failure simulation) at or after
// `since_epoch`; windows paired (partition..heal, drain..restore) per source; times
// relative to `since_epoch`.
Result<std::vector<FaultRecord>> load_scaler_faults(store::Connection& db, double since_epoch);

}  // namespace opfleet::loadsim

// The DAG of a job's ops: lookups, validation and orders. An edge goes from an op to
// each op it depends on; every function keeps definition order among equals, so the
// results are deterministic.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "jobs/job.h"

namespace opfleet::jobs {

const OpDef* find_op(const JobDef& job, std::string_view key);

// Unique keys, no unknown or self dependency, no duplicate dependency, no cycle. The
// error names the op, or spells the cycle: "a -> b -> c -> a" (each depends on the next).
Status check_graph(const JobDef& job);

// Ops with no dependencies.
std::vector<std::string> roots(const JobDef& job);

// Ops that depend directly on `key` (the candidates to enqueue when `key` completes).
std::vector<std::string> downstream(const JobDef& job, std::string_view key);

// Every op after all of its dependencies; among ops that are ready together, the one
// defined first comes first. Fails like check_graph on a bad graph.
Result<std::vector<std::string>> topological_order(const JobDef& job);

}  // namespace opfleet::jobs

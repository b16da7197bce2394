// Executes one op of a step (kinds: sleep, fail, command) on the calling thread, honouring
// the time scale and stopping early when its CancelToken says so.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "worker/cancel.h"

namespace opfleet::worker {

struct OpContext {
  std::string key;   // idempotency key (ops with external effects should use it)
  int attempt = 1;   // this execution's number, 1-based
  double time_scale = 1.0;
  const std::vector<std::string>* command_allow_list = nullptr;
};

struct OpResult {
  enum class Status { kSucceeded, kFailed, kStopped } status = Status::kFailed;
  StopReason stop_reason = StopReason::kNone;  // with kStopped
  nlohmann::json result;  // kept in steps.result
  std::string error;      // with kFailed
};

OpResult run_op(const nlohmann::json& op, const OpContext& ctx, CancelToken& token);

}  // namespace opfleet::worker

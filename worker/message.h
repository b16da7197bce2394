// The SQS message that carries one step to a worker (wire format version 1):
//   {"v":1,"run_id":"…","step_key":"fast","idempotency_key":"<run_id>#fast",
//    "attempt":0,"job":"fast_job","op":{…op spec…},"time_scale":1.0,
//    "enqueued_at":"2026-11-23T11:30:00.123Z"}
// The op spec is a hint for logs; the authoritative op comes from the steps row that the
// claim returns, so a tampered or stale message can never change what runs.
#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace opfleet::worker {

inline constexpr int kMessageVersion = 1;
// Far below SQS's 256 KiB limit: a body this large is not one of ours.
inline constexpr std::size_t kMaxMessageBytes = 64 * 1024;

struct StepMessage {
  int version = kMessageVersion;
  std::string run_id;
  std::string step_key;
  std::string idempotency_key;
  int attempt = 0;  // the step's attempt count when this message was sent
  std::string job;
  nlohmann::json op;
  double time_scale = 1.0;
  std::string enqueued_at;
};

std::string idempotency_key(std::string_view run_id, std::string_view step_key);

// "<key>#<attempt>": FIFO deduplication id (SQS silently drops a re-send with the same id
// within 5 minutes, so each retry must carry a new one). At most 128 characters.
std::string deduplication_id(std::string_view idempotency_key, int attempt);

std::string encode(const StepMessage& m);

// Parses and validates a body. The error message says why it is poison (for the DLQ log
// line): oversize, not JSON, unknown version, missing or mistyped field, key mismatch.
Result<StepMessage> decode(std::string_view body);

}  // namespace opfleet::worker

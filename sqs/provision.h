// `opfleet provision`: the task queue and its dead-letter queue, created idempotently.
// A run against queues that already exist with the wanted settings changes nothing; an
// existing queue whose settings differ is an error naming each differing attribute, and
// is left alone (changing a live queue's redrive or visibility is a decision for a person).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "sqs/client.h"
#include "sqs/types.h"

namespace opfleet::sqs {

inline constexpr const char* kDefaultQueueName = "opfleet-tasks.fifo";

struct ProvisionSpec {
  // FIFO when the name ends in ".fifo" (the default), standard otherwise.
  std::string queue_name = kDefaultQueueName;
  std::string dlq_name{};  // empty: default_dlq_name(queue_name)
  int visibility_timeout_s = 60;
  int receive_wait_s = 20;          // long polling by default: fewer empty receives
  int retention_s = 4 * 24 * 3600;  // 4 days (the SQS default, stated explicitly)
  // A message's age in the DLQ counts from its first enqueue, so the DLQ keeps messages
  // longer than the source queue (14 days, the SQS maximum) or they could expire on arrival.
  int dlq_retention_s = 14 * 24 * 3600;
  int max_receive_count = 5;
};

// "opfleet-tasks.fifo" -> "opfleet-tasks-dlq.fifo"; "jobs" -> "jobs-dlq".
std::string default_dlq_name(std::string_view queue_name);

struct ProvisionedQueue {
  std::string name{};
  std::string url{};
  std::string arn{};
  bool created = false;  // false: it existed with the wanted settings
};

struct ProvisionResult {
  ProvisionedQueue queue;
  ProvisionedQueue dlq;
  bool changed() const { return queue.created || dlq.created; }
};

// One attribute of an existing queue that is not what the spec wants.
struct AttributeConflict {
  std::string attribute{};
  std::string wanted{};
  std::string actual{};  // "(not set)" when the queue has no such attribute
};

// The wanted attributes that `actual` contradicts. RedrivePolicy is compared by meaning,
// and a difference is reported per field ("RedrivePolicy.maxReceiveCount"); booleans
// compare case-insensitively, an absent boolean as false.
std::vector<AttributeConflict> attribute_conflicts(const Attributes& wanted,
                                                   const Attributes& actual);

// Checks the spec (names, ranges, FIFO queue with FIFO DLQ) without calling SQS.
Status validate(const ProvisionSpec& spec);

// Creates what is missing (DLQ first, since the queue's RedrivePolicy names its ARN).
// kConflict naming the attributes when an existing queue differs.
Result<ProvisionResult> provision(Client& client, const ProvisionSpec& spec);

}  // namespace opfleet::sqs

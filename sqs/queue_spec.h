// What a queue should look like, turned into CreateQueue attributes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "sqs/types.h"

namespace opfleet::sqs {

// The RedrivePolicy attribute: after `max_receive_count` receives without a delete, SQS
// moves the message to the dead-letter queue.
struct RedrivePolicy {
  std::string dead_letter_target_arn{};
  int max_receive_count = 5;  // 1..1000

  // {"deadLetterTargetArn":"arn:...","maxReceiveCount":5}
  std::string to_json() const;
  // Accepts maxReceiveCount as a number or a string: SQS returns it either way.
  static Result<RedrivePolicy> parse(std::string_view text);
  bool operator==(const RedrivePolicy&) const = default;
};

struct QueueSpec {
  // FIFO queues are the ones whose name ends in ".fifo" (SQS allows no other spelling).
  std::string name{};
  std::optional<int> visibility_timeout_s{};          // 0..43200
  std::optional<int> receive_wait_s{};                // 0..20 (long poll by default)
  std::optional<int> retention_s{};                   // 60..1209600
  std::optional<int> delay_s{};                       // 0..900
  std::optional<bool> content_based_deduplication{};  // FIFO only
  std::optional<RedrivePolicy> redrive{};
  Attributes extra{};  // any other attribute, passed as given

  bool fifo() const { return name.ends_with(".fifo"); }
  // The CreateQueue attributes, validated (kInvalid naming the attribute).
  Result<Attributes> attributes() const;
};

}  // namespace opfleet::sqs

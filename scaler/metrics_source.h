// Where the scaler's numbers come from each poll:
//   - SQS GetQueueAttributes: ApproximateNumberOfMessages (visible),
//     ...NotVisible (in flight), ...Delayed;
//   - PostgreSQL: the age of the oldest queued step (SQS has no such attribute; it is a
//     CloudWatch metric), SELECT extract(epoch from now() - min(queued_at)) FROM steps
//     WHERE status = 'queued'.
// A failed source leaves its fields empty and says why; the decision then holds (never
// scales in on missing metrics). Each reading can be kept as a queue_samples row, since
// SQS keeps no history for the dashboard to chart.
#pragma once

#include <optional>
#include <string>

#include "common/result.h"
#include "scaler/decision.h"
#include "sqs/client.h"
#include "store/connection.h"

namespace opfleet::scaler {

struct MetricsReading {
  Metrics metrics;
  std::optional<Error> queue_error;  // GetQueueAttributes failed or answered nonsense
  std::optional<Error> db_error;     // the oldest-age query failed
};

// Parses the three counts out of a GetQueueAttributes answer; kInvalid names the missing
// or malformed attribute.
struct QueueCounts {
  std::int64_t visible = 0;
  std::int64_t in_flight = 0;
  std::int64_t delayed = 0;
};
Result<QueueCounts> queue_counts(const sqs::Attributes& attributes);

class MetricsSource {
 public:
  // `db` may be null (no age, no samples). The references must outlive the source.
  MetricsSource(sqs::Client& sqs, store::Connection* db, std::string queue_url,
                std::string queue_name);

  // One reading; observed_at is taken just after the queue answered.
  MetricsReading read();

  // Appends a queue_samples row (migration v2). Skips readings without queue counts.
  Status record_sample(const Metrics& metrics);

  const std::string& queue_name() const { return queue_name_; }

 private:
  sqs::Client& sqs_;
  store::Connection* db_;
  std::string queue_url_;
  std::string queue_name_;
};

}  // namespace opfleet::scaler

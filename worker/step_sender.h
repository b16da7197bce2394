// Turns queued steps into SQS messages and sends them in batches of 10.
// FIFO queues: MessageGroupId = idempotency key (steps of different keys run in
// parallel), MessageDeduplicationId = key#attempt (a retry gets a new id, a re-send of the
// same attempt within 5 minutes is dropped by SQS).
#pragma once

#include <string>
#include <vector>

#include "sqs/client.h"
#include "worker/ledger.h"
#include "worker/message.h"

namespace opfleet::worker {

StepMessage to_message(const QueuedStep& step);
sqs::OutgoingMessage to_outgoing(const QueuedStep& step, bool fifo, std::string entry_id);

// Sends every step; returns the keys SQS accepted. Failures are logged once here, with
// the count; the steps stay unsent (sent_at NULL) for the sweeper.
std::vector<std::string> send_steps(sqs::Client& client, const std::string& queue_url, bool fifo,
                                    const std::vector<QueuedStep>& steps);

// True for a FIFO queue URL (its name ends in ".fifo").
bool is_fifo_queue(std::string_view queue_url);

}  // namespace opfleet::worker

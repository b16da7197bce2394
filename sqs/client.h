// An SQS client over the JSON protocol (see sqs/wire.h for the wire format), on the
// shared AWS JSON client (aws/json_client.h), which gives it its retries and circuit
// breaker, its counters (stats()) and the breaker's state.
//
// Each call is retried on retryable errors (throttling, 5xx, network, timeouts) with
// full-jitter exponential backoff, one warn log line "sqs_retry" per retry; non-retryable
// errors (bad parameters, unknown queue, auth) come back at once. A circuit breaker counts
// consecutive failed attempts that look like an outage across calls: once open, calls fail
// fast with a retryable kUnavailable error (code "CircuitOpen") until a trial call
// succeeds, so a caller's loop must back off too (retry_after() says for how long). Errors
// are returned, not logged: the caller decides what a failure means.
//
// Retries repeat the request as it was: a SendMessage to a standard queue whose answer
// was lost may then be delivered twice (FIFO queues deduplicate it), and a
// ReceiveMessage whose answer was lost leaves its messages invisible until their
// visibility timeout ends. Both are the at-least-once delivery callers already handle.
//
// Not thread-safe: one Client owns one HTTP connection (a curl handle); use one client
// per thread.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aws/json_client.h"
#include "common/result.h"
#include "sqs/client_config.h"
#include "sqs/queue_spec.h"
#include "sqs/types.h"

namespace opfleet::sqs {

class Client : public aws::JsonClient {
 public:
  // Fails with kInvalid when the endpoint is not an absolute http(s) URL or the region is
  // empty.
  static Result<Client> make(ClientConfig config);

  // CreateQueue; returns the queue URL. Succeeds for an existing queue with the same
  // attributes; kConflict (QueueNameExists) when they differ.
  Result<std::string> create_queue(std::string_view name, const Attributes& attributes = {});
  Result<std::string> create_queue(const QueueSpec& spec);
  // kNotFound (QueueDoesNotExist) when there is no such queue.
  Result<std::string> get_queue_url(std::string_view name);
  // Empty `names` asks for "All".
  Result<Attributes> get_queue_attributes(std::string_view queue_url,
                                          std::span<const std::string> names = {});

  Result<SendResult> send_message(std::string_view queue_url, const OutgoingMessage& message);
  // Up to 10 entries with distinct ids; per-entry failures are in the result.
  Result<SendBatchResult> send_message_batch(std::string_view queue_url,
                                             std::span<const OutgoingMessage> entries);

  // The HTTP timeout of a long poll is the configured timeout plus the wait time (20 s
  // when the queue's default wait applies), so a poll is never cut short.
  Result<std::vector<Message>> receive_messages(std::string_view queue_url,
                                                const ReceiveOptions& options = {});

  Status delete_message(std::string_view queue_url, std::string_view receipt_handle);
  Result<BatchResult> delete_message_batch(std::string_view queue_url,
                                           std::span<const DeleteEntry> entries);
  Status change_message_visibility(std::string_view queue_url, std::string_view receipt_handle,
                                   int visibility_timeout_s);
  Result<BatchResult> change_message_visibility_batch(std::string_view queue_url,
                                                      std::span<const VisibilityEntry> entries);

  Status purge_queue(std::string_view queue_url);
  Status delete_queue(std::string_view queue_url);
  // Every page of ListQueues (SQS lists at most 1000 queues without a prefix).
  Result<std::vector<std::string>> list_queues(std::string_view prefix = {});

 private:
  explicit Client(aws::JsonClient base) : aws::JsonClient(std::move(base)) {}
};

}  // namespace opfleet::sqs

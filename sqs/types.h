// Plain data exchanged with SQS: what we send, what we receive, per-entry batch outcomes.
// Field names follow the SQS API (JSON protocol) so the mapping in sqs/wire.cpp stays obvious.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace opfleet::sqs {

// Queue attributes and message system attributes: SQS sends every value as a string.
using Attributes = std::map<std::string, std::string>;

// Attribute names used by this code base (the SQS API accepts others as well).
namespace attr {
inline constexpr const char* kQueueArn = "QueueArn";
inline constexpr const char* kFifoQueue = "FifoQueue";
inline constexpr const char* kContentBasedDeduplication = "ContentBasedDeduplication";
inline constexpr const char* kVisibilityTimeout = "VisibilityTimeout";
inline constexpr const char* kReceiveMessageWaitTimeSeconds = "ReceiveMessageWaitTimeSeconds";
inline constexpr const char* kMessageRetentionPeriod = "MessageRetentionPeriod";
inline constexpr const char* kDelaySeconds = "DelaySeconds";
inline constexpr const char* kMaximumMessageSize = "MaximumMessageSize";
inline constexpr const char* kRedrivePolicy = "RedrivePolicy";
inline constexpr const char* kApproximateNumberOfMessages = "ApproximateNumberOfMessages";
inline constexpr const char* kApproximateNumberOfMessagesNotVisible =
    "ApproximateNumberOfMessagesNotVisible";
inline constexpr const char* kApproximateNumberOfMessagesDelayed =
    "ApproximateNumberOfMessagesDelayed";
}  // namespace attr

// Message system attributes (ReceiveMessage MessageSystemAttributeNames).
namespace msg_attr {
inline constexpr const char* kApproximateReceiveCount = "ApproximateReceiveCount";
inline constexpr const char* kApproximateFirstReceiveTimestamp = "ApproximateFirstReceiveTimestamp";
inline constexpr const char* kSentTimestamp = "SentTimestamp";
inline constexpr const char* kMessageGroupId = "MessageGroupId";
inline constexpr const char* kMessageDeduplicationId = "MessageDeduplicationId";
inline constexpr const char* kSequenceNumber = "SequenceNumber";
inline constexpr const char* kSenderId = "SenderId";
}  // namespace msg_attr

// A user-defined message attribute. DataType is "String", "Number" or "Binary", optionally
// with a custom suffix ("String.json").
struct MessageAttributeValue {
  std::string data_type = "String";
  std::string string_value{};  // for String and Number
  std::string binary_value{};  // for Binary: base64, exactly as on the wire
  bool operator==(const MessageAttributeValue&) const = default;
};
using MessageAttributes = std::map<std::string, MessageAttributeValue>;

// One message to send (SendMessage, or one entry of SendMessageBatch).
struct OutgoingMessage {
  std::string id{};  // batch entry id ([A-Za-z0-9_-]{1,80}); unused by SendMessage
  std::string body{};
  std::string group_id{};              // FIFO queues: required
  std::string deduplication_id{};      // FIFO queues: required unless content-based dedup is on
  std::optional<int> delay_seconds{};  // standard queues only, 0..900
  MessageAttributes attributes{};
};

struct SendResult {
  std::string message_id{};
  std::string md5_of_body{};
  std::string sequence_number{};  // FIFO queues only
};

// A failed entry of a batch call. SenderFault=false means SQS failed on its side, so
// the same entry may succeed if sent again.
struct BatchEntryError {
  std::string id{};
  std::string code{};  // "ReceiptHandleIsInvalid", "MissingParameter", ...
  std::string message{};
  bool sender_fault = true;

  // The entry's failure as a typed error (kind and retryable from the code; see sqs/errors.h).
  Error to_error() const;
};

struct SendBatchResult {
  struct Entry {
    std::string id{};
    SendResult result{};
  };
  std::vector<Entry> successful{};
  std::vector<BatchEntryError> failed{};
};

// DeleteMessageBatch and ChangeMessageVisibilityBatch answer with ids only.
struct BatchResult {
  std::vector<std::string> successful{};  // entry ids
  std::vector<BatchEntryError> failed{};
};

struct DeleteEntry {
  std::string id{};
  std::string receipt_handle{};
};

struct VisibilityEntry {
  std::string id{};
  std::string receipt_handle{};
  int visibility_timeout_s = 0;  // 0..43200; 0 makes the message visible at once
};

// The system attributes a worker needs; ReceiveOptions asks for these by default.
inline const std::vector<std::string>& default_system_attribute_names() {
  static const std::vector<std::string> kNames = {
      msg_attr::kApproximateReceiveCount, msg_attr::kApproximateFirstReceiveTimestamp,
      msg_attr::kSentTimestamp,           msg_attr::kMessageGroupId,
      msg_attr::kMessageDeduplicationId,  msg_attr::kSequenceNumber};
  return kNames;
}

struct ReceiveOptions {
  int max_messages = 10;  // 1..10
  // Long poll: 0..20 s. Absent: the queue's ReceiveMessageWaitTimeSeconds applies.
  std::optional<int> wait_seconds{};
  // Per-call visibility timeout (0..43200 s). Absent: the queue's VisibilityTimeout.
  std::optional<int> visibility_timeout_s{};
  std::vector<std::string> system_attribute_names = default_system_attribute_names();
  std::vector<std::string> message_attribute_names = {"All"};
  // FIFO only: lets a retried ReceiveMessage return the same messages (see the SQS docs).
  std::string receive_request_attempt_id{};
};

struct Message {
  std::string message_id{};
  std::string receipt_handle{};
  std::string body{};
  std::string md5_of_body{};
  Attributes attributes{};  // system attributes that were asked for
  MessageAttributes message_attributes{};

  // ApproximateReceiveCount, or 0 when not asked for.
  int receive_count() const;
  // SentTimestamp in milliseconds since the epoch, or 0 when not asked for.
  std::int64_t sent_timestamp_ms() const;
  // MessageGroupId (FIFO), or empty.
  std::string group_id() const;
};

}  // namespace opfleet::sqs

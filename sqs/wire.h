// The SQS JSON protocol without any I/O: request bodies (validated before anything is
// sent) and the parsing of answers. Kept apart from the client so that unit tests can
// check every byte that would go on the wire; the HTTP request that carries a body is
// aws/json_wire.h's, with sqs::json_service() (sqs/json_service.h).
//
// Every request is `POST /` to the configured endpoint with
//   Content-Type: application/x-amz-json-1.0
//   X-Amz-Target: AmazonSQS.<Action>
// and the QueueUrl, when the action needs one, inside the JSON body. The host inside a
// QueueUrl is never contacted (an emulator's URLs often name hosts that do not resolve).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "sqs/types.h"

namespace opfleet::sqs::wire {

inline constexpr std::string_view kContentType = "application/x-amz-json-1.0";
inline constexpr std::string_view kTargetPrefix = "AmazonSQS.";

// Limits from the SQS API reference, checked before sending so the error is ours and clear.
inline constexpr int kMaxBatchEntries = 10;
inline constexpr int kMaxWaitSeconds = 20;
inline constexpr int kMaxVisibilityTimeout = 43200;
inline constexpr int kMaxDelaySeconds = 900;
inline constexpr std::size_t kMaxBatchIdLength = 80;

// Request bodies. Each validates what SQS would reject, with the parameter named.
Result<nlohmann::json> create_queue_body(std::string_view name, const Attributes& attributes);
nlohmann::json get_queue_url_body(std::string_view name);
nlohmann::json get_queue_attributes_body(std::string_view queue_url,
                                         std::span<const std::string> names);
Result<nlohmann::json> send_message_body(std::string_view queue_url, const OutgoingMessage& m);
Result<nlohmann::json> send_message_batch_body(std::string_view queue_url,
                                               std::span<const OutgoingMessage> entries);
Result<nlohmann::json> receive_message_body(std::string_view queue_url,
                                            const ReceiveOptions& options);
Result<nlohmann::json> delete_message_body(std::string_view queue_url,
                                           std::string_view receipt_handle);
Result<nlohmann::json> delete_message_batch_body(std::string_view queue_url,
                                                 std::span<const DeleteEntry> entries);
Result<nlohmann::json> change_visibility_body(std::string_view queue_url,
                                              std::string_view receipt_handle, int timeout_s);
Result<nlohmann::json> change_visibility_batch_body(std::string_view queue_url,
                                                    std::span<const VisibilityEntry> entries);
nlohmann::json queue_url_body(std::string_view queue_url);  // PurgeQueue, DeleteQueue
nlohmann::json list_queues_body(std::string_view prefix, std::string_view next_token,
                                int max_results);

// Answers. A field of the wrong type is a kInternal error naming the action and field.
Result<std::string> parse_queue_url(const nlohmann::json& answer, std::string_view action);
Result<Attributes> parse_attributes(const nlohmann::json& answer);
Result<SendResult> parse_send_result(const nlohmann::json& answer);
Result<SendBatchResult> parse_send_batch_result(const nlohmann::json& answer);
Result<std::vector<Message>> parse_messages(const nlohmann::json& answer);
Result<BatchResult> parse_batch_result(const nlohmann::json& answer, std::string_view action);
struct QueueList {
  std::vector<std::string> urls{};
  std::string next_token{};
};
Result<QueueList> parse_queue_list(const nlohmann::json& answer);

// Lower-case hex MD5 (SQS's MD5OfMessageBody checksum).
std::string md5_hex(std::string_view data);

}  // namespace opfleet::sqs::wire

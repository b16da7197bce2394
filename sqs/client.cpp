#include "sqs/client.h"

#include <algorithm>
#include <set>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sqs/json_service.h"
#include "sqs/wire.h"

namespace opfleet::sqs {
namespace {

using nlohmann::json;

constexpr int kDefaultLongPollSeconds = wire::kMaxWaitSeconds;
constexpr int kMaxListPages = 1000;

}  // namespace

Result<Client> Client::make(ClientConfig config) {
  OPFLEET_TRY(aws::JsonClient base, aws::JsonClient::make(json_service(), std::move(config)));
  return Client(std::move(base));
}

Result<std::string> Client::create_queue(std::string_view name, const Attributes& attributes) {
  OPFLEET_TRY(json body, wire::create_queue_body(name, attributes));
  OPFLEET_TRY(json answer, call("CreateQueue", body));
  return wire::parse_queue_url(answer, "CreateQueue");
}

Result<std::string> Client::create_queue(const QueueSpec& spec) {
  OPFLEET_TRY(Attributes attributes, spec.attributes());
  return create_queue(spec.name, attributes);
}

Result<std::string> Client::get_queue_url(std::string_view name) {
  OPFLEET_TRY(json answer, call("GetQueueUrl", wire::get_queue_url_body(name)));
  return wire::parse_queue_url(answer, "GetQueueUrl");
}

Result<Attributes> Client::get_queue_attributes(std::string_view queue_url,
                                                std::span<const std::string> names) {
  OPFLEET_TRY(json answer,
              call("GetQueueAttributes", wire::get_queue_attributes_body(queue_url, names)));
  return wire::parse_attributes(answer);
}

Result<SendResult> Client::send_message(std::string_view queue_url,
                                        const OutgoingMessage& message) {
  OPFLEET_TRY(json body, wire::send_message_body(queue_url, message));
  OPFLEET_TRY(json answer, call("SendMessage", body));
  OPFLEET_TRY(SendResult result, wire::parse_send_result(answer));
  // The checksum SDKs verify: SQS stored other bytes than we sent (a proxy re-encoded the
  // body, or it was damaged on the way).
  if (!result.md5_of_body.empty() && result.md5_of_body != wire::md5_hex(message.body)) {
    Error e = Error::internal(fmt::format(
        "SQS SendMessage: MD5OfMessageBody {} does not match the body sent (message {})",
        result.md5_of_body, result.message_id));
    e.code = "MD5OfMessageBodyMismatch";
    return fail(std::move(e));
  }
  return result;
}

Result<SendBatchResult> Client::send_message_batch(std::string_view queue_url,
                                                   std::span<const OutgoingMessage> entries) {
  OPFLEET_TRY(json body, wire::send_message_batch_body(queue_url, entries));
  OPFLEET_TRY(json answer, call("SendMessageBatch", body));
  OPFLEET_TRY(SendBatchResult result, wire::parse_send_batch_result(answer));
  // Same checksum as send_message, per entry: a mismatching entry is reported as failed.
  std::erase_if(result.successful, [&](const SendBatchResult::Entry& ok_entry) {
    auto sent = std::find_if(entries.begin(), entries.end(),
                             [&](const OutgoingMessage& m) { return m.id == ok_entry.id; });
    if (sent == entries.end() || ok_entry.result.md5_of_body.empty() ||
        ok_entry.result.md5_of_body == wire::md5_hex(sent->body)) {
      return false;
    }
    result.failed.push_back(
        BatchEntryError{ok_entry.id, "MD5OfMessageBodyMismatch",
                        fmt::format("MD5OfMessageBody {} does not match the body sent (message {})",
                                    ok_entry.result.md5_of_body, ok_entry.result.message_id),
                        false});
    return true;
  });
  return result;
}

Result<std::vector<Message>> Client::receive_messages(std::string_view queue_url,
                                                      const ReceiveOptions& options) {
  OPFLEET_TRY(json body, wire::receive_message_body(queue_url, options));
  const int wait = options.wait_seconds.value_or(kDefaultLongPollSeconds);
  const Millis timeout = config().http.timeout + std::chrono::seconds(wait);
  OPFLEET_TRY(json answer, call("ReceiveMessage", body, timeout));
  return wire::parse_messages(answer);
}

Status Client::delete_message(std::string_view queue_url, std::string_view receipt_handle) {
  OPFLEET_TRY(json body, wire::delete_message_body(queue_url, receipt_handle));
  OPFLEET_TRY_STATUS(call("DeleteMessage", body));
  return ok();
}

Result<BatchResult> Client::delete_message_batch(std::string_view queue_url,
                                                 std::span<const DeleteEntry> entries) {
  OPFLEET_TRY(json body, wire::delete_message_batch_body(queue_url, entries));
  OPFLEET_TRY(json answer, call("DeleteMessageBatch", body));
  return wire::parse_batch_result(answer, "DeleteMessageBatch");
}

Status Client::change_message_visibility(std::string_view queue_url,
                                         std::string_view receipt_handle,
                                         int visibility_timeout_s) {
  OPFLEET_TRY(json body,
              wire::change_visibility_body(queue_url, receipt_handle, visibility_timeout_s));
  OPFLEET_TRY_STATUS(call("ChangeMessageVisibility", body));
  return ok();
}

Result<BatchResult> Client::change_message_visibility_batch(
    std::string_view queue_url, std::span<const VisibilityEntry> entries) {
  OPFLEET_TRY(json body, wire::change_visibility_batch_body(queue_url, entries));
  OPFLEET_TRY(json answer, call("ChangeMessageVisibilityBatch", body));
  return wire::parse_batch_result(answer, "ChangeMessageVisibilityBatch");
}

Status Client::purge_queue(std::string_view queue_url) {
  OPFLEET_TRY_STATUS(call("PurgeQueue", wire::queue_url_body(queue_url)));
  return ok();
}

Status Client::delete_queue(std::string_view queue_url) {
  OPFLEET_TRY_STATUS(call("DeleteQueue", wire::queue_url_body(queue_url)));
  return ok();
}

Result<std::vector<std::string>> Client::list_queues(std::string_view prefix) {
  std::vector<std::string> urls;
  std::string token;
  std::set<std::string> seen_tokens;
  for (int page = 0; page < kMaxListPages; ++page) {
    OPFLEET_TRY(json answer, call("ListQueues", wire::list_queues_body(prefix, token, 1000)));
    OPFLEET_TRY(wire::QueueList list, wire::parse_queue_list(answer));
    urls.insert(urls.end(), list.urls.begin(), list.urls.end());
    if (list.next_token.empty()) return urls;
    // A server that hands out the same token twice would keep us here for ever.
    if (!seen_tokens.insert(list.next_token).second) {
      return fail(Error::internal("SQS ListQueues: the same NextToken came back twice"));
    }
    token = std::move(list.next_token);
  }
  return fail(Error::internal(fmt::format("SQS ListQueues: more than {} pages", kMaxListPages)));
}

}  // namespace opfleet::sqs

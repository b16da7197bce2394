#include "sqs/wire.h"

#include <openssl/evp.h>

#include <algorithm>
#include <set>
#include <utility>

#include <fmt/format.h>

namespace opfleet::sqs::wire {
namespace {

using nlohmann::json;

// SQS identifiers: queue names, batch entry ids ([A-Za-z0-9_-]).
bool id_chars_ok(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

Status check_range(std::string_view parameter, int value, int lo, int hi) {
  if (value < lo || value > hi) {
    return fail(Error::invalid(
        fmt::format("{} must be between {} and {}, got {}", parameter, lo, hi, value)));
  }
  return ok();
}

Status check_receipt_handle(std::string_view handle) {
  if (handle.empty()) return fail(Error::invalid("ReceiptHandle must not be empty"));
  return ok();
}

Status check_batch_ids(std::string_view action, std::span<const std::string_view> ids) {
  if (ids.empty()) return fail(Error::invalid(fmt::format("{}: the batch is empty", action)));
  if (ids.size() > static_cast<std::size_t>(kMaxBatchEntries)) {
    return fail(Error::invalid(
        fmt::format("{}: {} entries, at most {} per batch", action, ids.size(), kMaxBatchEntries)));
  }
  std::set<std::string_view> seen;
  for (std::string_view id : ids) {
    if (id.empty() || id.size() > kMaxBatchIdLength || !id_chars_ok(id)) {
      return fail(Error::invalid(fmt::format(
          "{}: batch entry id '{}' must be 1-80 characters of A-Z a-z 0-9 - _", action, id)));
    }
    if (!seen.insert(id).second) {
      return fail(Error::invalid(fmt::format("{}: batch entry id '{}' is repeated", action, id)));
    }
  }
  return ok();
}

Result<json> message_attributes_json(const MessageAttributes& attributes) {
  json out = json::object();
  for (const auto& [name, value] : attributes) {
    if (name.empty()) return fail(Error::invalid("a message attribute has an empty name"));
    json v = {{"DataType", value.data_type}};
    if (value.data_type.starts_with("Binary")) {
      if (value.binary_value.empty()) {
        return fail(Error::invalid(fmt::format("message attribute '{}': empty BinaryValue", name)));
      }
      v["BinaryValue"] = value.binary_value;
    } else if (value.data_type.starts_with("String") || value.data_type.starts_with("Number")) {
      v["StringValue"] = value.string_value;
    } else {
      return fail(Error::invalid(
          fmt::format("message attribute '{}': DataType '{}' is not String, Number or Binary", name,
                      value.data_type)));
    }
    out[name] = std::move(v);
  }
  return out;
}

// Fields shared by SendMessage and a SendMessageBatch entry.
Result<json> message_json(const OutgoingMessage& m) {
  if (m.body.empty()) return fail(Error::invalid("MessageBody must not be empty"));
  json j = {{"MessageBody", m.body}};
  if (!m.group_id.empty()) {
    if (m.group_id.size() > 128)
      return fail(Error::invalid("MessageGroupId exceeds 128 characters"));
    j["MessageGroupId"] = m.group_id;
  }
  if (!m.deduplication_id.empty()) {
    if (m.deduplication_id.size() > 128) {
      return fail(Error::invalid("MessageDeduplicationId exceeds 128 characters"));
    }
    j["MessageDeduplicationId"] = m.deduplication_id;
  }
  if (m.delay_seconds) {
    OPFLEET_TRY_STATUS(check_range("DelaySeconds", *m.delay_seconds, 0, kMaxDelaySeconds));
    j["DelaySeconds"] = *m.delay_seconds;
  }
  if (!m.attributes.empty()) {
    OPFLEET_TRY(j["MessageAttributes"], message_attributes_json(m.attributes));
  }
  return j;
}

Error malformed(std::string_view action, std::string_view what) {
  return Error::internal(fmt::format("malformed SQS {} answer: {}", action, what));
}

// A string field: absent is empty unless required; present but not a string is malformed.
Result<std::string> string_field(const json& obj, const char* name, std::string_view action,
                                 bool required) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) {
    if (required) return fail(malformed(action, fmt::format("no {}", name)));
    return std::string();
  }
  if (!it->is_string()) return fail(malformed(action, fmt::format("{} is not a string", name)));
  return it->get<std::string>();
}

Result<Attributes> string_map(const json& obj, const char* name, std::string_view action) {
  Attributes out;
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return out;
  if (!it->is_object()) return fail(malformed(action, fmt::format("{} is not an object", name)));
  for (const auto& [k, v] : it->items()) {
    if (!v.is_string())
      return fail(malformed(action, fmt::format("{}.{} is not a string", name, k)));
    out.emplace(k, v.get<std::string>());
  }
  return out;
}

// The array under `name`; absent or null is empty (SQS omits empty lists).
Result<const json*> array_field(const json& obj, const char* name, std::string_view action) {
  static const json kEmpty = json::array();
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return &kEmpty;
  if (!it->is_array()) return fail(malformed(action, fmt::format("{} is not an array", name)));
  return &*it;
}

Result<std::vector<BatchEntryError>> parse_failed(const json& answer, std::string_view action) {
  std::vector<BatchEntryError> out;
  OPFLEET_TRY(const json* failed, array_field(answer, "Failed", action));
  for (const json& e : *failed) {
    if (!e.is_object()) return fail(malformed(action, "a Failed entry is not an object"));
    BatchEntryError err;
    OPFLEET_TRY(err.id, string_field(e, "Id", action, true));
    OPFLEET_TRY(err.code, string_field(e, "Code", action, false));
    OPFLEET_TRY(err.message, string_field(e, "Message", action, false));
    auto sf = e.find("SenderFault");
    err.sender_fault = sf == e.end() || !sf->is_boolean() || sf->get<bool>();
    out.push_back(std::move(err));
  }
  return out;
}

Result<SendResult> send_result_fields(const json& e, std::string_view action) {
  SendResult r;
  OPFLEET_TRY(r.message_id, string_field(e, "MessageId", action, true));
  OPFLEET_TRY(r.md5_of_body, string_field(e, "MD5OfMessageBody", action, false));
  OPFLEET_TRY(r.sequence_number, string_field(e, "SequenceNumber", action, false));
  return r;
}

Result<MessageAttributes> parse_message_attributes(const json& m) {
  MessageAttributes out;
  auto it = m.find("MessageAttributes");
  if (it == m.end() || it->is_null()) return out;
  if (!it->is_object()) return fail(malformed("ReceiveMessage", "MessageAttributes"));
  for (const auto& [name, v] : it->items()) {
    if (!v.is_object()) return fail(malformed("ReceiveMessage", "a message attribute"));
    MessageAttributeValue value;
    OPFLEET_TRY(value.data_type, string_field(v, "DataType", "ReceiveMessage", true));
    OPFLEET_TRY(value.string_value, string_field(v, "StringValue", "ReceiveMessage", false));
    OPFLEET_TRY(value.binary_value, string_field(v, "BinaryValue", "ReceiveMessage", false));
    out.emplace(name, std::move(value));
  }
  return out;
}

}  // namespace

Result<json> create_queue_body(std::string_view name, const Attributes& attributes) {
  std::string_view stem = name;
  if (stem.ends_with(".fifo")) stem.remove_suffix(5);
  if (name.empty() || name.size() > 80 || stem.empty() || !id_chars_ok(stem)) {
    return fail(Error::invalid(fmt::format(
        "queue name '{}' must be 1-80 characters of A-Z a-z 0-9 - _ (FIFO: ending in .fifo)",
        name)));
  }
  json j = {{"QueueName", name}};
  if (!attributes.empty()) j["Attributes"] = attributes;
  return j;
}

json get_queue_url_body(std::string_view name) {
  return {{"QueueName", name}};
}

json get_queue_attributes_body(std::string_view queue_url, std::span<const std::string> names) {
  json j = {{"QueueUrl", queue_url}};
  j["AttributeNames"] = names.empty() ? json::array({"All"}) : json(names);
  return j;
}

Result<json> send_message_body(std::string_view queue_url, const OutgoingMessage& m) {
  OPFLEET_TRY(json j, message_json(m));
  j["QueueUrl"] = queue_url;
  return j;
}

Result<json> send_message_batch_body(std::string_view queue_url,
                                     std::span<const OutgoingMessage> entries) {
  std::vector<std::string_view> ids;
  for (const auto& e : entries) ids.push_back(e.id);
  OPFLEET_TRY_STATUS(check_batch_ids("SendMessageBatch", ids));
  json list = json::array();
  for (const auto& e : entries) {
    auto j = message_json(e);
    if (!j) {
      Error err = std::move(j).error();
      err.message = fmt::format("entry '{}': {}", e.id, err.message);
      return fail(std::move(err));
    }
    (*j)["Id"] = e.id;
    list.push_back(std::move(*j));
  }
  return json{{"QueueUrl", queue_url}, {"Entries", std::move(list)}};
}

Result<json> receive_message_body(std::string_view queue_url, const ReceiveOptions& options) {
  OPFLEET_TRY_STATUS(check_range("MaxNumberOfMessages", options.max_messages, 1, kMaxBatchEntries));
  json j = {{"QueueUrl", queue_url}, {"MaxNumberOfMessages", options.max_messages}};
  if (options.wait_seconds) {
    OPFLEET_TRY_STATUS(check_range("WaitTimeSeconds", *options.wait_seconds, 0, kMaxWaitSeconds));
    j["WaitTimeSeconds"] = *options.wait_seconds;
  }
  if (options.visibility_timeout_s) {
    OPFLEET_TRY_STATUS(
        check_range("VisibilityTimeout", *options.visibility_timeout_s, 0, kMaxVisibilityTimeout));
    j["VisibilityTimeout"] = *options.visibility_timeout_s;
  }
  if (!options.system_attribute_names.empty()) {
    j["MessageSystemAttributeNames"] = options.system_attribute_names;
  }
  if (!options.message_attribute_names.empty()) {
    j["MessageAttributeNames"] = options.message_attribute_names;
  }
  if (!options.receive_request_attempt_id.empty()) {
    j["ReceiveRequestAttemptId"] = options.receive_request_attempt_id;
  }
  return j;
}

Result<json> delete_message_body(std::string_view queue_url, std::string_view receipt_handle) {
  OPFLEET_TRY_STATUS(check_receipt_handle(receipt_handle));
  return json{{"QueueUrl", queue_url}, {"ReceiptHandle", receipt_handle}};
}

Result<json> delete_message_batch_body(std::string_view queue_url,
                                       std::span<const DeleteEntry> entries) {
  std::vector<std::string_view> ids;
  for (const auto& e : entries) ids.push_back(e.id);
  OPFLEET_TRY_STATUS(check_batch_ids("DeleteMessageBatch", ids));
  json list = json::array();
  for (const auto& e : entries) {
    OPFLEET_TRY_STATUS(check_receipt_handle(e.receipt_handle));
    list.push_back({{"Id", e.id}, {"ReceiptHandle", e.receipt_handle}});
  }
  return json{{"QueueUrl", queue_url}, {"Entries", std::move(list)}};
}

Result<json> change_visibility_body(std::string_view queue_url, std::string_view receipt_handle,
                                    int timeout_s) {
  OPFLEET_TRY_STATUS(check_receipt_handle(receipt_handle));
  OPFLEET_TRY_STATUS(check_range("VisibilityTimeout", timeout_s, 0, kMaxVisibilityTimeout));
  return json{
      {"QueueUrl", queue_url}, {"ReceiptHandle", receipt_handle}, {"VisibilityTimeout", timeout_s}};
}

Result<json> change_visibility_batch_body(std::string_view queue_url,
                                          std::span<const VisibilityEntry> entries) {
  std::vector<std::string_view> ids;
  for (const auto& e : entries) ids.push_back(e.id);
  OPFLEET_TRY_STATUS(check_batch_ids("ChangeMessageVisibilityBatch", ids));
  json list = json::array();
  for (const auto& e : entries) {
    OPFLEET_TRY_STATUS(check_receipt_handle(e.receipt_handle));
    OPFLEET_TRY_STATUS(
        check_range("VisibilityTimeout", e.visibility_timeout_s, 0, kMaxVisibilityTimeout));
    list.push_back({{"Id", e.id},
                    {"ReceiptHandle", e.receipt_handle},
                    {"VisibilityTimeout", e.visibility_timeout_s}});
  }
  return json{{"QueueUrl", queue_url}, {"Entries", std::move(list)}};
}

json queue_url_body(std::string_view queue_url) {
  return {{"QueueUrl", queue_url}};
}

json list_queues_body(std::string_view prefix, std::string_view next_token, int max_results) {
  json j = json::object();
  if (!prefix.empty()) j["QueueNamePrefix"] = prefix;
  if (!next_token.empty()) j["NextToken"] = next_token;
  if (max_results > 0) j["MaxResults"] = max_results;
  return j;
}

Result<std::string> parse_queue_url(const json& answer, std::string_view action) {
  return string_field(answer, "QueueUrl", action, true);
}

Result<Attributes> parse_attributes(const json& answer) {
  return string_map(answer, "Attributes", "GetQueueAttributes");
}

Result<SendResult> parse_send_result(const json& answer) {
  return send_result_fields(answer, "SendMessage");
}

Result<SendBatchResult> parse_send_batch_result(const json& answer) {
  constexpr std::string_view kAction = "SendMessageBatch";
  SendBatchResult out;
  OPFLEET_TRY(const json* ok_entries, array_field(answer, "Successful", kAction));
  for (const json& e : *ok_entries) {
    if (!e.is_object()) return fail(malformed(kAction, "a Successful entry is not an object"));
    SendBatchResult::Entry entry;
    OPFLEET_TRY(entry.id, string_field(e, "Id", kAction, true));
    OPFLEET_TRY(entry.result, send_result_fields(e, kAction));
    out.successful.push_back(std::move(entry));
  }
  OPFLEET_TRY(out.failed, parse_failed(answer, kAction));
  return out;
}

Result<std::vector<Message>> parse_messages(const json& answer) {
  constexpr std::string_view kAction = "ReceiveMessage";
  std::vector<Message> out;
  OPFLEET_TRY(const json* list, array_field(answer, "Messages", kAction));
  out.reserve(list->size());
  for (const json& m : *list) {
    if (!m.is_object()) return fail(malformed(kAction, "a message is not an object"));
    Message msg;
    OPFLEET_TRY(msg.message_id, string_field(m, "MessageId", kAction, true));
    OPFLEET_TRY(msg.receipt_handle, string_field(m, "ReceiptHandle", kAction, true));
    OPFLEET_TRY(msg.body, string_field(m, "Body", kAction, false));
    OPFLEET_TRY(msg.md5_of_body, string_field(m, "MD5OfBody", kAction, false));
    OPFLEET_TRY(msg.attributes, string_map(m, "Attributes", kAction));
    OPFLEET_TRY(msg.message_attributes, parse_message_attributes(m));
    out.push_back(std::move(msg));
  }
  return out;
}

Result<BatchResult> parse_batch_result(const json& answer, std::string_view action) {
  BatchResult out;
  OPFLEET_TRY(const json* ok_entries, array_field(answer, "Successful", action));
  for (const json& e : *ok_entries) {
    if (!e.is_object()) return fail(malformed(action, "a Successful entry is not an object"));
    OPFLEET_TRY(std::string id, string_field(e, "Id", action, true));
    out.successful.push_back(std::move(id));
  }
  OPFLEET_TRY(out.failed, parse_failed(answer, action));
  return out;
}

Result<QueueList> parse_queue_list(const json& answer) {
  constexpr std::string_view kAction = "ListQueues";
  QueueList out;
  OPFLEET_TRY(const json* urls, array_field(answer, "QueueUrls", kAction));
  for (const json& u : *urls) {
    if (!u.is_string()) return fail(malformed(kAction, "a queue URL is not a string"));
    out.urls.push_back(u.get<std::string>());
  }
  OPFLEET_TRY(out.next_token, string_field(answer, "NextToken", kAction, false));
  return out;
}

std::string md5_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // EVP (not the deprecated MD5()): the checksum SQS uses, not a security measure.
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_md5(), nullptr);
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) out += fmt::format("{:02x}", digest[i]);
  return out;
}

}  // namespace opfleet::sqs::wire

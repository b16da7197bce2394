#include "sqs/errors.h"

#include <algorithm>
#include <array>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sqs/types.h"

namespace opfleet::sqs {
namespace {

struct CodeKind {
  std::string_view code;
  ErrorKind kind;
};

// Codes from the SQS API reference (JSON and query names), the AWS common errors, and KMS
// errors SQS passes through for encrypted queues. Matching is exact after
// normalize_error_code() and after dropping "AWS.SimpleQueueService." / "KMS." prefixes.
constexpr std::array kCodes = {
    // The queue is not there.
    CodeKind{"QueueDoesNotExist", ErrorKind::kNotFound},
    CodeKind{"NonExistentQueue", ErrorKind::kNotFound},
    CodeKind{"KmsNotFound", ErrorKind::kNotFound},
    // Slow down.
    CodeKind{"ThrottlingException", ErrorKind::kThrottled},
    CodeKind{"Throttling", ErrorKind::kThrottled},
    CodeKind{"RequestThrottled", ErrorKind::kThrottled},
    CodeKind{"KmsThrottled", ErrorKind::kThrottled},
    CodeKind{"TooManyRequestsException", ErrorKind::kThrottled},
    CodeKind{"RequestLimitExceeded", ErrorKind::kThrottled},
    CodeKind{"SlowDown", ErrorKind::kThrottled},
    // Too many in-flight messages (120k standard / 20k FIFO): waits for deletes to catch up.
    CodeKind{"OverLimit", ErrorKind::kThrottled},
    // The request is wrong: repeating it will not help.
    CodeKind{"InvalidParameterValue", ErrorKind::kInvalid},
    CodeKind{"InvalidParameterValueException", ErrorKind::kInvalid},
    CodeKind{"InvalidParameterCombination", ErrorKind::kInvalid},
    CodeKind{"MissingParameter", ErrorKind::kInvalid},
    CodeKind{"MissingRequiredParameterException", ErrorKind::kInvalid},
    CodeKind{"InvalidAttributeName", ErrorKind::kInvalid},
    CodeKind{"InvalidAttributeValue", ErrorKind::kInvalid},
    CodeKind{"InvalidMessageContents", ErrorKind::kInvalid},
    CodeKind{"InvalidBatchEntryId", ErrorKind::kInvalid},
    CodeKind{"BatchEntryIdsNotDistinct", ErrorKind::kInvalid},
    CodeKind{"EmptyBatchRequest", ErrorKind::kInvalid},
    CodeKind{"TooManyEntriesInBatchRequest", ErrorKind::kInvalid},
    CodeKind{"BatchRequestTooLong", ErrorKind::kInvalid},
    CodeKind{"ReceiptHandleIsInvalid", ErrorKind::kInvalid},
    CodeKind{"InvalidIdFormat", ErrorKind::kInvalid},
    CodeKind{"MessageNotInflight", ErrorKind::kInvalid},
    CodeKind{"UnsupportedOperation", ErrorKind::kInvalid},
    CodeKind{"InvalidAddress", ErrorKind::kInvalid},
    CodeKind{"InvalidAction", ErrorKind::kInvalid},
    CodeKind{"MissingAction", ErrorKind::kInvalid},
    CodeKind{"InvalidQueryParameter", ErrorKind::kInvalid},
    CodeKind{"MalformedQueryString", ErrorKind::kInvalid},
    CodeKind{"ValidationError", ErrorKind::kInvalid},
    CodeKind{"ValidationException", ErrorKind::kInvalid},
    CodeKind{"SerializationException", ErrorKind::kInvalid},
    CodeKind{"KmsDisabled", ErrorKind::kInvalid},
    CodeKind{"KmsInvalidState", ErrorKind::kInvalid},
    CodeKind{"KmsInvalidKeyUsage", ErrorKind::kInvalid},
    CodeKind{"KmsOptInRequired", ErrorKind::kInvalid},
    // Exists with other settings, or a state that only time resolves.
    CodeKind{"QueueNameExists", ErrorKind::kConflict},
    CodeKind{"QueueAlreadyExists", ErrorKind::kConflict},
    CodeKind{"QueueDeletedRecently", ErrorKind::kConflict},
    CodeKind{"PurgeQueueInProgress", ErrorKind::kConflict},
    // SQS failed on its side.
    CodeKind{"InternalError", ErrorKind::kUnavailable},
    CodeKind{"InternalFailure", ErrorKind::kUnavailable},
    CodeKind{"ServiceUnavailable", ErrorKind::kUnavailable},
    CodeKind{"ServiceUnavailableException", ErrorKind::kUnavailable},
    // Who we are or how we signed is not accepted.
    CodeKind{"AccessDenied", ErrorKind::kAuth},
    CodeKind{"AccessDeniedException", ErrorKind::kAuth},
    CodeKind{"KmsAccessDenied", ErrorKind::kAuth},
    CodeKind{"InvalidClientTokenId", ErrorKind::kAuth},
    CodeKind{"UnrecognizedClientException", ErrorKind::kAuth},
    CodeKind{"SignatureDoesNotMatch", ErrorKind::kAuth},
    CodeKind{"IncompleteSignature", ErrorKind::kAuth},
    CodeKind{"MissingAuthenticationToken", ErrorKind::kAuth},
    CodeKind{"InvalidSecurity", ErrorKind::kAuth},
    CodeKind{"ExpiredToken", ErrorKind::kAuth},
    CodeKind{"ExpiredTokenException", ErrorKind::kAuth},
    CodeKind{"RequestExpired", ErrorKind::kAuth},
    CodeKind{"InvalidAccessKeyId", ErrorKind::kAuth},
    CodeKind{"OptInRequired", ErrorKind::kAuth},
};

std::string_view strip_prefix(std::string_view code) {
  for (std::string_view prefix : {"AWS.SimpleQueueService.", "KMS."}) {
    if (code.starts_with(prefix)) return code.substr(prefix.size());
  }
  return code;
}

std::optional<ErrorKind> lookup(std::string_view code) {
  code = strip_prefix(code);
  if (code.empty()) return std::nullopt;
  auto it =
      std::find_if(kCodes.begin(), kCodes.end(), [&](const CodeKind& c) { return c.code == code; });
  if (it != kCodes.end()) return it->kind;
  // KMS reports throttling as "KMS.ThrottlingException" and SQS as "KmsThrottled"; any
  // other "...Throttl..." spelling a service may add means the same.
  if (code.find("Throttl") != std::string_view::npos) return ErrorKind::kThrottled;
  return std::nullopt;
}

ErrorKind kind_from_status(int http_status, bool sender_fault) {
  if (http_status >= 500) return ErrorKind::kUnavailable;
  if (http_status == 429) return ErrorKind::kThrottled;
  if (http_status == 401 || http_status == 403) return ErrorKind::kAuth;
  if (http_status == 404) return ErrorKind::kNotFound;
  if (http_status >= 400) return ErrorKind::kInvalid;
  // No status (a batch entry): "Receiver" faults are SQS's, "Sender" faults ours.
  return sender_fault ? ErrorKind::kInvalid : ErrorKind::kUnavailable;
}

std::string string_field(const nlohmann::json& j, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    auto it = j.find(name);
    if (it == j.end()) continue;
    // get_ptr rather than is_string() + get(): g++ -O2 -Wnull-dereference misreads the latter.
    if (const auto* s = it->get_ptr<const std::string*>()) return *s;
  }
  return {};
}

}  // namespace

std::string normalize_error_code(std::string_view raw) {
  auto hash = raw.rfind('#');
  if (hash != std::string_view::npos) raw = raw.substr(hash + 1);
  auto colon = raw.find(':');
  if (colon != std::string_view::npos) raw = raw.substr(0, colon);
  while (!raw.empty() && raw.back() == ' ') raw.remove_suffix(1);
  while (!raw.empty() && raw.front() == ' ') raw.remove_prefix(1);
  return std::string(raw);
}

ErrorKind classify_error_code(std::string_view code, int http_status, bool sender_fault) {
  if (auto kind = lookup(code)) return *kind;
  return kind_from_status(http_status, sender_fault);
}

bool retryable_kind(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kThrottled:
    case ErrorKind::kUnavailable:
    case ErrorKind::kNetwork:
    case ErrorKind::kTimeout:
      return true;
    default:
      return false;
  }
}

Error make_service_error(std::string_view action, std::string code, std::string_view message,
                         int http_status, bool sender_fault) {
  ErrorKind kind = classify_error_code(code, http_status, sender_fault);
  std::string text = fmt::format("SQS {}: {}{}{}", action, code.empty() ? "error" : code,
                                 message.empty() ? "" : ": ", message);
  Error e = Error::make(kind, std::move(text), retryable_kind(kind));
  e.code = std::move(code);
  e.http_status = http_status;
  return e;
}

Error error_from_response(std::string_view action, const aws::HttpResponse& response) {
  const int status = static_cast<int>(response.status);
  std::string code;
  std::string message;
  auto body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_object()) {
    code = normalize_error_code(string_field(body, {"__type", "code", "Code"}));
    message = string_field(body, {"message", "Message"});
  }
  // "AWS.SimpleQueueService.NonExistentQueue;Sender": the query-protocol code and who failed.
  bool sender_fault = status < 500;
  const std::string query_error = response.header("x-amzn-query-error");
  if (!query_error.empty()) {
    auto semi = query_error.find(';');
    std::string query_code = query_error.substr(0, semi);
    if (semi != std::string::npos) sender_fault = query_error.substr(semi + 1) != "Receiver";
    if (code.empty()) code = std::move(query_code);
  }
  if (code.empty()) code = normalize_error_code(response.header("x-amzn-errortype"));
  if (message.empty() && !body.is_object() && !response.body.empty()) {
    // Not an SQS answer (a load balancer or proxy page): say so, briefly.
    message = fmt::format("HTTP {} with a non-JSON body of {} bytes", status, response.body.size());
  } else if (message.empty()) {
    message = fmt::format("HTTP {}", status);
  }
  return make_service_error(action, std::move(code), message, status, sender_fault);
}

Error BatchEntryError::to_error() const {
  Error e = make_service_error("batch entry " + id, code, message, 0, sender_fault);
  // A "Receiver" fault is SQS's: sending the entry again may work whatever the code says.
  if (!sender_fault) e.retryable = true;
  return e;
}

}  // namespace opfleet::sqs

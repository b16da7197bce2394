#include "aws/json_errors.h"

#include <algorithm>
#include <optional>
#include <span>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace opfleet::aws {
namespace {

// The errors every AWS service may answer with (the "Common Errors" page of each API
// reference) and those its front end adds, checked after the service's own codes.
constexpr ErrorCodeKind kCommonCodes[] = {
    // The service failed on its side: the same request may succeed later.
    {"InternalError", ErrorKind::kUnavailable},
    {"InternalFailure", ErrorKind::kUnavailable},
    {"ServiceUnavailable", ErrorKind::kUnavailable},
    {"ServiceUnavailableException", ErrorKind::kUnavailable},
    // Slow down.
    {"ThrottlingException", ErrorKind::kThrottled},
    {"Throttling", ErrorKind::kThrottled},
    {"TooManyRequestsException", ErrorKind::kThrottled},
    {"RequestLimitExceeded", ErrorKind::kThrottled},
    // The request is wrong: repeating it will not help.
    {"InvalidAction", ErrorKind::kInvalid},
    {"InvalidParameterCombination", ErrorKind::kInvalid},
    {"InvalidParameterValue", ErrorKind::kInvalid},
    {"MissingParameter", ErrorKind::kInvalid},
    {"MalformedQueryString", ErrorKind::kInvalid},
    {"ValidationError", ErrorKind::kInvalid},
    {"ValidationException", ErrorKind::kInvalid},
    {"SerializationException", ErrorKind::kInvalid},
    // Who we are or how we signed is not accepted.
    {"AccessDenied", ErrorKind::kAuth},
    {"AccessDeniedException", ErrorKind::kAuth},
    {"InvalidClientTokenId", ErrorKind::kAuth},
    {"UnrecognizedClientException", ErrorKind::kAuth},
    {"SignatureDoesNotMatch", ErrorKind::kAuth},
    {"IncompleteSignature", ErrorKind::kAuth},
    {"MissingAuthenticationToken", ErrorKind::kAuth},
    {"ExpiredToken", ErrorKind::kAuth},
    {"ExpiredTokenException", ErrorKind::kAuth},
    {"RequestExpired", ErrorKind::kAuth},
    {"OptInRequired", ErrorKind::kAuth},
};

std::optional<ErrorKind> find_code(std::span<const ErrorCodeKind> codes, std::string_view code) {
  auto it = std::find_if(codes.begin(), codes.end(),
                         [&](const ErrorCodeKind& c) { return c.code == code; });
  if (it == codes.end()) return std::nullopt;
  return it->kind;
}

std::optional<ErrorKind> lookup(const JsonService& service, std::string_view code) {
  for (std::string_view prefix : service.code_prefixes) {
    if (code.starts_with(prefix)) {
      code.remove_prefix(prefix.size());
      break;
    }
  }
  if (code.empty()) return std::nullopt;
  if (auto kind = find_code(service.error_codes, code)) return kind;
  if (auto kind = find_code(kCommonCodes, code)) return kind;
  // KMS reports throttling as "KMS.ThrottlingException", SQS as "KmsThrottled": any other
  // "...Throttl..." spelling a service or front end may add means the same.
  if (code.find("Throttl") != std::string_view::npos) return ErrorKind::kThrottled;
  return std::nullopt;
}

ErrorKind kind_from_status(int http_status, Fault fault) {
  if (http_status >= 500) return ErrorKind::kUnavailable;
  if (http_status == 429) return ErrorKind::kThrottled;
  if (http_status == 401 || http_status == 403) return ErrorKind::kAuth;
  if (http_status == 404) return ErrorKind::kNotFound;
  if (http_status >= 400) return ErrorKind::kInvalid;
  switch (fault) {
    case Fault::kSender:
      return ErrorKind::kInvalid;
    case Fault::kReceiver:
      return ErrorKind::kUnavailable;
    case Fault::kUnknown:
      break;
  }
  return ErrorKind::kInternal;
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

ErrorKind classify_error_code(const JsonService& service, std::string_view code, int http_status,
                              Fault fault) {
  if (auto kind = lookup(service, code)) return *kind;
  return kind_from_status(http_status, fault);
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

Error make_service_error(const JsonService& service, std::string_view action, std::string code,
                         std::string_view message, int http_status, Fault fault) {
  const ErrorKind kind = classify_error_code(service, code, http_status, fault);
  std::string text =
      fmt::format("{} {}: {}{}{}", service.name, action, code.empty() ? "error" : code,
                  message.empty() ? "" : ": ", message);
  Error e = Error::make(kind, std::move(text), retryable_kind(kind));
  e.code = std::move(code);
  e.http_status = http_status;
  return e;
}

Error error_from_response(const JsonService& service, std::string_view action,
                          const HttpResponse& response) {
  const int status = static_cast<int>(response.status);
  std::string code;
  std::string message;
  auto body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_object()) {
    code = normalize_error_code(string_field(body, {"__type", "code", "Code"}));
    message = string_field(body, {"message", "Message"});
  }
  Fault fault = Fault::kUnknown;
  if (service.query_compatible) {
    // "AWS.SimpleQueueService.NonExistentQueue;Sender": the query-protocol code and who
    // failed; without the header, the status says.
    fault = status < 500 ? Fault::kSender : Fault::kReceiver;
    const std::string query_error = response.header("x-amzn-query-error");
    if (!query_error.empty()) {
      auto semi = query_error.find(';');
      if (semi != std::string::npos) {
        fault = query_error.substr(semi + 1) == "Receiver" ? Fault::kReceiver : Fault::kSender;
      }
      if (code.empty()) code = query_error.substr(0, semi);
    }
  }
  if (code.empty()) code = normalize_error_code(response.header("x-amzn-errortype"));
  if (message.empty() && !body.is_object() && !response.body.empty()) {
    // Not the service's answer (a load balancer or proxy page): say so, briefly.
    message = fmt::format("HTTP {} with a non-JSON body of {} bytes", status, response.body.size());
  } else if (message.empty()) {
    message = fmt::format("HTTP {}", status);
  }
  return make_service_error(service, action, std::move(code), message, status, fault);
}

}  // namespace opfleet::aws

#include "ecs/errors.h"

#include <algorithm>
#include <array>
#include <optional>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace opfleet::ecs {
namespace {

struct CodeKind {
  std::string_view code;
  ErrorKind kind;
};

// Codes from the ECS API reference (the "Errors" section of each action used here) and
// the AWS common errors (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/
// CommonErrors.html). Matching is exact after normalize_error_code().
constexpr std::array kCodes = {
    // ECS failed on its side: the same request may succeed later.
    CodeKind{"ServerException", ErrorKind::kUnavailable},
    CodeKind{"InternalFailure", ErrorKind::kUnavailable},
    CodeKind{"InternalError", ErrorKind::kUnavailable},
    CodeKind{"ServiceUnavailable", ErrorKind::kUnavailable},
    CodeKind{"ServiceUnavailableException", ErrorKind::kUnavailable},
    // Slow down.
    CodeKind{"ThrottlingException", ErrorKind::kThrottled},
    CodeKind{"Throttling", ErrorKind::kThrottled},
    CodeKind{"TooManyRequestsException", ErrorKind::kThrottled},
    CodeKind{"RequestLimitExceeded", ErrorKind::kThrottled},
    // What the call names is not there. A service that is not ACTIVE (being deleted, or
    // deleted) cannot be scaled any more than a missing one.
    CodeKind{"ClusterNotFoundException", ErrorKind::kNotFound},
    CodeKind{"ServiceNotFoundException", ErrorKind::kNotFound},
    CodeKind{"ServiceNotActiveException", ErrorKind::kNotFound},
    CodeKind{"TargetNotFoundException", ErrorKind::kNotFound},
    CodeKind{"ResourceNotFoundException", ErrorKind::kNotFound},
    CodeKind{"TaskSetNotFoundException", ErrorKind::kNotFound},
    CodeKind{"NamespaceNotFoundException", ErrorKind::kNotFound},
    // The request is wrong (or not allowed for this resource): repeating it will not help.
    // ECS uses ClientException for many caller mistakes, including some permission ones.
    CodeKind{"ClientException", ErrorKind::kInvalid},
    CodeKind{"InvalidParameterException", ErrorKind::kInvalid},
    CodeKind{"UnsupportedFeatureException", ErrorKind::kInvalid},
    CodeKind{"PlatformUnknownException", ErrorKind::kInvalid},
    CodeKind{"PlatformTaskDefinitionIncompatibilityException", ErrorKind::kInvalid},
    CodeKind{"AttributeLimitExceededException", ErrorKind::kInvalid},
    CodeKind{"LimitExceededException", ErrorKind::kInvalid},
    CodeKind{"MissingVersionException", ErrorKind::kInvalid},
    CodeKind{"NoUpdateAvailableException", ErrorKind::kInvalid},
    CodeKind{"ValidationError", ErrorKind::kInvalid},
    CodeKind{"ValidationException", ErrorKind::kInvalid},
    CodeKind{"SerializationException", ErrorKind::kInvalid},
    CodeKind{"InvalidAction", ErrorKind::kInvalid},
    CodeKind{"UnknownOperationException", ErrorKind::kInvalid},
    CodeKind{"InvalidParameterCombination", ErrorKind::kInvalid},
    CodeKind{"InvalidParameterValue", ErrorKind::kInvalid},
    CodeKind{"MissingParameter", ErrorKind::kInvalid},
    CodeKind{"MalformedQueryString", ErrorKind::kInvalid},
    // The resource is in a state that conflicts with the request.
    CodeKind{"UpdateInProgressException", ErrorKind::kConflict},
    CodeKind{"ResourceInUseException", ErrorKind::kConflict},
    CodeKind{"ClusterContainsServicesException", ErrorKind::kConflict},
    CodeKind{"ClusterContainsTasksException", ErrorKind::kConflict},
    CodeKind{"ClusterContainsContainerInstancesException", ErrorKind::kConflict},
    // Who we are or how we signed is not accepted.
    CodeKind{"AccessDeniedException", ErrorKind::kAuth},
    CodeKind{"AccessDenied", ErrorKind::kAuth},
    CodeKind{"BlockedException", ErrorKind::kAuth},
    CodeKind{"NotAuthorized", ErrorKind::kAuth},
    CodeKind{"InvalidClientTokenId", ErrorKind::kAuth},
    CodeKind{"UnrecognizedClientException", ErrorKind::kAuth},
    CodeKind{"SignatureDoesNotMatch", ErrorKind::kAuth},
    CodeKind{"IncompleteSignature", ErrorKind::kAuth},
    CodeKind{"MissingAuthenticationToken", ErrorKind::kAuth},
    CodeKind{"ExpiredToken", ErrorKind::kAuth},
    CodeKind{"ExpiredTokenException", ErrorKind::kAuth},
    CodeKind{"RequestExpired", ErrorKind::kAuth},
    CodeKind{"OptInRequired", ErrorKind::kAuth},
};

std::optional<ErrorKind> lookup(std::string_view code) {
  if (code.empty()) return std::nullopt;
  auto it =
      std::find_if(kCodes.begin(), kCodes.end(), [&](const CodeKind& c) { return c.code == code; });
  if (it != kCodes.end()) return it->kind;
  // Any other "...Throttl..." spelling a front end may add means the same.
  if (code.find("Throttl") != std::string_view::npos) return ErrorKind::kThrottled;
  return std::nullopt;
}

ErrorKind kind_from_status(int http_status) {
  if (http_status >= 500) return ErrorKind::kUnavailable;
  if (http_status == 429) return ErrorKind::kThrottled;
  if (http_status == 401 || http_status == 403) return ErrorKind::kAuth;
  if (http_status == 404) return ErrorKind::kNotFound;
  if (http_status >= 400) return ErrorKind::kInvalid;
  return ErrorKind::kInternal;
}

std::string string_field(const nlohmann::json& j, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    auto it = j.find(name);
    if (it == j.end()) continue;
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

ErrorKind classify_error_code(std::string_view code, int http_status) {
  if (auto kind = lookup(code)) return *kind;
  return kind_from_status(http_status);
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
                         int http_status) {
  const ErrorKind kind = classify_error_code(code, http_status);
  std::string text = fmt::format("ECS {}: {}{}{}", action, code.empty() ? "error" : code,
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
  if (code.empty()) code = normalize_error_code(response.header("x-amzn-errortype"));
  if (message.empty() && !body.is_object() && !response.body.empty()) {
    // Not an ECS answer (a load balancer or proxy page): say so, briefly.
    message = fmt::format("HTTP {} with a non-JSON body of {} bytes", status, response.body.size());
  } else if (message.empty()) {
    message = fmt::format("HTTP {}", status);
  }
  return make_service_error(action, std::move(code), message, status);
}

}  // namespace opfleet::ecs

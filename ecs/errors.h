// ECS error responses turned into typed errors.
// A JSON 1.1 error carries its code in the body ("__type": "ClusterNotFoundException",
// sometimes namespaced "com.amazonaws.ecs#ClusterNotFoundException") or, from some
// front ends, in the header "x-amzn-errortype"; the message is "message" (or "Message").
// Error::code keeps the bare code ("ClusterNotFoundException").
#pragma once

#include <string>
#include <string_view>

#include "aws/http.h"
#include "common/result.h"

namespace opfleet::ecs {

// Kind of an ECS error code (the API reference's per-action errors and the AWS common
// errors): ServerException and service-side failures -> kUnavailable (retryable),
// ThrottlingException -> kThrottled (retryable), ClusterNotFound/ServiceNotFound/
// ServiceNotActive -> kNotFound, AccessDenied and signature/credential errors -> kAuth,
// ClientException/InvalidParameter/validation -> kInvalid, in-use/in-progress ->
// kConflict. Unknown codes fall back on the HTTP status (5xx -> kUnavailable, 429 ->
// kThrottled, 401/403 -> kAuth, 404 -> kNotFound, other 4xx -> kInvalid).
ErrorKind classify_error_code(std::string_view code, int http_status);

// Only throttling and service-side failures are worth repeating unchanged.
bool retryable_kind(ErrorKind kind);

// Builds the typed error for `code`. `action` ("UpdateService") prefixes the message.
Error make_service_error(std::string_view action, std::string code, std::string_view message,
                         int http_status);

// The error of a non-2xx response (a body that is not JSON, e.g. a proxy's HTML page,
// is classified by status alone).
Error error_from_response(std::string_view action, const aws::HttpResponse& response);

// "com.amazonaws.ecs#ClusterNotFoundException" -> "ClusterNotFoundException";
// "ThrottlingException:http://internal..." -> "ThrottlingException".
std::string normalize_error_code(std::string_view raw);

// The error a call gets while the client's circuit breaker is open: kUnavailable,
// retryable, code "CircuitOpen".
inline constexpr const char* kCircuitOpenCode = "CircuitOpen";

}  // namespace opfleet::ecs

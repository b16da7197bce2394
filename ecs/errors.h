// ECS error responses turned into typed errors: aws/json_errors.h with ECS's codes
// (ecs/json_service.cpp).
// A JSON 1.1 error carries its code in the body ("__type": "ClusterNotFoundException",
// sometimes namespaced "com.amazonaws.ecs#ClusterNotFoundException") or, from some
// front ends, in the header "x-amzn-errortype"; the message is "message" (or "Message").
// Error::code keeps the bare code ("ClusterNotFoundException").
//
// Kinds (the API reference's per-action errors and the AWS common errors): ServerException
// and service-side failures -> kUnavailable (retryable), ThrottlingException -> kThrottled
// (retryable), ClusterNotFound/ServiceNotFound/ServiceNotActive -> kNotFound, AccessDenied
// and signature/credential errors -> kAuth, ClientException/InvalidParameter/validation ->
// kInvalid, in-use/in-progress -> kConflict. Unknown codes fall back on the HTTP status
// (5xx -> kUnavailable, 429 -> kThrottled, 401/403 -> kAuth, 404 -> kNotFound, other 4xx
// -> kInvalid).
#pragma once

#include <string_view>

#include "aws/http.h"
#include "aws/json_errors.h"
#include "common/result.h"

namespace opfleet::ecs {

// The error of a non-2xx response (a body that is not JSON, e.g. a proxy's HTML page,
// is classified by status alone).
Error error_from_response(std::string_view action, const aws::HttpResponse& response);

// The error a call gets while the client's circuit breaker is open: kUnavailable,
// retryable, code "CircuitOpen".
using aws::kCircuitOpenCode;

}  // namespace opfleet::ecs

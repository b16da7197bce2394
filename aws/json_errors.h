// Error answers of the AWS JSON protocol turned into typed errors, for any service
// described by a JsonService (aws/json_service.h).
//
// An error carries its code in the body ("__type": "com.amazonaws.sqs#QueueDoesNotExist",
// sometimes "code" or "Code"), from some front ends only in the header
// "x-amzn-errortype", and from query-compatible services also in the header
// "x-amzn-query-error: AWS.SimpleQueueService.NonExistentQueue;Sender"; the message is
// "message" (or "Message"). Error::code keeps the bare JSON code when there is one.
#pragma once

#include <string>
#include <string_view>

#include "aws/http.h"
#include "aws/json_service.h"
#include "common/result.h"

namespace opfleet::aws {

// Whose fault an error is when no HTTP status says so (an entry of a batch answer).
enum class Fault {
  kUnknown,
  kSender,    // the request's: sending it again will not help
  kReceiver,  // the service's: it may work later
};

// Kind of `code` in the service's table, else in the AWS common errors (InternalFailure,
// ThrottlingException, ValidationException, AccessDenied, SignatureDoesNotMatch, ...), else,
// for any "...Throttl..." code, kThrottled.
// Unknown codes fall back on the HTTP status: 5xx -> kUnavailable, 429 -> kThrottled,
// 401/403 -> kAuth, 404 -> kNotFound, other 4xx -> kInvalid; without one, on the fault:
// sender -> kInvalid, receiver -> kUnavailable, unknown -> kInternal.
ErrorKind classify_error_code(const JsonService& service, std::string_view code, int http_status,
                              Fault fault = Fault::kUnknown);

// Only throttling and service-side failures are worth repeating unchanged.
bool retryable_kind(ErrorKind kind);

// The typed error for `code`: "<Service> <action>: <code>: <message>", retryable by kind.
Error make_service_error(const JsonService& service, std::string_view action, std::string code,
                         std::string_view message, int http_status, Fault fault = Fault::kUnknown);

// The error of a non-2xx response (a body that is not JSON, e.g. a proxy's HTML page,
// is classified by status alone).
Error error_from_response(const JsonService& service, std::string_view action,
                          const HttpResponse& response);

// "com.amazonaws.sqs#QueueDoesNotExist" -> "QueueDoesNotExist";
// "ValidationException:http://internal..." -> "ValidationException".
std::string normalize_error_code(std::string_view raw);

// The error a call gets while the client's circuit breaker is open: kUnavailable,
// retryable, code "CircuitOpen".
inline constexpr const char* kCircuitOpenCode = "CircuitOpen";

}  // namespace opfleet::aws

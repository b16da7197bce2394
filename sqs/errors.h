// SQS error responses turned into typed errors: aws/json_errors.h with SQS's codes
// (sqs/json_service.cpp).
// A JSON-protocol error carries its code in the body ("__type":
// "com.amazonaws.sqs#QueueDoesNotExist", sometimes "code") and, for compatibility with the
// older query protocol, in the header "x-amzn-query-error:
// AWS.SimpleQueueService.NonExistentQueue;Sender". Either name is recognised; Error::code
// keeps the JSON code when there is one (the query code otherwise).
//
// Kinds: QueueDoesNotExist -> kNotFound, throttling -> kThrottled, parameter errors ->
// kInvalid, QueueNameExists -> kConflict, InternalError/ServiceUnavailable ->
// kUnavailable, signature/credential errors -> kAuth. Unknown codes fall back on the HTTP
// status (5xx -> kUnavailable, 429 -> kThrottled, 401/403 -> kAuth, 404 -> kNotFound,
// other 4xx -> kInvalid); with neither, a server-side fault is kUnavailable.
#pragma once

#include <string>
#include <string_view>

#include "aws/http.h"
#include "aws/json_errors.h"
#include "common/result.h"

namespace opfleet::sqs {

// Builds the typed error for `code`. `action` ("SendMessage") prefixes the message.
// `sender_fault` decides an unknown code without an HTTP status (a batch entry).
Error make_service_error(std::string_view action, std::string code, std::string_view message,
                         int http_status, bool sender_fault = true);

// The error of a non-2xx response (a body that is not JSON, e.g. a proxy's HTML page,
// is classified by status alone).
Error error_from_response(std::string_view action, const aws::HttpResponse& response);

// The error a call gets while the client's circuit breaker is open: kUnavailable,
// retryable, code "CircuitOpen".
using aws::kCircuitOpenCode;

}  // namespace opfleet::sqs

// What sets one AWS service apart when it is spoken to over the JSON protocol: its
// names, its content type and target prefix, and its error vocabulary. A service
// component (sqs/, ecs/) defines one of these as a constant and hands it to
// aws::JsonClient (aws/json_client.h), aws/json_wire.h and aws/json_errors.h, which hold
// everything the services have in common.
#pragma once

#include <span>
#include <string_view>

#include "common/result.h"

namespace opfleet::aws {

// An error code (as normalize_error_code() leaves it) and what it means.
struct ErrorCodeKind {
  std::string_view code{};
  ErrorKind kind{};
};

// Every view points at static data: a JsonService is copied into each client.
struct JsonService {
  std::string_view name{};  // "SQS": starts every error message
  // "sqs": the SigV4 service name, which is also the host prefix of the AWS endpoints
  // (https://sqs.<region>.amazonaws.com) and the client's default name.
  std::string_view signing_name{};
  std::string_view content_type{};   // "application/x-amz-json-1.0"
  std::string_view target_prefix{};  // "AmazonSQS.": X-Amz-Target is this plus the action
  std::string_view retry_event{};    // "sqs_retry": the warn log line of each retry
  // The codes this service answers with besides the AWS common errors (which
  // aws/json_errors.cpp knows), matched exactly after normalization and after dropping the
  // first of `code_prefixes` that starts the code.
  std::span<const ErrorCodeKind> error_codes{};
  std::span<const std::string_view> code_prefixes{};
  // Whether errors also come in the query protocol's form, in the header
  // "x-amzn-query-error: <code>;Sender|Receiver" (SQS, for its older clients).
  bool query_compatible = false;
};

}  // namespace opfleet::aws

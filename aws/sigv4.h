// AWS Signature Version 4 (header signing), as documented in the AWS General Reference
// "Signature Version 4 signing process" and proven against the aws-sigv4-test-suite.
#pragma once

#include <chrono>
#include <string>

#include "aws/credentials.h"
#include "aws/http.h"

namespace opfleet::aws {

struct SigningScope {
  std::string region;   // "us-east-1"
  std::string service;  // "sqs", "ecs"
};

// Adds Host (if absent), X-Amz-Date, X-Amz-Security-Token (when the credentials have a
// session token) and Authorization to `request`, signing every header present.
// `now` is injectable for tests.
Status sign_request(HttpRequest& request, const Credentials& creds, const SigningScope& scope,
                    std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

// The intermediate products, exposed so tests can compare each step with the suite.
struct SigningDetails {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;
  std::string authorization;
};
Result<SigningDetails> compute_signature(const HttpRequest& request, const Credentials& creds,
                                         const SigningScope& scope,
                                         std::chrono::system_clock::time_point now);

}  // namespace opfleet::aws

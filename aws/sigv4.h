// AWS Signature Version 4 (header signing), as documented in the AWS General Reference
// "Signature Version 4 signing process" and proven against the aws-sigv4-test-suite.
//
// The canonical URI follows the generic (non-S3) rules: the path of `request.url` is
// normalized (RFC 3986 dot segments removed, empty segments collapsed) and then
// percent-encoded once more. A URL path that is already percent-encoded on the wire
// ("/a%20b") is therefore signed double-encoded ("/a%2520b"), which is what AWS services
// other than S3 expect.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "aws/credentials.h"
#include "aws/http.h"

namespace opfleet::aws {

struct SigningScope {
  std::string region;   // "us-east-1"
  std::string service;  // "sqs", "ecs"

  // Remove "." / ".." segments and repeated slashes before encoding the path. Every
  // service but S3 wants this (S3 is not signed by this code).
  bool normalize_path = true;
  // Also add and sign "X-Amz-Content-Sha256: <payload hash>" (S3-style services and the
  // test suite's sign_body cases need it; SQS and ECS do not).
  bool add_content_sha256 = false;
  // Add X-Amz-Security-Token after signing instead of signing it (a few services, e.g.
  // IoT, want the token unsigned). Default: the token is signed like any other header.
  bool omit_session_token = false;
};

// Adds Host (if absent), X-Amz-Date, X-Amz-Security-Token (when the credentials have a
// session token) and Authorization to `request`, signing every header present.
// Headers a previous signing added are replaced, so a retried request can be re-signed.
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
// Computes the signature of `request` as it would be sent after sign_request added its
// headers (X-Amz-Date etc. are included in the canonical request without modifying
// `request`).
Result<SigningDetails> compute_signature(const HttpRequest& request, const Credentials& creds,
                                         const SigningScope& scope,
                                         std::chrono::system_clock::time_point now);

// Building blocks, exposed for tests and for other signers (e.g. presigned URLs).
// "20150830T123600Z" (UTC).
std::string amz_date(std::chrono::system_clock::time_point t);
// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);
// RFC 3986 percent-encoding: everything but A-Z a-z 0-9 - . _ ~ (and '/' when
// `keep_slash`) becomes %XX with upper-case hex.
std::string uri_encode(std::string_view text, bool keep_slash);
// The canonical URI of a path as it appears in a URL (see the header comment).
std::string canonical_uri(std::string_view path, bool normalize);
// The canonical query string: parameters percent-decoded, re-encoded (RFC 3986) and
// sorted by name, then value.
std::string canonical_query(std::string_view query);

}  // namespace opfleet::aws

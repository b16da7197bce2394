// Table tests of a service's error codes (aws/json_errors.h): the shared harness of
// tests/aws, tests/sqs and tests/ecs, so that each service's test is its table alone.
#pragma once

#include <gtest/gtest.h>

#include <cctype>
#include <functional>
#include <string>
#include <utility>

#include "aws/http.h"
#include "aws/json_errors.h"
#include "common/result.h"

namespace opfleet::aws::testing {

// An error answer as a service (or a proxy in front of it) sends it.
inline HttpResponse response(long status, std::string body, Headers headers = {}) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

// One row: an answer with `type` in "__type" and HTTP `status` must become an error of
// `kind`, retryable or not.
struct CodeCase {
  const char* type;
  int status;
  ErrorKind kind;
  bool retryable;
};

// Checks one row against `classify` (a service's error_from_response for one action).
inline void expect_code_case(const CodeCase& c,
                             const std::function<Error(const HttpResponse&)>& classify) {
  const Error e =
      classify(response(c.status, std::string(R"({"__type":")") + c.type + R"(","message":"m"})"));
  EXPECT_EQ(e.kind, c.kind) << c.type << " -> " << to_string(e.kind);
  EXPECT_EQ(e.retryable, c.retryable) << c.type;
  EXPECT_EQ(e.http_status, c.status) << c.type;
  EXPECT_EQ(e.code, normalize_error_code(c.type));
}

// The raw type (namespace included) and the status: unique in a table, and says what is
// tested.
inline std::string case_name(const ::testing::TestParamInfo<CodeCase>& info) {
  std::string name = std::string(info.param.type) + "_" + std::to_string(info.param.status);
  std::erase_if(name,
                [](char ch) { return !std::isalnum(static_cast<unsigned char>(ch)) && ch != '_'; });
  return name;
}

}  // namespace opfleet::aws::testing

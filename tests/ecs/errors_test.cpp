// ECS error answers -> typed errors, without a server: ECS's codes (what every service
// shares is tested in tests/aws/json_errors_test.cpp).
#include "ecs/errors.h"

#include <gtest/gtest.h>

#include "ecs/types.h"
#include "tests/aws/error_cases.h"

namespace opfleet::ecs {
namespace {

using aws::testing::CodeCase;
using aws::testing::response;

class EcsErrorCodes : public ::testing::TestWithParam<CodeCase> {};

TEST_P(EcsErrorCodes, MapToKindAndRetryability) {
  aws::testing::expect_code_case(GetParam(), [](const aws::HttpResponse& r) {
    return error_from_response("UpdateService", r);
  });
}

INSTANTIATE_TEST_SUITE_P(
    Codes, EcsErrorCodes,
    ::testing::Values(
        CodeCase{"ClientException", 400, ErrorKind::kInvalid, false},
        CodeCase{"ServerException", 500, ErrorKind::kUnavailable, true},
        CodeCase{"ClusterNotFoundException", 400, ErrorKind::kNotFound, false},
        CodeCase{"ServiceNotFoundException", 400, ErrorKind::kNotFound, false},
        CodeCase{"ServiceNotActiveException", 400, ErrorKind::kNotFound, false},
        CodeCase{"AccessDeniedException", 400, ErrorKind::kAuth, false},
        CodeCase{"InvalidParameterException", 400, ErrorKind::kInvalid, false},
        CodeCase{"ThrottlingException", 400, ErrorKind::kThrottled, true},
        CodeCase{"UpdateInProgressException", 400, ErrorKind::kConflict, false},
        CodeCase{"ResourceInUseException", 400, ErrorKind::kConflict, false},
        CodeCase{"TargetNotFoundException", 400, ErrorKind::kNotFound, false},
        CodeCase{"UnsupportedFeatureException", 400, ErrorKind::kInvalid, false},
        CodeCase{"LimitExceededException", 400, ErrorKind::kInvalid, false},
        CodeCase{"InternalFailure", 500, ErrorKind::kUnavailable, true},
        CodeCase{"ServiceUnavailable", 503, ErrorKind::kUnavailable, true},
        CodeCase{"UnrecognizedClientException", 403, ErrorKind::kAuth, false},
        CodeCase{"InvalidSignatureException", 403, ErrorKind::kAuth, false},  // by status
        CodeCase{"IncompleteSignature", 400, ErrorKind::kAuth, false},
        CodeCase{"ExpiredTokenException", 400, ErrorKind::kAuth, false},
        CodeCase{"SerializationException", 400, ErrorKind::kInvalid, false},
        CodeCase{"com.amazonaws.ecs#ThrottlingException", 400, ErrorKind::kThrottled, true},
        CodeCase{"com.amazonaws.ecs#ServerException", 500, ErrorKind::kUnavailable, true},
        CodeCase{"SomethingNew", 502, ErrorKind::kUnavailable, true},  // unknown: by status
        CodeCase{"SomethingNew", 429, ErrorKind::kThrottled, true},
        CodeCase{"SomethingNew", 404, ErrorKind::kNotFound, false},
        CodeCase{"SomethingNew", 400, ErrorKind::kInvalid, false}),
    aws::testing::case_name);

TEST(EcsErrors, MessageNamesActionCodeAndText) {
  auto e = error_from_response(
      "DescribeServices",
      response(400, R"({"__type":"ClusterNotFoundException","message":"Cluster not found."})"));
  EXPECT_EQ(e.message, "ECS DescribeServices: ClusterNotFoundException: Cluster not found.");
}

TEST(EcsErrors, FailureEntriesBecomeTypedErrors) {
  Failure missing{"arn:aws:ecs:us-east-1:123456789012:task/opfleet/abc", "MISSING", ""};
  Error e = missing.to_error("DescribeTasks");
  EXPECT_EQ(e.kind, ErrorKind::kNotFound);
  EXPECT_EQ(e.code, "MISSING");
  EXPECT_FALSE(e.retryable);
  EXPECT_EQ(e.message,
            "ECS DescribeTasks: arn:aws:ecs:us-east-1:123456789012:task/opfleet/abc MISSING");

  Failure invalid{"t", "TASK_NOT_VALID", "The task is not part of an Amazon ECS service."};
  e = invalid.to_error("UpdateTaskProtection");
  EXPECT_EQ(e.kind, ErrorKind::kInvalid);
  EXPECT_NE(e.message.find("TASK_NOT_VALID: The task"), std::string::npos) << e.message;
}

}  // namespace
}  // namespace opfleet::ecs

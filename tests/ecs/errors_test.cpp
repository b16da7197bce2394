// ECS error answers -> typed errors, without a server.
#include "ecs/errors.h"

#include <gtest/gtest.h>

#include "ecs/types.h"

namespace opfleet::ecs {
namespace {

aws::HttpResponse response(long status, std::string body, aws::Headers headers = {}) {
  aws::HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

struct CodeCase {
  const char* type;
  int status;
  ErrorKind kind;
  bool retryable;
};

class EcsErrorCodes : public ::testing::TestWithParam<CodeCase> {};

TEST_P(EcsErrorCodes, MapToKindAndRetryability) {
  const CodeCase& c = GetParam();
  auto e = error_from_response(
      "UpdateService",
      response(c.status, std::string(R"({"__type":")") + c.type + R"(","message":"m"})"));
  EXPECT_EQ(e.kind, c.kind) << c.type << " -> " << to_string(e.kind);
  EXPECT_EQ(e.retryable, c.retryable) << c.type;
  EXPECT_EQ(e.http_status, c.status);
  EXPECT_EQ(e.code, normalize_error_code(c.type));
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
    [](const ::testing::TestParamInfo<CodeCase>& param_info) {
      // The raw type (namespace included) and the status: unique, and says what is tested.
      std::string name =
          std::string(param_info.param.type) + "_" + std::to_string(param_info.param.status);
      std::erase_if(
          name, [](char ch) { return !std::isalnum(static_cast<unsigned char>(ch)) && ch != '_'; });
      return name;
    });

TEST(EcsErrors, MessageNamesActionCodeAndText) {
  auto e = error_from_response(
      "DescribeServices",
      response(400, R"({"__type":"ClusterNotFoundException","message":"Cluster not found."})"));
  EXPECT_EQ(e.message, "ECS DescribeServices: ClusterNotFoundException: Cluster not found.");
}

TEST(EcsErrors, CapitalisedMessageFieldIsRead) {
  auto e = error_from_response(
      "ListTasks",
      response(400, R"({"__type":"InvalidParameterException","Message":"bad token"})"));
  EXPECT_EQ(e.kind, ErrorKind::kInvalid);
  EXPECT_NE(e.message.find("bad token"), std::string::npos) << e.message;
}

TEST(EcsErrors, ErrorTypeHeaderServesWhenTheBodyHasNoCode) {
  auto e = error_from_response(
      "StopTask", response(400, "", {{"x-amzn-errortype", "AccessDeniedException:http://x/"}}));
  EXPECT_EQ(e.kind, ErrorKind::kAuth);
  EXPECT_EQ(e.code, "AccessDeniedException");
}

TEST(EcsErrors, NonJsonBodyIsClassifiedByStatus) {
  auto e =
      error_from_response("UpdateService", response(502, "<html><body>Bad Gateway</body></html>"));
  EXPECT_EQ(e.kind, ErrorKind::kUnavailable);
  EXPECT_TRUE(e.retryable);
  EXPECT_TRUE(e.code.empty());
  EXPECT_NE(e.message.find("non-JSON body"), std::string::npos) << e.message;
}

TEST(EcsErrors, NormalizeStripsNamespaceAndSuffix) {
  EXPECT_EQ(normalize_error_code("com.amazonaws.ecs#ServiceNotFoundException"),
            "ServiceNotFoundException");
  EXPECT_EQ(normalize_error_code("ThrottlingException:http://internal.amazon.com/"),
            "ThrottlingException");
  EXPECT_EQ(normalize_error_code(" ServerException "), "ServerException");
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

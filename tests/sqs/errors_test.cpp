// SQS error answers -> typed errors, without a server.
#include "sqs/errors.h"

#include <gtest/gtest.h>

#include "sqs/types.h"

namespace opfleet::sqs {
namespace {

aws::HttpResponse response(long status, std::string body, aws::Headers headers = {}) {
  aws::HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

TEST(SqsErrors, QueueDoesNotExistIsNotFoundWithItsCode) {
  // What SQS (and fauxqs) answer over the JSON protocol.
  auto e = error_from_response(
      "GetQueueUrl",
      response(400,
               R"({"__type":"com.amazonaws.sqs#QueueDoesNotExist",)"
               R"("message":"The specified queue does not exist."})",
               {{"x-amzn-query-error", "AWS.SimpleQueueService.NonExistentQueue;Sender"}}));
  EXPECT_EQ(e.kind, ErrorKind::kNotFound);
  EXPECT_FALSE(e.retryable);
  EXPECT_EQ(e.code, "QueueDoesNotExist");
  EXPECT_EQ(e.http_status, 400);
  EXPECT_NE(e.message.find("GetQueueUrl"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("does not exist"), std::string::npos) << e.message;
}

TEST(SqsErrors, QueryErrorHeaderAloneGivesTheCode) {
  auto e = error_from_response(
      "SendMessage",
      response(400, "",
               {{"x-amzn-query-error", "AWS.SimpleQueueService.NonExistentQueue;Sender"}}));
  EXPECT_EQ(e.kind, ErrorKind::kNotFound);
  EXPECT_EQ(e.code, "AWS.SimpleQueueService.NonExistentQueue");
}

TEST(SqsErrors, CodeFieldIsReadWhenTypeIsAbsent) {
  auto e = error_from_response("ReceiveMessage",
                               response(400, R"({"code":"InvalidParameterValue","Message":"x"})"));
  EXPECT_EQ(e.kind, ErrorKind::kInvalid);
  EXPECT_EQ(e.code, "InvalidParameterValue");
  EXPECT_NE(e.message.find(": x"), std::string::npos) << e.message;
}

struct CodeCase {
  const char* type;
  int status;
  ErrorKind kind;
  bool retryable;
};

class SqsErrorCodes : public ::testing::TestWithParam<CodeCase> {};

TEST_P(SqsErrorCodes, MapToKindAndRetryable) {
  const CodeCase& c = GetParam();
  auto e = error_from_response(
      "Action", response(c.status, std::string(R"({"__type":")") + c.type + R"(","message":"m"})"));
  EXPECT_EQ(e.kind, c.kind) << c.type << " -> " << to_string(e.kind);
  EXPECT_EQ(e.retryable, c.retryable) << c.type;
  EXPECT_EQ(e.code, normalize_error_code(c.type));
  EXPECT_EQ(e.http_status, c.status);
}

INSTANTIATE_TEST_SUITE_P(
    Table, SqsErrorCodes,
    ::testing::Values(
        CodeCase{"com.amazonaws.sqs#QueueDoesNotExist", 400, ErrorKind::kNotFound, false},
        CodeCase{"com.amazon.coral.availability#ThrottlingException", 400, ErrorKind::kThrottled,
                 true},
        CodeCase{"com.amazonaws.sqs#RequestThrottled", 403, ErrorKind::kThrottled, true},
        CodeCase{"com.amazonaws.sqs#KmsThrottled", 400, ErrorKind::kThrottled, true},
        CodeCase{"KMS.ThrottlingException", 400, ErrorKind::kThrottled, true},
        CodeCase{"com.amazonaws.sqs#OverLimit", 403, ErrorKind::kThrottled, true},
        CodeCase{"com.amazonaws.sqs#InvalidParameterValue", 400, ErrorKind::kInvalid, false},
        CodeCase{"com.amazonaws.sqs#MissingParameter", 400, ErrorKind::kInvalid, false},
        CodeCase{"com.amazonaws.sqs#InvalidAttributeName", 400, ErrorKind::kInvalid, false},
        CodeCase{"com.amazonaws.sqs#InvalidAttributeValue", 400, ErrorKind::kInvalid, false},
        CodeCase{"com.amazonaws.sqs#ReceiptHandleIsInvalid", 400, ErrorKind::kInvalid, false},
        CodeCase{"com.amazonaws.sqs#TooManyEntriesInBatchRequest", 400, ErrorKind::kInvalid, false},
        CodeCase{"com.amazonaws.sqs#QueueNameExists", 400, ErrorKind::kConflict, false},
        CodeCase{"QueueAlreadyExists", 400, ErrorKind::kConflict, false},
        CodeCase{"com.amazonaws.sqs#PurgeQueueInProgress", 403, ErrorKind::kConflict, false},
        CodeCase{"com.amazonaws.sqs#InternalError", 500, ErrorKind::kUnavailable, true},
        CodeCase{"ServiceUnavailable", 503, ErrorKind::kUnavailable, true},
        CodeCase{"com.amazon.coral.service#UnrecognizedClientException", 400, ErrorKind::kAuth,
                 false},
        CodeCase{"com.amazon.coral.service#InvalidClientTokenId", 403, ErrorKind::kAuth, false},
        CodeCase{"SignatureDoesNotMatch", 403, ErrorKind::kAuth, false},
        CodeCase{"com.amazon.coral.service#ExpiredTokenException", 400, ErrorKind::kAuth, false},
        CodeCase{"AccessDeniedException", 400, ErrorKind::kAuth, false},
        // Unknown codes fall back on the status.
        CodeCase{"com.amazonaws.sqs#SomethingNew", 400, ErrorKind::kInvalid, false},
        CodeCase{"SomethingNew", 429, ErrorKind::kThrottled, true},
        CodeCase{"SomethingNew", 403, ErrorKind::kAuth, false},
        CodeCase{"SomethingNew", 502, ErrorKind::kUnavailable, true}));

TEST(SqsErrors, NonJsonServerErrorIsUnavailableAndRetryable) {
  auto e =
      error_from_response("SendMessage", response(502, "<html><body>Bad Gateway</body></html>"));
  EXPECT_EQ(e.kind, ErrorKind::kUnavailable);
  EXPECT_TRUE(e.retryable);
  EXPECT_TRUE(e.code.empty());
  EXPECT_EQ(e.http_status, 502);
  EXPECT_NE(e.message.find("non-JSON"), std::string::npos) << e.message;
}

TEST(SqsErrors, ErrorTypeHeaderIsTheLastResort) {
  auto e = error_from_response(
      "SendMessage",
      response(400, "", {{"x-amzn-errortype", "ValidationException:http://internal.amazon.com/"}}));
  EXPECT_EQ(e.code, "ValidationException");
  EXPECT_EQ(e.kind, ErrorKind::kInvalid);
}

TEST(SqsErrors, NormalizeStripsNamespaceAndSuffix) {
  EXPECT_EQ(normalize_error_code("com.amazonaws.sqs#QueueDoesNotExist"), "QueueDoesNotExist");
  EXPECT_EQ(normalize_error_code("ValidationException:http://x/y"), "ValidationException");
  EXPECT_EQ(normalize_error_code("ThrottlingException"), "ThrottlingException");
  EXPECT_EQ(normalize_error_code(""), "");
}

TEST(SqsErrors, BatchEntryErrorsAreTypedAndReceiverFaultsRetryable) {
  BatchEntryError bad_handle{"e1", "ReceiptHandleIsInvalid", "The input receipt handle is invalid.",
                             true};
  Error e = bad_handle.to_error();
  EXPECT_EQ(e.kind, ErrorKind::kInvalid);
  EXPECT_EQ(e.code, "ReceiptHandleIsInvalid");
  EXPECT_FALSE(e.retryable);
  EXPECT_NE(e.message.find("e1"), std::string::npos);

  BatchEntryError internal{"e2", "InternalError", "try again", false};
  EXPECT_EQ(internal.to_error().kind, ErrorKind::kUnavailable);
  EXPECT_TRUE(internal.to_error().retryable);

  // An unknown code on SQS's side is still worth sending again.
  BatchEntryError receiver{"e3", "SomethingNew", "", false};
  EXPECT_TRUE(receiver.to_error().retryable);
  BatchEntryError sender{"e4", "SomethingNew", "", true};
  EXPECT_FALSE(sender.to_error().retryable);
}

}  // namespace
}  // namespace opfleet::sqs

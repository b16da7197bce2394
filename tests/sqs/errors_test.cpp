// SQS error answers -> typed errors, without a server: SQS's codes and its query-protocol
// header (what every service shares is tested in tests/aws/json_errors_test.cpp).
#include "sqs/errors.h"

#include <gtest/gtest.h>

#include "sqs/types.h"
#include "tests/aws/error_cases.h"

namespace opfleet::sqs {
namespace {

using aws::testing::CodeCase;
using aws::testing::response;

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

class SqsErrorCodes : public ::testing::TestWithParam<CodeCase> {};

TEST_P(SqsErrorCodes, MapToKindAndRetryable) {
  aws::testing::expect_code_case(
      GetParam(), [](const aws::HttpResponse& r) { return error_from_response("Action", r); });
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
        CodeCase{"SomethingNew", 502, ErrorKind::kUnavailable, true}),
    aws::testing::case_name);

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

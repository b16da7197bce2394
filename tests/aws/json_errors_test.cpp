// Error answers of the AWS JSON protocol -> typed errors (aws/json_errors.h), for a
// made-up service: where the code and message are read from, how unknown codes fall
// back on the status and the fault, and what a query-compatible service adds.
#include "aws/json_errors.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/aws/error_cases.h"
#include "tests/aws/test_service.h"

namespace opfleet::aws {
namespace {

using testing::CodeCase;
using testing::kQueryCompatibleService;
using testing::kTestService;
using testing::response;

// What a code means: the service's table first, then the AWS common errors, then the
// status. One row per answer: the raw "__type", the status, the kind, retryable or not.
constexpr CodeCase kCases[] = {
    // The service's own codes, bare, namespaced, with a suffix or a legacy prefix.
    {"WidgetNotFoundException", 400, ErrorKind::kNotFound, false},
    {"com.amazonaws.widgets#WidgetNotFoundException", 400, ErrorKind::kNotFound, false},
    {"BadWidgetException:http://internal.amazon.com/", 400, ErrorKind::kInvalid, false},
    {"Widgets.Legacy.WidgetLockedException", 400, ErrorKind::kConflict, false},
    {"WidgetServerException", 500, ErrorKind::kUnavailable, true},
    {"SlowDownPlease", 400, ErrorKind::kThrottled, true},
    // The table wins over the status: a 5xx with a client code is the client's.
    {"BadWidgetException", 503, ErrorKind::kInvalid, false},
    // The AWS common errors hold for every service ...
    {"com.amazon.coral.service#ExpiredTokenException", 400, ErrorKind::kAuth, false},
    {"AccessDeniedException", 400, ErrorKind::kAuth, false},
    {"SignatureDoesNotMatch", 403, ErrorKind::kAuth, false},
    {"ValidationException", 400, ErrorKind::kInvalid, false},
    {"InternalFailure", 500, ErrorKind::kUnavailable, true},
    {"ServiceUnavailable", 503, ErrorKind::kUnavailable, true},
    {"RequestLimitExceeded", 400, ErrorKind::kThrottled, true},
    {"Widgets.Legacy.ThrottlingException", 400, ErrorKind::kThrottled, true},
    // ... unless the service gives one its own meaning.
    {"OptInRequired", 403, ErrorKind::kInvalid, false},
    // Any throttling spelling is throttling, whatever the status.
    {"com.amazon.coral.availability#SomeThrottlingException", 400, ErrorKind::kThrottled, true},
    {"Widgets.Legacy.WidgetThrottled", 403, ErrorKind::kThrottled, true},
    // Unknown codes: by status.
    {"SomethingNew", 500, ErrorKind::kUnavailable, true},
    {"SomethingNew", 502, ErrorKind::kUnavailable, true},
    {"SomethingNew", 429, ErrorKind::kThrottled, true},
    {"SomethingNew", 401, ErrorKind::kAuth, false},
    {"SomethingNew", 403, ErrorKind::kAuth, false},
    {"SomethingNew", 404, ErrorKind::kNotFound, false},
    {"SomethingNew", 400, ErrorKind::kInvalid, false},
    {"SomethingNew", 409, ErrorKind::kInvalid, false},
    // Another service's code means nothing here.
    {"QueueDoesNotExist", 400, ErrorKind::kInvalid, false},
};

TEST(JsonErrors, CodesMapToKindAndRetryable) {
  for (const CodeCase& c : kCases) {
    SCOPED_TRACE(std::string(c.type) + " " + std::to_string(c.status));
    testing::expect_code_case(
        c, [](const HttpResponse& r) { return error_from_response(kTestService, "PutWidget", r); });
  }
}

TEST(JsonErrors, MessageNamesServiceActionCodeAndText) {
  Error e =
      error_from_response(kTestService, "PutWidget",
                          response(400, R"({"__type":"com.amazonaws.widgets#BadWidgetException",)"
                                        R"("message":"size must be positive"})"));
  EXPECT_EQ(e.message, "Widgets PutWidget: BadWidgetException: size must be positive");
  EXPECT_EQ(e.code, "BadWidgetException");
  EXPECT_EQ(e.http_status, 400);
}

TEST(JsonErrors, CodeAndCapitalisedFieldsAreReadWhenTypeIsAbsent) {
  Error lower = error_from_response(
      kTestService, "GetWidget",
      response(400, R"({"code":"WidgetNotFoundException","Message":"no widget w-1"})"));
  EXPECT_EQ(lower.kind, ErrorKind::kNotFound);
  EXPECT_EQ(lower.code, "WidgetNotFoundException");
  EXPECT_EQ(lower.message, "Widgets GetWidget: WidgetNotFoundException: no widget w-1");

  Error upper = error_from_response(kTestService, "GetWidget",
                                    response(400, R"({"Code":"BadWidgetException"})"));
  EXPECT_EQ(upper.kind, ErrorKind::kInvalid);
  EXPECT_EQ(upper.message, "Widgets GetWidget: BadWidgetException: HTTP 400");
}

TEST(JsonErrors, TypeWinsOverCodeAndTheErrorTypeHeader) {
  Error e = error_from_response(
      kTestService, "GetWidget",
      response(400, R"({"__type":"WidgetLockedException","code":"BadWidgetException"})",
               {{"x-amzn-errortype", "WidgetNotFoundException"}}));
  EXPECT_EQ(e.code, "WidgetLockedException");
  EXPECT_EQ(e.kind, ErrorKind::kConflict);
}

TEST(JsonErrors, ErrorTypeHeaderServesWhenTheBodyHasNoCode) {
  Error e = error_from_response(
      kTestService, "GetWidget",
      response(404, "", {{"x-amzn-errortype", "WidgetNotFoundException:http://internal/"}}));
  EXPECT_EQ(e.code, "WidgetNotFoundException");
  EXPECT_EQ(e.kind, ErrorKind::kNotFound);
  EXPECT_EQ(e.message, "Widgets GetWidget: WidgetNotFoundException: HTTP 404");
}

TEST(JsonErrors, NonJsonBodyIsClassifiedByStatusAndSaidToBeSo) {
  Error e = error_from_response(kTestService, "PutWidget",
                                response(502, "<html><body>Bad Gateway</body></html>"));
  EXPECT_EQ(e.kind, ErrorKind::kUnavailable);
  EXPECT_TRUE(e.retryable);
  EXPECT_TRUE(e.code.empty());
  EXPECT_EQ(e.http_status, 502);
  EXPECT_EQ(e.message, "Widgets PutWidget: error: HTTP 502 with a non-JSON body of 37 bytes");
}

TEST(JsonErrors, QueryCompatibleServiceReadsTheQueryErrorHeader) {
  const Headers header = {{"x-amzn-query-error", "Widgets.Legacy.WidgetLockedException;Sender"}};
  // Alone, the header gives the code (kept as sent) ...
  Error alone =
      error_from_response(kQueryCompatibleService, "PutWidget", response(400, "", header));
  EXPECT_EQ(alone.code, "Widgets.Legacy.WidgetLockedException");
  EXPECT_EQ(alone.kind, ErrorKind::kConflict);
  // ... but the JSON code comes first ...
  Error both = error_from_response(
      kQueryCompatibleService, "PutWidget",
      response(400, R"({"__type":"com.amazonaws.widgets#WidgetNotFoundException"})", header));
  EXPECT_EQ(both.code, "WidgetNotFoundException");
  // ... and a service that is not query-compatible ignores it.
  Error ignored = error_from_response(kTestService, "PutWidget", response(400, "", header));
  EXPECT_TRUE(ignored.code.empty());
  EXPECT_EQ(ignored.kind, ErrorKind::kInvalid);
}

TEST(JsonErrors, WithoutAStatusTheFaultDecidesAnUnknownCode) {
  const auto kind = [](Fault fault) {
    return classify_error_code(kTestService, "SomethingNew", 0, fault);
  };
  EXPECT_EQ(kind(Fault::kSender), ErrorKind::kInvalid);
  EXPECT_EQ(kind(Fault::kReceiver), ErrorKind::kUnavailable);
  EXPECT_EQ(kind(Fault::kUnknown), ErrorKind::kInternal);
  // A known code does not need either.
  EXPECT_EQ(classify_error_code(kTestService, "WidgetServerException", 0, Fault::kSender),
            ErrorKind::kUnavailable);

  Error receiver =
      make_service_error(kTestService, "batch entry e1", "SomethingNew", "", 0, Fault::kReceiver);
  EXPECT_TRUE(receiver.retryable);
  EXPECT_EQ(receiver.message, "Widgets batch entry e1: SomethingNew");
  EXPECT_EQ(receiver.http_status, 0);
}

TEST(JsonErrors, QueryHeaderNamesTheFaultOfAStatuslessAnswer) {
  // A non-2xx answer below 400 (a redirect an endpoint should not send) has no status
  // rule: the query header's "Receiver" makes it the service's failure.
  Error receiver = error_from_response(
      kQueryCompatibleService, "PutWidget",
      response(302, "", {{"x-amzn-query-error", "Widgets.Legacy.Oops;Receiver"}}));
  EXPECT_EQ(receiver.kind, ErrorKind::kUnavailable);
  Error sender = error_from_response(kQueryCompatibleService, "PutWidget", response(302, ""));
  EXPECT_EQ(sender.kind, ErrorKind::kInvalid);
  Error unknown = error_from_response(kTestService, "PutWidget", response(302, ""));
  EXPECT_EQ(unknown.kind, ErrorKind::kInternal);
}

TEST(JsonErrors, OnlyThrottlingAndServiceSideFailuresAreRetryable) {
  for (ErrorKind k :
       {ErrorKind::kThrottled, ErrorKind::kUnavailable, ErrorKind::kNetwork, ErrorKind::kTimeout}) {
    EXPECT_TRUE(retryable_kind(k)) << to_string(k);
  }
  for (ErrorKind k : {ErrorKind::kInvalid, ErrorKind::kNotFound, ErrorKind::kConflict,
                      ErrorKind::kAuth, ErrorKind::kInternal}) {
    EXPECT_FALSE(retryable_kind(k)) << to_string(k);
  }
}

TEST(JsonErrors, NormalizeStripsNamespaceSuffixAndBlanks) {
  EXPECT_EQ(normalize_error_code("com.amazonaws.sqs#QueueDoesNotExist"), "QueueDoesNotExist");
  EXPECT_EQ(normalize_error_code("ThrottlingException:http://internal.amazon.com/"),
            "ThrottlingException");
  EXPECT_EQ(normalize_error_code(" ServerException "), "ServerException");
  EXPECT_EQ(normalize_error_code("a#b#Last"), "Last");
  EXPECT_EQ(normalize_error_code("ThrottlingException"), "ThrottlingException");
  EXPECT_EQ(normalize_error_code(""), "");
}

}  // namespace
}  // namespace opfleet::aws

// Requests of the AWS JSON protocol without I/O (aws/json_wire.h), for a made-up service:
// the endpoint, the URL posted to, the headers that name the action, the body's text.
#include "aws/json_wire.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/aws/test_service.h"

namespace opfleet::aws {
namespace {

using nlohmann::json;
using testing::kQueryCompatibleService;
using testing::kTestService;

TEST(JsonWire, DefaultEndpointIsTheServiceInTheRegion) {
  EXPECT_EQ(default_endpoint(kTestService, "eu-west-1"), "https://widgets.eu-west-1.amazonaws.com");
  EXPECT_EQ(default_endpoint(kTestService, "cn-north-1"),
            "https://widgets.cn-north-1.amazonaws.com.cn");
}

TEST(JsonWire, RequestUrlIsTheEndpointWithItsPath) {
  EXPECT_EQ(request_url(kTestService, "http://127.0.0.1:4566").value(), "http://127.0.0.1:4566/");
  EXPECT_EQ(request_url(kTestService, "https://widgets.eu-west-1.amazonaws.com/").value(),
            "https://widgets.eu-west-1.amazonaws.com/");
  EXPECT_EQ(request_url(kTestService, "http://proxy:8080/widgets/").value(),
            "http://proxy:8080/widgets/");
}

TEST(JsonWire, RequestUrlRefusesWhatIsNotAnHttpEndpoint) {
  auto query = request_url(kTestService, "http://h/?a=b");
  ASSERT_FALSE(query);
  EXPECT_EQ(query.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(query.error().message, "Widgets endpoint 'http://h/?a=b' must not have a query");
  EXPECT_EQ(request_url(kTestService, "ftp://h").error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(request_url(kTestService, "127.0.0.1:4566").error().kind, ErrorKind::kInvalid);
}

TEST(JsonWire, RequestIsAPostNamingTheActionInTheTarget) {
  HttpRequest r =
      build_request(kTestService, "http://127.0.0.1:4566/", "PutWidget", R"({"size":3})");
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.url, "http://127.0.0.1:4566/");
  EXPECT_EQ(r.body, R"({"size":3})");
  const Headers want = {{"Content-Type", "application/x-amz-json-1.1"},
                        {"X-Amz-Target", "WidgetService_20240101.PutWidget"}};
  EXPECT_EQ(r.headers, want);
  // The content type is the service's, not a constant of this layer.
  HttpRequest r10 = build_request(kQueryCompatibleService, "http://h/", "PutWidget", "{}");
  EXPECT_EQ(r10.headers.at(0).second, "application/x-amz-json-1.0");
}

TEST(JsonWire, SerializeKeepsUnicodeAndRefusesInvalidUtf8) {
  EXPECT_EQ(serialize(json{{"a", "ü"}}).value(), R"({"a":"ü"})");
  EXPECT_EQ(serialize(json::object()).value(), "{}");
  auto bad = serialize(json{{"reason", std::string("bad \xff\xfe byte")}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::kInvalid);
  EXPECT_NE(bad.error().message.find("UTF-8"), std::string::npos) << bad.error().message;
}

}  // namespace
}  // namespace opfleet::aws

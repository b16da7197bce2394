// sqs::ClientConfig from parsed options (the keys config::aws_options() declares); the
// region's fallbacks are tested in tests/aws/client_options_test.cpp.
#include "sqs/client_config.h"

#include <gtest/gtest.h>

#include <string>

namespace opfleet::sqs {
namespace {

namespace po = boost::program_options;

void put(po::variables_map& vm, const std::string& key, boost::any value) {
  vm.emplace(key, po::variable_value(value, false));
}

TEST(SqsClientConfig, ReadsEndpointRegionAndTuning) {
  po::variables_map vm;
  put(vm, "sqs-endpoint", std::string("http://127.0.0.1:4566"));
  put(vm, "region", std::string("eu-west-1"));
  put(vm, "sqs-retry-base-ms", 50);
  put(vm, "sqs-retry-cap-ms", 800);
  put(vm, "sqs-retry-max-attempts", 3);
  put(vm, "sqs-breaker-threshold", 7);
  put(vm, "sqs-breaker-open-ms", 1500);
  auto c = client_config_from_options(vm);
  ASSERT_TRUE(c) << c.error().describe();
  EXPECT_EQ(c->endpoint, "http://127.0.0.1:4566");
  EXPECT_EQ(c->region, "eu-west-1");
  EXPECT_EQ(c->backoff.base, Millis(50));
  EXPECT_EQ(c->backoff.cap, Millis(800));
  EXPECT_EQ(c->backoff.max_attempts, 3);
  EXPECT_EQ(c->breaker.failure_threshold, 7);
  EXPECT_EQ(c->breaker.open_for, Millis(1500));
  EXPECT_EQ(c->credentials, nullptr);  // the default chain, chosen by Client::make
}

TEST(SqsClientConfig, UndeclaredOptionsKeepTheDefaults) {
  po::variables_map vm;
  put(vm, "region", std::string("ap-south-1"));
  auto c = client_config_from_options(vm);
  ASSERT_TRUE(c) << c.error().describe();
  EXPECT_TRUE(c->endpoint.empty());
  EXPECT_EQ(c->region, "ap-south-1");
  const ClientConfig defaults;
  EXPECT_EQ(c->backoff.base, defaults.backoff.base);
  EXPECT_EQ(c->backoff.cap, Millis(16000));
  EXPECT_EQ(c->backoff.max_attempts, 6);
  EXPECT_EQ(c->breaker.failure_threshold, 5);
}

TEST(SqsClientConfig, CapBelowBaseIsAnError) {
  po::variables_map vm;
  put(vm, "region", std::string("us-east-1"));
  put(vm, "sqs-retry-base-ms", 1000);
  put(vm, "sqs-retry-cap-ms", 10);
  auto c = client_config_from_options(vm);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("sqs-retry-cap-ms"), std::string::npos);
}

TEST(SqsClientConfig, WrongValueTypeIsReportedNotThrown) {
  po::variables_map vm;
  put(vm, "region", 42);
  auto c = client_config_from_options(vm);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().kind, ErrorKind::kInvalid);
}

}  // namespace
}  // namespace opfleet::sqs

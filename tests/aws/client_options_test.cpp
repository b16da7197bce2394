// aws::ClientOptions from parsed options (aws/client_options.h) for a service whose option
// names start with a made-up prefix, and the cancellable sleep.
#include "aws/client_options.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <utility>

namespace opfleet::aws {
namespace {

namespace po = boost::program_options;

// What boost::program_options would have stored for these options.
po::variables_map parsed(std::initializer_list<std::pair<const char*, boost::any>> values) {
  po::variables_map vm;
  for (const auto& [key, value] : values) vm.emplace(key, po::variable_value(value, false));
  return vm;
}

// Sets or unsets an environment variable for the scope of one test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value == nullptr) {
      ::unsetenv(name);
    } else {
      ::setenv(name, value, 1);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// Retry base, cap, attempts; breaker threshold, open time.
std::tuple<Millis, Millis, int, int, Millis> tuning(const ClientOptions& o) {
  return {o.backoff.base, o.backoff.cap, o.backoff.max_attempts, o.breaker.failure_threshold,
          o.breaker.open_for};
}

TEST(AwsClientOptions, DefaultsAreTheDocumentedOnes) {
  const ClientOptions o;
  EXPECT_TRUE(o.endpoint.empty());
  EXPECT_EQ(o.region, "us-east-1");
  EXPECT_EQ(tuning(o), std::tuple(Millis(1000), Millis(16000), 6, 5, Millis(5000)));
  EXPECT_EQ(std::pair(o.http.connect_timeout, o.http.timeout),
            std::pair(Millis(3000), Millis(10000)));
  EXPECT_TRUE(o.http.verify_tls);
  EXPECT_TRUE(o.name.empty());  // the service's name, chosen by JsonClient::make
}

TEST(AwsClientOptions, ReadsTheOptionsOfItsPrefixOnly) {
  const po::variables_map vm = parsed({
      {"region", std::string("eu-west-1")},
      {"widgets-endpoint", std::string("http://127.0.0.1:4566")},
      {"widgets-retry-base-ms", 50},
      {"widgets-retry-cap-ms", 800},
      {"widgets-retry-max-attempts", 0},
      {"widgets-breaker-threshold", 7},
      {"widgets-breaker-open-ms", 1500},
      // Another service's settings on the same command line.
      {"gadgets-endpoint", std::string("http://127.0.0.1:9")},
      {"gadgets-retry-base-ms", 5},
  });
  auto o = client_options_from(vm, "widgets");
  ASSERT_TRUE(o) << o.error().describe();
  EXPECT_EQ(o->endpoint, "http://127.0.0.1:4566");
  EXPECT_EQ(o->region, "eu-west-1");
  EXPECT_EQ(tuning(*o), std::tuple(Millis(50), Millis(800), 0, 7, Millis(1500)));
  EXPECT_EQ(o->credentials, nullptr);  // the default chain, chosen by JsonClient::make

  auto gadgets = client_options_from(vm, "gadgets");
  ASSERT_TRUE(gadgets) << gadgets.error().describe();
  EXPECT_EQ(gadgets->endpoint, "http://127.0.0.1:9");
  EXPECT_EQ(tuning(*gadgets), std::tuple(Millis(5), Millis(16000), 6, 5, Millis(5000)));
}

TEST(AwsClientOptions, RegionFallsBackOnAwsRegionThenAwsDefaultRegion) {
  ScopedEnv region("AWS_REGION", "ap-south-1");
  ScopedEnv default_region("AWS_DEFAULT_REGION", "sa-east-1");
  EXPECT_EQ(client_options_from(parsed({}), "widgets").value().region, "ap-south-1");
  EXPECT_EQ(client_options_from(parsed({{"region", std::string()}}), "widgets").value().region,
            "ap-south-1");
  EXPECT_EQ(client_options_from(parsed({{"region", std::string("eu-north-1")}}), "widgets")
                .value()
                .region,
            "eu-north-1");

  ScopedEnv no_region("AWS_REGION", nullptr);
  EXPECT_EQ(client_options_from(parsed({}), "widgets").value().region, "sa-east-1");
}

TEST(AwsClientOptions, NoRegionAnywhereIsAnError) {
  ScopedEnv r1("AWS_REGION", nullptr);
  ScopedEnv r2("AWS_DEFAULT_REGION", nullptr);
  auto o = client_options_from(parsed({{"region", std::string()}}), "widgets");
  ASSERT_FALSE(o);
  EXPECT_EQ(o.error().kind, ErrorKind::kInvalid);
  EXPECT_NE(o.error().message.find("--region"), std::string::npos) << o.error().message;
}

TEST(AwsClientOptions, CapBelowBaseNamesThePrefixedOptions) {
  auto o = client_options_from(parsed({{"region", std::string("us-east-1")},
                                       {"widgets-retry-base-ms", 1000},
                                       {"widgets-retry-cap-ms", 10}}),
                               "widgets");
  ASSERT_FALSE(o);
  EXPECT_EQ(o.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(o.error().message, "widgets-retry-cap-ms (10) is below widgets-retry-base-ms (1000)");
}

TEST(AwsClientOptions, WrongValueTypesAreReportedNotThrown) {
  auto o = client_options_from(parsed({{"region", std::string("us-east-1")},
                                       {"widgets-breaker-threshold", std::string("5")}}),
                               "widgets");
  ASSERT_FALSE(o);
  EXPECT_EQ(o.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(o.error().message, "option 'widgets-breaker-threshold' is not an integer option");

  const po::variables_map bad_endpoint =
      parsed({{"region", std::string("us-east-1")}, {"widgets-endpoint", 4566}});
  EXPECT_EQ(client_options_from(bad_endpoint, "widgets").error().message,
            "option 'widgets-endpoint' is not a string option");
}

TEST(AwsClientOptions, NamedProfileSelectsProfileCredentials) {
  auto o = client_options_from(
      parsed({{"region", std::string("us-east-1")}, {"aws-profile", std::string("scaler")}}),
      "widgets");
  ASSERT_TRUE(o) << o.error().describe();
  EXPECT_NE(o->credentials, nullptr);
}

TEST(AwsClientOptions, SleepUnlessStoppedReturnsEarlyOnStop) {
  std::stop_source stop;
  SleepFn sleep = sleep_unless_stopped(stop.get_token());
  EXPECT_TRUE(sleep(Millis(1)));
  std::jthread stopper([&] { stop.request_stop(); });
  const auto t0 = SteadyClock::now();
  EXPECT_FALSE(sleep(Millis(60000)));
  EXPECT_LT(SteadyClock::now() - t0, std::chrono::seconds(30));
}

}  // namespace
}  // namespace opfleet::aws

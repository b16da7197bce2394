// The --ecs-* options through opfleet's configuration path (flags > OPFLEET_* environment
// > defaults) and the client configuration built from them.
#include "ecs/client_config.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "aws/credentials.h"
#include "config/config.h"
#include "ecs/client.h"

namespace opfleet::ecs {
namespace {

config::CommandSpec spec() {
  config::po::options_description all;
  all.add(config::aws_options()).add(ecs_options());
  return {"ecs-test", "ecs-test [options]", "", all, {}, {}};
}

Result<config::Parsed> parse(const std::vector<std::string>& args,
                             std::map<std::string, std::string> env = {}) {
  config::ParseOptions o;
  o.getenv = [env = std::move(env)](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  o.default_config_file = "/nonexistent/opfleet.conf";
  o.configure_logging = false;
  return config::parse(spec(), args, o);
}

TEST(EcsClientConfig, DefaultsAreTheDocumentedOnes) {
  auto p = parse({"--region", "us-east-1"});
  ASSERT_TRUE(p) << p.error().describe();
  EXPECT_EQ(p->vm["ecs-cluster"].as<std::string>(), "opfleet");
  EXPECT_EQ(p->vm["ecs-service"].as<std::string>(), "opfleet-worker");
  auto c = client_config_from_options(p->vm);
  ASSERT_TRUE(c) << c.error().describe();
  EXPECT_TRUE(c->endpoint.empty());  // the regional AWS endpoint
  EXPECT_EQ(c->region, "us-east-1");
  EXPECT_EQ(c->backoff.base, Millis(1000));
  EXPECT_EQ(c->backoff.cap, Millis(16000));
  EXPECT_EQ(c->backoff.max_attempts, 6);
  EXPECT_EQ(c->breaker.failure_threshold, 5);
  EXPECT_EQ(c->breaker.open_for, Millis(5000));
  EXPECT_FALSE(c->credentials);  // the default chain, chosen by Client::make
}

TEST(EcsClientConfig, FlagsAndEnvironmentSetEndpointRegionAndTuning) {
  auto p = parse({"--ecs-endpoint", "http://localhost:4566", "--region", "eu-west-1",
                  "--ecs-retry-base-ms", "50", "--ecs-breaker-threshold", "2"},
                 {{"OPFLEET_ECS_RETRY_CAP_MS", "400"},
                  {"OPFLEET_ECS_RETRY_MAX_ATTEMPTS", "3"},
                  {"OPFLEET_ECS_BREAKER_OPEN_MS", "750"},
                  {"OPFLEET_ECS_SERVICE", "workers"}});
  ASSERT_TRUE(p) << p.error().describe();
  EXPECT_EQ(p->vm["ecs-service"].as<std::string>(), "workers");
  auto c = client_config_from_options(p->vm);
  ASSERT_TRUE(c) << c.error().describe();
  EXPECT_EQ(c->endpoint, "http://localhost:4566");
  EXPECT_EQ(c->region, "eu-west-1");
  EXPECT_EQ(c->backoff.base, Millis(50));
  EXPECT_EQ(c->backoff.cap, Millis(400));
  EXPECT_EQ(c->backoff.max_attempts, 3);
  EXPECT_EQ(c->breaker.failure_threshold, 2);
  EXPECT_EQ(c->breaker.open_for, Millis(750));
}

TEST(EcsClientConfig, BadValuesAreRejectedNamingTheOption) {
  auto bad_url = parse({"--ecs-endpoint", "localhost:4566"});
  ASSERT_FALSE(bad_url);
  EXPECT_NE(bad_url.error().message.find("--ecs-endpoint"), std::string::npos)
      << bad_url.error().message;
  EXPECT_FALSE(parse({"--ecs-retry-base-ms", "0"}));

  auto p =
      parse({"--region", "us-east-1", "--ecs-retry-base-ms", "500", "--ecs-retry-cap-ms", "100"});
  ASSERT_TRUE(p) << p.error().describe();
  auto c = client_config_from_options(p->vm);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("ecs-retry-cap-ms"), std::string::npos) << c.error().message;
}

TEST(EcsClientConfig, NamedProfileSelectsProfileCredentials) {
  auto p = parse({"--region", "us-east-1", "--aws-profile", "scaler"});
  ASSERT_TRUE(p) << p.error().describe();
  auto c = client_config_from_options(p->vm);
  ASSERT_TRUE(c) << c.error().describe();
  EXPECT_TRUE(c->credentials);
}

TEST(EcsClientConfig, NoEndpointMeansTheRegionalAwsEndpoint) {
  auto p = parse({"--region", "eu-west-3"});
  ASSERT_TRUE(p) << p.error().describe();
  auto c = client_config_from_options(p->vm);
  ASSERT_TRUE(c) << c.error().describe();
  c->credentials = aws::static_credentials({"AKIDEXAMPLE", "secret", "", std::nullopt, "test"});
  auto client = Client::make(*c);
  ASSERT_TRUE(client) << client.error().describe();
  EXPECT_EQ(client->url(), "https://ecs.eu-west-3.amazonaws.com/");
  EXPECT_EQ(client->config().name, "ecs");  // names the breaker and the retry log lines
}

}  // namespace
}  // namespace opfleet::ecs

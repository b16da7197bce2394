#include "ecs/client_config.h"

#include <cstdlib>
#include <optional>

#include <fmt/format.h>
#include <boost/any.hpp>

#include "config/validate.h"

namespace opfleet::ecs {
namespace {

namespace po = boost::program_options;

// The string value of `key`, or empty when the command does not declare it.
Result<std::string> option(const po::variables_map& vm, const char* key) {
  auto it = vm.find(key);
  if (it == vm.end() || it->second.empty()) return std::string();
  try {
    return it->second.as<std::string>();
  } catch (const boost::bad_any_cast&) {
    return fail(Error::invalid(fmt::format("option '{}' is not a string option", key)));
  }
}

// The int value of `key`, or nullopt when the command does not declare it.
Result<std::optional<int>> int_option(const po::variables_map& vm, const char* key) {
  auto it = vm.find(key);
  if (it == vm.end() || it->second.empty()) return std::optional<int>();
  try {
    return std::optional<int>(it->second.as<int>());
  } catch (const boost::bad_any_cast&) {
    return fail(Error::invalid(fmt::format("option '{}' is not an integer option", key)));
  }
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

}  // namespace

// One option per line reads better than what clang-format makes of the chained calls.
// clang-format off
po::options_description ecs_options() {
  po::options_description d("ECS options");
  d.add_options()
      ("ecs-endpoint", config::http_url()->value_name("URL")->default_value("", ""),
       "ECS endpoint (empty = https://ecs.<region>.amazonaws.com; LocalStack Pro: "
       "http://localhost:4566)")
      ("ecs-cluster", po::value<std::string>()->value_name("NAME")->default_value("opfleet"),
       "cluster of the worker service (short name or ARN)")
      ("ecs-service", po::value<std::string>()->value_name("NAME")->default_value("opfleet-worker"),
       "service whose desired count the scaler sets (short name or ARN)")
      ("ecs-retry-base-ms", config::positive_int()->value_name("MS")->default_value(1000),
       "backoff: the first retry of an ECS call waits up to this long; the bound doubles per retry")
      ("ecs-retry-cap-ms", config::positive_int()->value_name("MS")->default_value(16000),
       "backoff: the largest bound of an ECS retry wait")
      ("ecs-retry-max-attempts", config::non_negative_int()->value_name("N")->default_value(6),
       "attempts per ECS call, the first included (0 = no limit)")
      ("ecs-breaker-threshold", config::positive_int()->value_name("N")->default_value(5),
       "consecutive failed ECS attempts that open the circuit breaker")
      ("ecs-breaker-open-ms", config::positive_int()->value_name("MS")->default_value(5000),
       "how long an open ECS circuit fails calls fast before one trial call");
  return d;
}
// clang-format on

Result<ClientConfig> client_config_from_options(const po::variables_map& vm) {
  ClientConfig c;
  OPFLEET_TRY(c.endpoint, option(vm, "ecs-endpoint"));
  OPFLEET_TRY(std::string region, option(vm, "region"));
  // The AWS CLI and SDKs read these: honour them when opfleet's own setting is absent.
  if (region.empty()) region = env("AWS_REGION");
  if (region.empty()) region = env("AWS_DEFAULT_REGION");
  if (region.empty()) {
    return fail(Error::invalid(
        "no AWS region: set --region (OPFLEET_REGION, 'region' in the config file) or AWS_REGION"));
  }
  c.region = std::move(region);

  OPFLEET_TRY(auto base_ms, int_option(vm, "ecs-retry-base-ms"));
  OPFLEET_TRY(auto cap_ms, int_option(vm, "ecs-retry-cap-ms"));
  OPFLEET_TRY(auto max_attempts, int_option(vm, "ecs-retry-max-attempts"));
  OPFLEET_TRY(auto threshold, int_option(vm, "ecs-breaker-threshold"));
  OPFLEET_TRY(auto open_ms, int_option(vm, "ecs-breaker-open-ms"));
  if (base_ms) c.backoff.base = Millis(*base_ms);
  if (cap_ms) c.backoff.cap = Millis(*cap_ms);
  if (max_attempts) c.backoff.max_attempts = *max_attempts;
  if (threshold) c.breaker.failure_threshold = *threshold;
  if (open_ms) c.breaker.open_for = Millis(*open_ms);
  if (c.backoff.cap < c.backoff.base) {
    return fail(Error::invalid(fmt::format("ecs-retry-cap-ms ({}) is below ecs-retry-base-ms ({})",
                                           c.backoff.cap.count(), c.backoff.base.count())));
  }

  // A named profile means exactly that profile; otherwise the usual chain (environment,
  // $AWS_PROFILE or default profile, ECS container, EC2 instance).
  OPFLEET_TRY(std::string profile, option(vm, "aws-profile"));
  if (!profile.empty()) {
    aws::ProfileOptions named;
    named.profile = profile;
    c.credentials = aws::profile_credentials(std::move(named));
  }
  return c;
}

}  // namespace opfleet::ecs

#include "aws/client_options.h"

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <optional>

#include <fmt/format.h>
#include <boost/any.hpp>

namespace opfleet::aws {
namespace {

namespace po = boost::program_options;

// The string value of `key`, or empty when the command does not declare it or it has
// no value.
Result<std::string> option(const po::variables_map& vm, const std::string& key) {
  auto it = vm.find(key);
  if (it == vm.end() || it->second.empty()) return std::string();
  try {
    return it->second.as<std::string>();
  } catch (const boost::bad_any_cast&) {
    return fail(Error::invalid(fmt::format("option '{}' is not a string option", key)));
  }
}

// The int value of `key`, or nullopt when the command does not declare it.
Result<std::optional<int>> int_option(const po::variables_map& vm, const std::string& key) {
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

SleepFn sleep_unless_stopped(std::stop_token token) {
  return [token = std::move(token)](Millis d) {
    std::mutex mu;
    std::condition_variable_any cv;
    std::unique_lock lock(mu);
    // Wakes on timeout or at request_stop() (wait_for registers a stop callback).
    cv.wait_for(lock, token, d, [] { return false; });
    return !token.stop_requested();
  };
}

Result<ClientOptions> client_options_from(const po::variables_map& vm, std::string_view prefix) {
  auto key = [prefix](std::string_view name) { return fmt::format("{}-{}", prefix, name); };
  ClientOptions c;
  OPFLEET_TRY(c.endpoint, option(vm, key("endpoint")));
  OPFLEET_TRY(std::string region, option(vm, "region"));
  // The AWS CLI and SDKs read these: honour them when opfleet's own setting is absent.
  if (region.empty()) region = env("AWS_REGION");
  if (region.empty()) region = env("AWS_DEFAULT_REGION");
  if (region.empty()) {
    return fail(Error::invalid(
        "no AWS region: set --region (OPFLEET_REGION, 'region' in the config file) or AWS_REGION"));
  }
  c.region = std::move(region);

  // Tuning, when the command declares it (config::aws_options() does for SQS).
  OPFLEET_TRY(auto base_ms, int_option(vm, key("retry-base-ms")));
  OPFLEET_TRY(auto cap_ms, int_option(vm, key("retry-cap-ms")));
  OPFLEET_TRY(auto max_attempts, int_option(vm, key("retry-max-attempts")));
  OPFLEET_TRY(auto threshold, int_option(vm, key("breaker-threshold")));
  OPFLEET_TRY(auto open_ms, int_option(vm, key("breaker-open-ms")));
  if (base_ms) c.backoff.base = Millis(*base_ms);
  if (cap_ms) c.backoff.cap = Millis(*cap_ms);
  if (max_attempts) c.backoff.max_attempts = *max_attempts;
  if (threshold) c.breaker.failure_threshold = *threshold;
  if (open_ms) c.breaker.open_for = Millis(*open_ms);
  if (c.backoff.cap < c.backoff.base) {
    return fail(Error::invalid(fmt::format("{} ({}) is below {} ({})", key("retry-cap-ms"),
                                           c.backoff.cap.count(), key("retry-base-ms"),
                                           c.backoff.base.count())));
  }

  // A named profile means exactly that profile; otherwise the usual chain (environment,
  // $AWS_PROFILE or default profile, ECS container, EC2 instance).
  OPFLEET_TRY(std::string profile, option(vm, "aws-profile"));
  if (!profile.empty()) {
    ProfileOptions named;
    named.profile = profile;
    c.credentials = profile_credentials(std::move(named));
  }
  return c;
}

}  // namespace opfleet::aws

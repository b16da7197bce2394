#include "ecs/client_config.h"

#include "config/validate.h"

namespace opfleet::ecs {

namespace po = boost::program_options;

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
  return aws::client_options_from(vm, "ecs");
}

}  // namespace opfleet::ecs

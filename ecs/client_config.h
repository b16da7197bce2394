// How an ECS client reaches ECS and how hard it tries (the options every AWS service
// client has, aws/client_options.h), and the command-line options that set it (for
// `opfleet scale --actuator ecs` and anything else that drives ECS).
#pragma once

#include <boost/program_options.hpp>

#include "aws/client_options.h"
#include "common/result.h"

namespace opfleet::ecs {

using SleepFn = aws::SleepFn;
using Transport = aws::Transport;

// An empty endpoint means https://ecs.<region>.amazonaws.com (LocalStack Pro:
// "http://localhost:4566"), an empty name "ecs".
using ClientConfig = aws::ClientOptions;

// The ECS option group: --ecs-endpoint, --ecs-cluster, --ecs-service and the
// --ecs-retry-* / --ecs-breaker-* tuning. A command adds it next to config::aws_options(),
// which supplies --region and --aws-profile.
boost::program_options::options_description ecs_options();

// The client configuration from parsed options: 'ecs-endpoint', 'region' (AWS_REGION /
// AWS_DEFAULT_REGION when empty), 'aws-profile', and the 'ecs-retry-*' / 'ecs-breaker-*'
// tuning. Options the command does not declare keep the defaults.
Result<ClientConfig> client_config_from_options(const boost::program_options::variables_map& vm);

}  // namespace opfleet::ecs

// How an SQS client reaches SQS and how hard it tries: the options every AWS service
// client has (aws/client_options.h), with SQS's option names.
#pragma once

#include <boost/program_options/variables_map.hpp>

#include "aws/client_options.h"
#include "common/result.h"

namespace opfleet::sqs {

using SleepFn = aws::SleepFn;
using Transport = aws::Transport;

// An empty endpoint means https://sqs.<region>.amazonaws.com, an empty name "sqs". A long
// poll adds its wait time to `http.timeout` (see Client::receive_messages).
using ClientConfig = aws::ClientOptions;

using aws::sleep_unless_stopped;

// The client configuration from parsed options (config::aws_options()): 'sqs-endpoint',
// 'region' (AWS_REGION / AWS_DEFAULT_REGION when empty), 'aws-profile', and the
// 'sqs-retry-*' / 'sqs-breaker-*' tuning. Options the command does not declare keep the
// defaults.
inline Result<ClientConfig> client_config_from_options(
    const boost::program_options::variables_map& vm) {
  return aws::client_options_from(vm, "sqs");
}

}  // namespace opfleet::sqs

// How an ECS client reaches ECS and how hard it tries, and the command-line options that
// set it (for `opfleet scale --actuator ecs` and anything else that drives ECS).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <boost/program_options.hpp>

#include "aws/credentials.h"
#include "aws/http.h"
#include "common/result.h"
#include "common/retry.h"

namespace opfleet::ecs {

// Sleeps for the given time unless cancelled; returns false when cancelled (the client
// then stops retrying and returns the last error).
using SleepFn = std::function<bool(Millis)>;

// Sends one HTTP request with a timeout. The client's own HttpClient by default; unit
// tests may put a fake here.
using Transport = std::function<Result<aws::HttpResponse>(const aws::HttpRequest&, Millis)>;

struct ClientConfig {
  // Where every request goes, e.g. "http://localhost:4566" (LocalStack). Empty: the AWS
  // endpoint of `region` (https://ecs.<region>.amazonaws.com).
  std::string endpoint;
  std::string region = "us-east-1";
  // Retries of retryable errors: full-jitter delays with ceilings 1, 2, 4, 8, 16 s; six
  // attempts per call in all.
  BackoffPolicy backoff{};
  // After 5 consecutive failed attempts calls fail fast for 5 s, then one trial goes out.
  BreakerPolicy breaker{};
  aws::HttpOptions http{/*connect_timeout=*/Millis(3000), /*timeout=*/Millis(10000),
                        /*verify_tls=*/true, /*ca_file=*/{}};
  // Null: aws::default_credentials_chain().
  std::shared_ptr<aws::CredentialsProvider> credentials;
  SleepFn sleep;                        // empty: std::this_thread::sleep_for, never cancelled
  CircuitBreaker::Clock breaker_clock;  // empty: steady_clock (tests drive a fake one)
  Transport transport;                  // empty: the client's own aws::HttpClient
  std::string name = "ecs";             // names the circuit breaker in logs
};

// The ECS option group: --ecs-endpoint, --ecs-cluster, --ecs-service and the
// --ecs-retry-* / --ecs-breaker-* tuning. A command adds it next to config::aws_options(),
// which supplies --region and --aws-profile.
boost::program_options::options_description ecs_options();

// The client configuration from parsed options: 'ecs-endpoint', 'region' (AWS_REGION /
// AWS_DEFAULT_REGION when empty), 'aws-profile', and the 'ecs-retry-*' / 'ecs-breaker-*'
// tuning. Options the command does not declare keep the defaults above.
Result<ClientConfig> client_config_from_options(const boost::program_options::variables_map& vm);

}  // namespace opfleet::ecs

// How an SQS client reaches SQS and how hard it tries.
#pragma once

#include <functional>
#include <memory>
#include <stop_token>
#include <string>

#include <boost/program_options/variables_map.hpp>

#include "aws/credentials.h"
#include "aws/http.h"
#include "common/result.h"
#include "common/retry.h"

namespace opfleet::sqs {

// Sleeps for the given time unless cancelled; returns false when cancelled (the client
// then stops retrying and returns the last error). Lets a worker stop waiting on shutdown.
using SleepFn = std::function<bool(Millis)>;

// Sends one HTTP request with a timeout. The client's own HttpClient by default; unit
// tests put a fake here.
using Transport = std::function<Result<aws::HttpResponse>(const aws::HttpRequest&, Millis)>;

struct ClientConfig {
  // Where every request goes, e.g. "http://127.0.0.1:4566". Empty: the AWS endpoint of
  // `region` (https://sqs.<region>.amazonaws.com).
  std::string endpoint;
  std::string region = "us-east-1";
  // Retries of retryable errors: full-jitter delays with ceilings 1, 2, 4, 8, 16 s; six
  // attempts per call in all.
  BackoffPolicy backoff{};
  // After 5 consecutive failed attempts calls fail fast for 5 s, then one trial goes out.
  BreakerPolicy breaker{};
  // A long poll adds its wait time to `http.timeout` (see Client::receive_messages).
  aws::HttpOptions http{/*connect_timeout=*/Millis(3000), /*timeout=*/Millis(10000),
                        /*verify_tls=*/true, /*ca_file=*/{}};
  // Null: aws::default_credentials_chain().
  std::shared_ptr<aws::CredentialsProvider> credentials;
  SleepFn sleep;             // empty: std::this_thread::sleep_for, never cancelled
  Transport transport;       // empty: the client's own aws::HttpClient
  std::string name = "sqs";  // names the circuit breaker in logs
};

// A SleepFn that returns early (false) once `token` is stopped.
SleepFn sleep_unless_stopped(std::stop_token token);

// The client configuration from parsed options (config::aws_options()): 'sqs-endpoint',
// 'region' (AWS_REGION / AWS_DEFAULT_REGION when empty), 'aws-profile', and the
// 'sqs-retry-*' / 'sqs-breaker-*' tuning. Options the command does not declare keep the
// defaults above.
Result<ClientConfig> client_config_from_options(const boost::program_options::variables_map& vm);

}  // namespace opfleet::sqs

// How an AWS service client (aws::JsonClient, under sqs::Client and ecs::Client) reaches
// its service and how hard it tries, and these settings from parsed command-line options.
#pragma once

#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>

#include <boost/program_options/variables_map.hpp>

#include "aws/credentials.h"
#include "aws/http.h"
#include "common/result.h"
#include "common/retry.h"

namespace opfleet::aws {

// Sleeps for the given time unless cancelled; returns false when cancelled (the client
// then stops retrying and returns the last error). Lets a worker stop waiting on shutdown.
using SleepFn = std::function<bool(Millis)>;

// Sends one HTTP request with a timeout. The client's own HttpClient by default; unit
// tests put a fake here.
using Transport = std::function<Result<HttpResponse>(const HttpRequest&, Millis)>;

struct ClientOptions {
  // Where every request goes, e.g. "http://127.0.0.1:4566". Empty: the AWS endpoint of
  // `region` (https://<service>.<region>.amazonaws.com).
  std::string endpoint{};
  std::string region = "us-east-1";
  // Retries of retryable errors: full-jitter delays with ceilings 1, 2, 4, 8, 16 s; six
  // attempts per call in all.
  BackoffPolicy backoff{};
  // After 5 consecutive failed attempts calls fail fast for 5 s, then one trial goes out.
  BreakerPolicy breaker{};
  HttpOptions http{/*connect_timeout=*/Millis(3000), /*timeout=*/Millis(10000),
                   /*verify_tls=*/true, /*ca_file=*/{}};
  // Null: default_credentials_chain().
  std::shared_ptr<CredentialsProvider> credentials{};
  SleepFn sleep{};                        // empty: std::this_thread::sleep_for, never cancelled
  CircuitBreaker::Clock breaker_clock{};  // empty: steady_clock (tests drive a fake one)
  Transport transport{};                  // empty: the client's own HttpClient
  // Names the circuit breaker and the client in logs. Empty: the service's ("sqs").
  std::string name{};
};

// A SleepFn that returns early (false) once `token` is stopped.
SleepFn sleep_unless_stopped(std::stop_token token);

// The options of the service whose option names start with `prefix` ("sqs"):
// '<prefix>-endpoint', 'region' (AWS_REGION / AWS_DEFAULT_REGION when empty),
// 'aws-profile', and the '<prefix>-retry-base-ms', '-retry-cap-ms', '-retry-max-attempts',
// '-breaker-threshold' and '-breaker-open-ms' tuning. Options the command does not
// declare keep the defaults above.
Result<ClientOptions> client_options_from(const boost::program_options::variables_map& vm,
                                          std::string_view prefix);

}  // namespace opfleet::aws

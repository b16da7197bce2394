// A client of one AWS service over the JSON protocol, described by a JsonService
// (aws/json_service.h): the transport that sqs::Client and ecs::Client are built on. A
// service client derives from it, adds one method per action (build the body with its
// wire.h, call(), parse the answer) and inherits the counters and breaker accessors.
//
// Each call is signed (SigV4) and retried on retryable errors (throttling, 5xx, network,
// timeouts) with full-jitter exponential backoff, one warn log line per retry
// (service.retry_event); non-retryable errors (bad parameters, unknown resource, auth)
// come back at once. A circuit breaker counts consecutive failed attempts that look like
// an outage (network, timeout, 5xx) across calls: once open, calls fail fast with a
// retryable kUnavailable error (code "CircuitOpen") until a trial call succeeds, so a
// caller's loop must back off too (retry_after() says for how long). Errors are returned,
// not logged: the caller decides what a failure means.
//
// Not thread-safe: one client owns one HTTP connection (a curl handle); use one client
// per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "aws/client_options.h"
#include "aws/http.h"
#include "aws/json_service.h"
#include "common/result.h"
#include "common/retry.h"

namespace opfleet::aws {

// Counters since the client was made (for metrics and tests).
struct ClientStats {
  std::uint64_t calls = 0;     // API calls made by the caller
  std::uint64_t attempts = 0;  // HTTP requests sent: first tries and retries
  std::uint64_t retries = 0;   // backoff waits taken
  std::uint64_t failed_calls = 0;
  std::uint64_t rejected_by_breaker = 0;  // calls failed fast while the circuit was open
};

class JsonClient {
 public:
  // Fills in the defaults of `options` (endpoint, credentials, sleep, name). Fails with
  // kInvalid when the endpoint is not an absolute http(s) URL or the region is empty.
  // `service` is copied; the data it points at must be static.
  static Result<JsonClient> make(const JsonService& service, ClientOptions options);

  const ClientStats& stats() const { return stats_; }
  BreakerState breaker_state() const { return breaker_.state(); }
  // How long until the breaker lets a call through again (zero unless open).
  Millis retry_after() const { return breaker_.remaining_open(); }
  const ClientOptions& config() const { return options_; }
  // The URL requests are posted to.
  const std::string& url() const { return url_; }

 protected:
  // One API call: serialize `body`, then attempt and retry under the breaker. The answer
  // is a JSON object (an empty one for actions that answer with nothing). Each attempt
  // may take `timeout` (config().http.timeout unless given).
  Result<nlohmann::json> call(std::string_view action, const nlohmann::json& body);
  Result<nlohmann::json> call(std::string_view action, const nlohmann::json& body, Millis timeout);

 private:
  JsonClient(const JsonService& service, ClientOptions options, std::string url);

  Result<nlohmann::json> attempt(std::string_view action, const std::string& payload,
                                 Millis timeout);
  Error circuit_open_error(std::string_view action, const Error* last) const;
  Error with_action(std::string_view action, Error e) const;

  JsonService service_;
  ClientOptions options_;
  std::string url_;
  std::unique_ptr<HttpClient> http_;
  Backoff backoff_;
  CircuitBreaker breaker_;
  ClientStats stats_;
};

}  // namespace opfleet::aws

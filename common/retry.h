// Retry policy shared by the SQS, ECS and PostgreSQL clients:
//  - Backoff: exponential with full jitter (AWS architecture blog "Exponential Backoff And
//    Jitter"): the n-th delay is uniform in [0, min(cap, base * 2^n)].
//  - CircuitBreaker: after `failure_threshold` consecutive failures the circuit opens and
//    calls fail fast for `open_for`; then one trial call is let through (half-open); its
//    success closes the circuit, its failure re-opens it.
// Both are plain state machines over an injected clock, so tests drive them by table.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <random>
#include <string>

namespace opfleet {

using SteadyClock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;

struct BackoffPolicy {
  Millis base{1000};    // first cap: 1 s
  Millis cap{16000};    // caps grow 1, 2, 4, 8, 16 s and stay at 16 s
  int max_attempts = 6; // attempts in one retry loop (1 try + 5 retries); 0 = unlimited
};

class Backoff {
 public:
  explicit Backoff(BackoffPolicy policy, std::uint64_t seed = std::random_device{}());

  // The delay before retry number `attempt` (0-based): uniform in [0, min(cap, base*2^attempt)].
  Millis delay(int attempt);
  // The upper bound used for `attempt` (for logs and tests).
  Millis ceiling(int attempt) const;
  const BackoffPolicy& policy() const { return policy_; }

 private:
  BackoffPolicy policy_;
  std::mt19937_64 rng_;
};

enum class BreakerState { kClosed, kOpen, kHalfOpen };
const char* to_string(BreakerState s);

struct BreakerPolicy {
  int failure_threshold = 5;
  Millis open_for{5000};
};

class CircuitBreaker {
 public:
  using Clock = std::function<SteadyClock::time_point()>;
  explicit CircuitBreaker(std::string name, BreakerPolicy policy = {},
                          Clock clock = [] { return SteadyClock::now(); });

  // May a call go out now? In the open state: no, until open_for has passed; then one
  // trial call (half-open) is allowed.
  bool allow();
  void record_success();
  void record_failure();

  BreakerState state() const { return state_; }
  int consecutive_failures() const { return failures_; }
  // Time until an open circuit lets a trial call through (zero when not open).
  Millis remaining_open() const;
  const std::string& name() const { return name_; }

 private:
  void transition(BreakerState to);

  std::string name_;
  BreakerPolicy policy_;
  Clock clock_;
  BreakerState state_ = BreakerState::kClosed;
  int failures_ = 0;
  SteadyClock::time_point opened_at_{};
  bool trial_in_flight_ = false;
};

}  // namespace opfleet

#include "common/retry.h"

#include <algorithm>

#include "common/log.h"

namespace opfleet {

Backoff::Backoff(BackoffPolicy policy, std::uint64_t seed) : policy_(policy), rng_(seed) {}

Millis Backoff::ceiling(int attempt) const {
  const auto base = std::max<std::int64_t>(policy_.base.count(), 1);
  const auto cap = std::max<std::int64_t>(policy_.cap.count(), base);
  std::int64_t c = base;
  for (int i = 0; i < attempt && c < cap; ++i) c *= 2;
  return Millis(std::min(c, cap));
}

Millis Backoff::delay(int attempt) {
  std::uniform_int_distribution<std::int64_t> dist(0, ceiling(attempt).count());
  return Millis(dist(rng_));
}

const char* to_string(BreakerState s) {
  switch (s) {
    case BreakerState::kClosed: return "closed";
    case BreakerState::kOpen: return "open";
    case BreakerState::kHalfOpen: return "half_open";
  }
  return "unknown";
}

CircuitBreaker::CircuitBreaker(std::string name, BreakerPolicy policy, Clock clock)
    : name_(std::move(name)), policy_(policy), clock_(std::move(clock)) {}

void CircuitBreaker::transition(BreakerState to) {
  if (to == state_) return;
  log::Level level = to == BreakerState::kOpen ? log::Level::kWarn : log::Level::kInfo;
  log::write(level, "circuit_breaker",
             {{"name", name_}, {"from", to_string(state_)}, {"to", to_string(to)},
              {"consecutive_failures", failures_}});
  state_ = to;
}

bool CircuitBreaker::allow() {
  switch (state_) {
    case BreakerState::kClosed:
      return true;
    case BreakerState::kOpen:
      if (clock_() - opened_at_ < policy_.open_for) return false;
      transition(BreakerState::kHalfOpen);
      trial_in_flight_ = true;
      return true;
    case BreakerState::kHalfOpen:
      if (trial_in_flight_) return false;  // one trial at a time
      trial_in_flight_ = true;
      return true;
  }
  return true;
}

void CircuitBreaker::record_success() {
  failures_ = 0;
  trial_in_flight_ = false;
  transition(BreakerState::kClosed);
}

void CircuitBreaker::record_failure() {
  ++failures_;
  trial_in_flight_ = false;
  if (state_ == BreakerState::kHalfOpen ||
      (state_ == BreakerState::kClosed && failures_ >= policy_.failure_threshold)) {
    opened_at_ = clock_();
    transition(BreakerState::kOpen);
  }
}

Millis CircuitBreaker::remaining_open() const {
  if (state_ != BreakerState::kOpen) return Millis(0);
  auto left = policy_.open_for - std::chrono::duration_cast<Millis>(clock_() - opened_at_);
  return left.count() > 0 ? left : Millis(0);
}

}  // namespace opfleet

// ECS task scale-in protection (DESIGN.md "Scale-in safety"): while any op is in flight
// the task asks its ECS agent for protection ($ECS_AGENT_URI/task-protection/v1/state,
// PUT {"ProtectionEnabled":true,"ExpiresInMinutes":N}), renews it at half its lifetime,
// and drops it ({"ProtectionEnabled":false}) once idle for a short grace, so ECS may
// stop the task when the service scales in. A supervisor that dies leaves protection to
// expire on its own (that is why it has an expiry).
//
// ProtectionPlanner is the pure decision (clock injected, tested by tables);
// EcsProtection sends its requests with a short timeout from the supervisor's loop.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "aws/http.h"
#include "common/result.h"
#include "supervisor/child_table.h"

namespace opfleet::supervisor {

struct ProtectionPolicy {
  int expires_minutes = 10;   // per request (the agent accepts 1..2880)
  Duration idle_grace{5000};  // idle this long before protection is dropped (no flapping)
  Duration retry_base{1000};  // a failed request is retried after 1, 2, 4... s
  Duration retry_cap{30000};
};

struct ProtectionRequest {
  bool enable = false;
  int expires_minutes = 0;  // with enable
  friend bool operator==(const ProtectionRequest&, const ProtectionRequest&) = default;
};

// The JSON body of a request.
std::string protection_body(const ProtectionRequest& r);

class ProtectionPlanner {
 public:
  explicit ProtectionPlanner(ProtectionPolicy policy) : policy_(policy) {}

  // The request to send now, if any, given whether ops are in flight.
  std::optional<ProtectionRequest> next(TimePoint now, bool busy);
  // The outcome of the request next() returned.
  void on_result(const ProtectionRequest& request, bool ok, TimePoint now);

  // What the agent was last told (nullopt until the first success: unknown, e.g. a
  // previous supervisor of this task may have left protection on).
  std::optional<bool> enabled() const { return enabled_; }

 private:
  ProtectionPolicy policy_;
  std::optional<bool> enabled_;
  TimePoint renew_at_{};
  std::optional<TimePoint> idle_since_;
  TimePoint retry_at_{};
  int failures_ = 0;
};

class EcsProtection {
 public:
  // nullptr when $ECS_AGENT_URI is not set (not on ECS).
  static std::unique_ptr<EcsProtection> from_environment(ProtectionPolicy policy);
  EcsProtection(std::string agent_uri, ProtectionPolicy policy);

  // Call on every tick: sends what the planner decides (blocking, short timeouts).
  void update(TimePoint now, bool busy);
  // At exit: drops protection now unless the agent is known to have it off (no grace).
  void release(TimePoint now);
  std::optional<bool> enabled() const { return planner_.enabled(); }

 private:
  Status send(const ProtectionRequest& r);
  void apply(const ProtectionRequest& r, TimePoint now);

  std::string url_;
  ProtectionPlanner planner_;
  aws::HttpClient http_;
};

}  // namespace opfleet::supervisor

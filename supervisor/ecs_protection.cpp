#include "supervisor/ecs_protection.h"

#include <cstdlib>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/log.h"

namespace opfleet::supervisor {

std::string protection_body(const ProtectionRequest& r) {
  nlohmann::json j;
  j["ProtectionEnabled"] = r.enable;
  if (r.enable) j["ExpiresInMinutes"] = r.expires_minutes;
  return j.dump();
}

std::optional<ProtectionRequest> ProtectionPlanner::next(TimePoint now, bool busy) {
  if (busy) {
    idle_since_.reset();
  } else if (!idle_since_) {
    idle_since_ = now;
  }
  if (now < retry_at_) return std::nullopt;
  if (busy) {
    if (enabled_ != true || now >= renew_at_) {
      return ProtectionRequest{true, policy_.expires_minutes};
    }
    return std::nullopt;
  }
  // Idle: drop protection after the grace; an unknown state (at start) is cleared at once.
  if (enabled_ == true && now - *idle_since_ >= policy_.idle_grace)
    return ProtectionRequest{false, 0};
  if (!enabled_) return ProtectionRequest{false, 0};
  return std::nullopt;
}

void ProtectionPlanner::on_result(const ProtectionRequest& request, bool ok, TimePoint now) {
  if (ok) {
    failures_ = 0;
    retry_at_ = now;
    enabled_ = request.enable;
    // Renew at half the lifetime: one lost renewal still leaves time for another.
    if (request.enable) renew_at_ = now + std::chrono::minutes(request.expires_minutes) / 2;
    return;
  }
  ++failures_;
  Duration d = policy_.retry_base;
  for (int i = 1; i < failures_ && d < policy_.retry_cap; ++i) d *= 2;
  retry_at_ = now + std::min(d, policy_.retry_cap);
}

std::unique_ptr<EcsProtection> EcsProtection::from_environment(ProtectionPolicy policy) {
  const char* uri = std::getenv("ECS_AGENT_URI");
  if (uri == nullptr || *uri == '\0') return nullptr;
  return std::make_unique<EcsProtection>(uri, policy);
}

EcsProtection::EcsProtection(std::string agent_uri, ProtectionPolicy policy)
    : url_(std::move(agent_uri) + "/task-protection/v1/state"),
      planner_(policy),
      // The agent is link-local: a proxy must not see it, and it answers fast or not at all.
      http_(aws::HttpOptions{std::chrono::milliseconds(1000),
                             std::chrono::milliseconds(2000),
                             true,
                             {},
                             true,
                             nullptr}) {}

void EcsProtection::update(TimePoint now, bool busy) {
  if (auto request = planner_.next(now, busy)) apply(*request, now);
}

void EcsProtection::release(TimePoint now) {
  if (planner_.enabled() != false) apply(ProtectionRequest{false, 0}, now);
}

void EcsProtection::apply(const ProtectionRequest& request, TimePoint now) {
  auto st = send(request);
  planner_.on_result(request, st.has_value(), now);
  if (st) {
    log::info("ecs_task_protection",
              {{"enabled", request.enable}, {"expires_minutes", request.expires_minutes}});
  } else {
    log::warn("ecs_task_protection_failed",
              {{"enabled", request.enable}, {"error", st.error().describe()}});
  }
}

Status EcsProtection::send(const ProtectionRequest& r) {
  aws::HttpRequest req;
  req.method = "PUT";
  req.url = url_;
  req.headers = {{"Content-Type", "application/json"}};
  req.body = protection_body(r);
  OPFLEET_TRY(auto resp, http_.send(req));
  if (resp.status < 200 || resp.status >= 300) {
    Error e = Error::make(
        ErrorKind::kUnavailable,
        fmt::format("agent answered HTTP {}: {}", resp.status, resp.body.substr(0, 200)),
        resp.status >= 500);
    e.http_status = static_cast<int>(resp.status);
    return fail(std::move(e));
  }
  // The agent answers 200 with {"failure": {...}} when ECS refused the change.
  auto body = nlohmann::json::parse(resp.body, nullptr, false);
  if (!body.is_discarded() && body.is_object() && body.contains("failure") &&
      !body["failure"].is_null()) {
    return fail(Error::make(ErrorKind::kUnavailable,
                            fmt::format("ECS refused: {}", body["failure"].dump()), true));
  }
  return ok();
}

}  // namespace opfleet::supervisor

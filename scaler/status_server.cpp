#include "scaler/status_server.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/log.h"

namespace opfleet::scaler {

supervisor::HttpAnswer status_answer(std::string_view method, std::string_view path,
                                     const LoopSnapshot& s, SteadyClock::time_point now,
                                     Millis stale_after) {
  supervisor::HttpAnswer a;
  if (method != "GET" && method != "HEAD") {
    a.status = 405;
    a.body = "method not allowed\n";
    return a;
  }
  if (path == "/metrics") {
    a.content_type = "text/plain; version=0.0.4; charset=utf-8";
    a.body = render_metrics(s);
    return a;
  }
  if (path == "/healthz") {
    const bool fresh = s.last_good_cycle && now - *s.last_good_cycle <= stale_after;
    nlohmann::json j = {{"status", fresh ? "ok" : "stale"},
                        {"actuator", s.actuator},
                        {"policy", s.policy},
                        {"cycles", s.cycles},
                        {"desired", s.desired},
                        {"current", s.current},
                        {"last_action", s.last_action},
                        {"last_reason", s.last_reason},
                        {"last_error", s.last_error},
                        {"drain_active", s.drain_active},
                        {"partition_active", s.partition_active}};
    a.status = fresh ? 200 : 503;
    a.content_type = "application/json";
    a.body = j.dump() + "\n";
    return a;
  }
  a.status = 404;
  a.body = "not found\n";
  return a;
}

Result<std::unique_ptr<StatusServer>> StatusServer::start(std::string_view listen,
                                                          const ControlLoop& loop,
                                                          Millis stale_after) {
  std::unique_ptr<StatusServer> s(new StatusServer());
  OPFLEET_TRY(s->loop_, supervisor::EventLoop::create());
  s->wake_ = supervisor::UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!s->wake_) {
    return fail(Error::internal(fmt::format("eventfd: {}", std::strerror(errno))));
  }
  OPFLEET_TRY_STATUS(s->loop_->add(s->wake_.get(), EPOLLIN, [](std::uint32_t) {}));
  const ControlLoop* lp = &loop;
  OPFLEET_TRY(
      s->http_,
      supervisor::HttpResponder::start(
          *s->loop_, listen, [lp, stale_after](std::string_view method, std::string_view path) {
            return status_answer(method, path, lp->snapshot(), SteadyClock::now(), stale_after);
          }));
  s->port_ = s->http_->port();
  s->thread_ = std::thread([raw = s.get()] { raw->run(); });
  return s;
}

void StatusServer::run() {
  while (!stop_.load()) {
    const auto now = SteadyClock::now();
    http_->expire(now);
    // A bounded wait so idle connections still expire; the eventfd ends it at once.
    if (auto st = loop_->run_once(now + std::chrono::seconds(1)); !st) {
      log::error("scaler_http_failed", {{"error", st.error().describe()}});
      return;
    }
  }
}

StatusServer::~StatusServer() {
  stop_.store(true);
  if (wake_) {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_.get(), &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
  http_.reset();
  if (loop_ && wake_) loop_->remove(wake_.get());
}

}  // namespace opfleet::scaler

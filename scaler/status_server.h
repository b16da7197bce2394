// /healthz and /metrics of `opfleet scale --run`, served from a thread of its own: the
// control loop blocks on I/O (SQS, PostgreSQL, a drain's settle wait), and a health probe
// must still be answered meanwhile. The thread runs the supervisor's event loop and HTTP
// responder (supervisor/http_responder.h) and reads the loop only through
// ControlLoop::snapshot().
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "common/result.h"
#include "scaler/control_loop.h"
#include "supervisor/http_responder.h"
#include "supervisor/unique_fd.h"

namespace opfleet::scaler {

// The answer to one request. Healthy = a poll read metrics and capacity within
// `stale_after` (3 poll intervals plus slack): a scaler that cannot see its queue or fleet
// is not doing its job even though its process is up.
supervisor::HttpAnswer status_answer(std::string_view method, std::string_view path,
                                     const LoopSnapshot& s, SteadyClock::time_point now,
                                     Millis stale_after);

class StatusServer {
 public:
  static Result<std::unique_ptr<StatusServer>> start(std::string_view listen,
                                                     const ControlLoop& loop, Millis stale_after);
  ~StatusServer();  // stops and joins the thread
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  std::uint16_t port() const { return port_; }

 private:
  StatusServer() = default;
  void run();

  std::unique_ptr<supervisor::EventLoop> loop_;
  std::unique_ptr<supervisor::HttpResponder> http_;
  supervisor::UniqueFd wake_;  // eventfd: the destructor's stop request
  std::atomic<bool> stop_{false};
  std::uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace opfleet::scaler

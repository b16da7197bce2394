// The dashboard's request handling: routes (docs/ui.md), query validation (400 with a
// message), and the mapping of database trouble to a 503 page that recovers by itself.
//
// Database sessions: one store::Connection per server thread, created on first use and
// kept (a Connection serves one thread at a time, so this needs no lock). When the
// database goes away, a request fails fast — each session's circuit breaker opens after
// a few failed connection attempts — and the reply is 503; a later request reconnects
// once the server is back, with no restart of the dashboard.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "jobs/registry.h"
#include "store/connection.h"
#include "ui/http_server.h"

namespace opfleet::ui {

struct DashboardOptions {
  store::ConnectionOptions db;
  jobs::Registry registry = jobs::Registry::with_builtins();
  int threads = 4;  // one database session per server thread
  // A supervisor whose heartbeat is older than this is shown as stale.
  double stale_after_s = 30;
};

class Dashboard {
 public:
  explicit Dashboard(DashboardOptions options);
  ~Dashboard();
  Dashboard(const Dashboard&) = delete;
  Dashboard& operator=(const Dashboard&) = delete;

  // Thread-safe for distinct thread_index values (the server gives each thread its own).
  HttpResponse handle(const HttpRequest& request, int thread_index);

 private:
  store::Connection& db(int thread_index);

  DashboardOptions options_;
  std::vector<std::unique_ptr<store::Connection>> sessions_;
  // Whether the last read failed for want of a database: the outage and the recovery
  // are logged once each, not on every request of every open page.
  std::atomic<bool> db_down_{false};
};

}  // namespace opfleet::ui

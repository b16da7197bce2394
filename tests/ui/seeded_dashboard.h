// A dashboard over a database seeded by real runs: a test Fleet (database and queues of
// its own, a real `opfleet worker`) runs a succeeding, a failing and a long-running job;
// then the rows nothing in the fleet writes yet are planted (supervisor heartbeats,
// queue samples, scaling events, schedule ticks), and one run gets markup in its tags
// and error, for the escaping checks. The dashboard and its HTTP server run in-process
// on a free loopback port.
#pragma once

#include <memory>
#include <string>

#include "aws/http.h"
#include "tests/support/fleet_fixture.h"
#include "ui/dashboard.h"
#include "ui/http_server.h"

namespace opfleet::testing {

// What a run's tag and error are set to for the escaping checks.
inline constexpr const char* kMarkupTag = R"(<script>alert("tag")</script>)";
inline constexpr const char* kMarkupError = R"x(<img src=x onerror="alert('error')"> & more)x";

class SeededDashboard {
 public:
  SeededDashboard();  // throws (the test fails) when seeding does not work out
  ~SeededDashboard();

  std::string url(const std::string& path = "/") const;
  // GET (or HEAD) `path`; throws on a transport error.
  aws::HttpResponse get(const std::string& path, const std::string& method = "GET");

  Fleet& fleet() { return *fleet_; }
  int port() const { return server_->port(); }

  std::string succeeded_run;  // mixed_job: a DAG with dependencies
  std::string failed_run;     // a fail op out of attempts
  std::string running_run;    // a long sleep, running for the whole test
  std::string markup_run;     // fast_job whose tags and error carry markup

 private:
  std::unique_ptr<Fleet> fleet_;
  std::unique_ptr<ui::Dashboard> dashboard_;
  std::unique_ptr<ui::HttpServer> server_;
  aws::HttpClient http_;
};

}  // namespace opfleet::testing

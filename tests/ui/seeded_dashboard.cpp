#include "tests/ui/seeded_dashboard.h"

#include <stdexcept>

#include <fmt/format.h>

#include "store/params.h"

namespace opfleet::testing {

namespace param = store::param;

namespace {

void exec(store::Connection& db, const std::string& sql, const store::Params& params = {}) {
  auto r = db.exec(sql, params);
  if (!r) throw std::runtime_error(sql + ": " + r.error().describe());
}

jobs::JobDef failing_job() {
  jobs::JobDef job;
  job.name = "ui_failing_job";
  job.schedule = "";
  job.max_attempts = 2;
  jobs::FailParams fail;
  fail.always = true;
  job.ops = {jobs::OpDef{"boom", {}, fail},
             jobs::OpDef{"after", {"boom"}, jobs::SleepParams{0.01, 0}}};
  return job;
}

jobs::JobDef long_job() {
  jobs::JobDef job;
  job.name = "ui_long_job";
  job.schedule = "";
  job.ops = {jobs::OpDef{"long_sleep", {}, jobs::SleepParams{600, 0}}};
  return job;
}

ui::DashboardOptions dashboard_options(const Fleet& fleet) {
  ui::DashboardOptions o;
  o.db.url = fleet.database_url();
  o.db.statement_timeout = Millis(10000);
  o.threads = 2;
  return o;
}

}  // namespace

SeededDashboard::SeededDashboard() : fleet_(std::make_unique<Fleet>()) {
  Fleet& f = *fleet_;
  f.start_worker({.slots = 4});
  succeeded_run = f.submit(Fleet::builtin("mixed_job"), 0.002);
  failed_run = f.submit(failing_job(), 0.002);
  markup_run = f.submit(Fleet::builtin("fast_job"), 0.002);
  running_run = f.submit(long_job(), 1.0);
  for (const auto& id : {succeeded_run, failed_run, markup_run}) {
    if (f.wait_run(id).empty()) throw std::runtime_error("run " + id + " did not finish");
  }
  if (!Fleet::wait_until([&] { return f.run_status(running_run) == "running"; },
                         std::chrono::seconds(30))) {
    throw std::runtime_error("the long run did not start");
  }
  store::Connection& db = f.db();
  exec(db,
       "UPDATE runs SET tags = tags || jsonb_build_object('note', $2::text), error = $3 "
       "WHERE run_id = $1",
       {param::text(markup_run), param::text(kMarkupTag), param::text(kMarkupError)});
  // A live supervisor (workers listed in details) and one whose heartbeat stopped.
  exec(db, R"SQL(
INSERT INTO supervisors (host, instance, pid, started_at, heartbeat_at, workers, busy_slots,
                         total_slots, state, details) VALUES
  ('host-a', 'opfleet@1', 4242, now() - interval '1 hour', now(), 2, 1, 8, 'running',
   '{"workers": [{"pid": 5001, "state": "busy", "slots": 4},
                 {"pid": 5002, "state": "idle", "slots": 4}]}'),
  ('host-b', 'opfleet@2', 4343, now() - interval '2 hours', now() - interval '10 minutes', 1, 0,
   4, 'draining', '{}'))SQL");
  exec(db, R"SQL(
INSERT INTO queue_samples (at, queue, visible, in_flight, delayed, oldest_queued_age_s)
SELECT now() - make_interval(secs => 30 * i), 'ui-test.fifo', (i * 7) % 13, i % 5, 0,
       CASE WHEN i % 3 = 0 THEN NULL ELSE i * 1.5 END
FROM generate_series(1, 40) AS i)SQL");
  exec(db, R"SQL(
INSERT INTO scaling_events (at, source, kind, action, from_count, to_count, reason, details) VALUES
  (now() - interval '20 minutes', 'scaler', 'decision', 'scale_out', 1, 3, 'queue depth 25', '{}'),
  (now() - interval '19 minutes', 'scaler', 'action', 'set_workers', 1, 3, 'scale out', '{}'),
  (now() - interval '10 minutes', 'chaos', 'fault', 'kill_worker', NULL, NULL, 'worker-failure',
   '{"pid": 5003}'),
  (now() - interval '5 minutes', 'scaler', 'action', 'set_workers', 3, 2, 'scale in', '{}'),
  (now() - interval '4 minutes', 'scaler', 'error', NULL, NULL, NULL, 'UpdateService throttled',
   '{}'))SQL");
  exec(db,
       "INSERT INTO schedule_ticks (schedule_name, tick_at, job, run_id) VALUES "
       "('fast_job', date_trunc('minute', now()) - interval '10 minutes', 'fast_job', $1), "
       "('fast_job', date_trunc('minute', now()) - interval '20 minutes', 'fast_job', NULL)",
       {param::text(succeeded_run)});

  dashboard_ = std::make_unique<ui::Dashboard>(dashboard_options(f));
  ui::ServerOptions server;
  server.port = 0;
  server.threads = 2;
  auto started = ui::HttpServer::start(
      server, [this](const ui::HttpRequest& r, int t) { return dashboard_->handle(r, t); });
  if (!started) throw std::runtime_error(started.error().describe());
  server_ = std::move(*started);
}

SeededDashboard::~SeededDashboard() {
  server_.reset();  // stops the threads before the dashboard they call goes
  dashboard_.reset();
}

std::string SeededDashboard::url(const std::string& path) const {
  return fmt::format("http://127.0.0.1:{}{}", server_->port(), path);
}

aws::HttpResponse SeededDashboard::get(const std::string& path, const std::string& method) {
  aws::HttpRequest req;
  req.method = method;
  req.url = url(path);
  auto r = http_.send(req);
  if (!r) throw std::runtime_error("GET " + path + ": " + r.error().describe());
  return std::move(*r);
}

}  // namespace opfleet::testing

#include "loadsim/simulator.h"

#include <algorithm>
#include <deque>
#include <thread>

#include <fmt/format.h>

#include "audit/audit.h"
#include "common/log.h"
#include "loadsim/probe.h"

namespace opfleet::loadsim {

using SteadyTime = std::chrono::steady_clock::time_point;

struct Simulation::Shared {
  std::mutex mu;
  std::condition_variable cv;
  // Submissions due and not yet taken by a submitter (at: the planned instant).
  std::deque<std::pair<SteadyTime, const jobs::JobDef*>> due;
  bool closed = false;  // no more submissions will come
  int in_progress = 0;  // taken by a submitter, not finished
  std::int64_t submitted = 0;
  std::int64_t failed = 0;
  std::string last_error;
  std::vector<double> submit_ms;
  std::vector<double> lag_ms;
  std::vector<Sample> samples;
  std::optional<StepCounts> last_counts;
  bool sampler_stop = false;

  // Every submission was made and every run it created has finished.
  bool settled() const {
    return closed && due.empty() && in_progress == 0 && last_counts &&
           last_counts->runs >= submitted && last_counts->runs_finished >= last_counts->runs;
  }
};

namespace {

double ms_between(SteadyTime a, SteadyTime b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

std::vector<std::string> partition_sockets(const FleetAccess& f, PartitionTarget t) {
  std::vector<std::string> out;
  if (t != PartitionTarget::kPg) out.push_back(f.sqs_control);
  if (t != PartitionTarget::kSqs) out.push_back(f.pg_control);
  return out;
}

}  // namespace

Simulation::Simulation(SimulationOptions options, FleetAccess fleet)
    : options_(std::move(options)), fleet_(std::move(fleet)) {
  tags_ = options_.extra_tags;
  tags_["loadsim"] = options_.id;
  nlohmann::json t = nlohmann::json::object();
  t["loadsim"] = options_.id;
  tags_json_ = t.dump();
}

Status Simulation::check() const {
  const auto& s = options_.scenario;
  if (options_.registry == nullptr) return fail(Error::internal("loadsim: no job registry"));
  for (const auto& share : s.mix) {
    if (options_.registry->find(share.job) == nullptr) {
      return fail(Error::invalid(fmt::format("mix: unknown job '{}' (known: {})", share.job,
                                             fmt::join(options_.registry->names(), ", "))));
    }
  }
  if (s.needs_workers_to_kill() && fleet_.actuator == nullptr) {
    return fail(Error::invalid(
        "instances: the scenario kills workers; name the supervisors (--instances A,B)"));
  }
  if (s.needs_partition_control(PartitionTarget::kSqs) && fleet_.sqs_control.empty()) {
    return fail(Error::invalid(
        "sqs-control: the scenario cuts SQS off; give the control socket of the netfault "
        "proxy the workers reach SQS through"));
  }
  if (s.needs_partition_control(PartitionTarget::kPg) && fleet_.pg_control.empty()) {
    return fail(Error::invalid(
        "pg-control: the scenario cuts PostgreSQL off; give the control socket of the "
        "netfault proxy the workers reach PostgreSQL through"));
  }
  if (options_.submitters < 1) return fail(Error::invalid("submitters: at least 1"));
  return ok();
}

void Simulation::request_stop() {
  {
    std::lock_guard lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
}

bool Simulation::wait_until(SteadyTime t) {
  std::unique_lock lock(stop_mu_);
  return !stop_cv_.wait_until(lock, t, [this] { return stop_; });
}

double Simulation::seconds_since_start() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
}

void Simulation::submitter_loop(Shared& sh) {
  std::unique_ptr<store::Connection> db;
  std::optional<sqs::Client> sqs;
  for (;;) {
    SteadyTime planned;
    const jobs::JobDef* job = nullptr;
    {
      std::unique_lock lock(sh.mu);
      sh.cv.wait(lock, [&] { return !sh.due.empty() || sh.closed; });
      if (sh.due.empty()) return;
      std::tie(planned, job) = sh.due.front();
      sh.due.pop_front();
      ++sh.in_progress;
    }
    const auto start = std::chrono::steady_clock::now();
    Result<worker::SubmitResult> res = fail(Error::network("not connected"));
    if (!db) {
      auto c = fleet_.connect_db();
      if (c)
        db = std::move(*c);
      else
        res = fail(c.error());
    }
    if (db && !sqs) {
      auto c = fleet_.make_sqs();
      if (c)
        sqs.emplace(std::move(*c));
      else
        res = fail(c.error());
    }
    if (db && sqs) {
      res = worker::submit_run(*db, *sqs, fleet_.queue_url, *job, tags_,
                               options_.scenario.time_scale);
    }
    const auto end = std::chrono::steady_clock::now();
    if (!res) {
      log::warn("loadsim_submit_failed", {{"job", job->name}, {"error", res.error().describe()}});
    }
    std::lock_guard lock(sh.mu);
    --sh.in_progress;
    if (res) {
      ++sh.submitted;
      sh.submit_ms.push_back(ms_between(start, end));
      sh.lag_ms.push_back(std::max(0.0, ms_between(planned, start)));
    } else {
      ++sh.failed;
      sh.last_error = res.error().describe();
    }
    sh.cv.notify_all();
  }
}

Sample Simulation::take_sample(Shared& sh, store::Connection* db, sqs::Client* sqs, double t_s) {
  Sample s;
  s.t_s = t_s;
  if (sqs != nullptr) {
    if (auto d = queue_depth(*sqs, fleet_.queue_url)) {
      s.queue_visible = d->visible;
      s.queue_in_flight = d->in_flight;
    }
  }
  std::optional<StepCounts> counts;
  if (db != nullptr) {
    if (auto c = step_counts(*db, tags_json_)) counts = *c;
    if (fleet_.actuator == nullptr) {
      if (auto w = heartbeat_workers(*db)) s.workers = *w;
    }
  }
  if (fleet_.actuator != nullptr) {
    std::lock_guard lock(actuator_mu_);
    if (auto r = fleet_.actuator->read()) s.workers = r->running;
  }
  if (counts) {
    s.ops_waiting = counts->waiting;
    s.ops_running = counts->running;
    s.ops_done = counts->done;
    s.runs_finished = counts->runs_finished;
  }
  std::lock_guard lock(sh.mu);
  s.runs_submitted = sh.submitted;
  // Completions per second against the last sample that saw the database.
  if (s.ops_done) {
    for (auto it = sh.samples.rbegin(); it != sh.samples.rend(); ++it) {
      if (it->ops_done && s.t_s > it->t_s) {
        s.ops_per_s = static_cast<double>(*s.ops_done - *it->ops_done) / (s.t_s - it->t_s);
        break;
      }
    }
  }
  if (counts) sh.last_counts = counts;
  sh.samples.push_back(s);
  sh.cv.notify_all();
  return s;
}

void Simulation::sampler_loop(Shared& sh) {
  std::unique_ptr<store::Connection> db;
  std::optional<sqs::Client> sqs;
  auto next = t0_;
  for (;;) {
    // A failed connect is retried at the next sample; the sample says what it missed.
    if (!db) {
      if (auto c = fleet_.connect_db()) db = std::move(*c);
    }
    if (!sqs) {
      if (auto c = fleet_.make_sqs()) sqs.emplace(std::move(*c));
    }
    take_sample(sh, db.get(), sqs ? &*sqs : nullptr, seconds_since_start());
    next += options_.sample_interval;
    std::unique_lock lock(sh.mu);
    if (sh.cv.wait_until(lock, next, [&] { return sh.sampler_stop; })) break;
  }
  // The last sample: the state the simulation ends in.
  take_sample(sh, db.get(), sqs ? &*sqs : nullptr, seconds_since_start());
}

void Simulation::inject(const FaultAction& a, Report& report, double t_s) {
  const auto& sc = options_.scenario;
  if (a.kind == ActionKind::kKillWorkers) {
    for (int i = 0; i < a.count; ++i) {
      FaultRecord f{"loadsim", "kill_worker", t_s, std::nullopt, true, ""};
      Result<std::string> killed = fail(Error::internal("no actuator"));
      {
        std::lock_guard lock(actuator_mu_);
        if (fleet_.actuator != nullptr) killed = fleet_.actuator->kill_random_worker();
      }
      if (killed) {
        f.detail = "SIGKILL " + *killed;
        log::info("loadsim_fault", {{"fault", "kill_worker"}, {"killed", *killed}, {"t_s", t_s}});
      } else {
        f.ok = false;
        f.detail = killed.error().describe();
        log::warn("loadsim_fault_failed",
                  {{"fault", "kill_worker"}, {"error", f.detail}, {"t_s", t_s}});
      }
      report.faults.push_back(std::move(f));
    }
    return;
  }
  const auto& w = sc.partitions.at(a.window);
  const auto sockets = partition_sockets(fleet_, w.target);
  if (a.kind == ActionKind::kPartitionStart) {
    FaultRecord f{"loadsim", "partition",
                  t_s,       std::nullopt,
                  true,      fmt::format("{} cut off ({})", scaler::to_string(w.target), w.mode)};
    std::vector<std::string> cut;
    for (const auto& path : sockets) {
      auto r = fleet_.netfault(path, w.mode);
      if (!r) {
        // Half a partition is not the fault the scenario asked for: heal what was cut.
        for (const auto& done : cut) (void)fleet_.netfault(done, "restore");
        f.ok = false;
        f.end_s = t_s;
        f.detail = fmt::format("partition via {}: {}", path, r.error().describe());
        break;
      }
      cut.push_back(path);
    }
    if (f.ok) {
      log::info("loadsim_fault", {{"fault", "partition"},
                                  {"target", scaler::to_string(w.target)},
                                  {"mode", w.mode},
                                  {"t_s", t_s}});
      open_windows_.emplace_back(a.window, report.faults.size());
    } else {
      log::warn("loadsim_fault_failed", {{"fault", "partition"}, {"error", f.detail}});
    }
    report.faults.push_back(std::move(f));
    return;
  }
  // kPartitionEnd: heal the window if it opened.
  auto it = std::find_if(open_windows_.begin(), open_windows_.end(),
                         [&](const auto& p) { return p.first == a.window; });
  if (it == open_windows_.end()) return;
  FaultRecord& f = report.faults[it->second];
  open_windows_.erase(it);
  f.end_s = t_s;
  for (const auto& path : sockets) {
    if (auto r = fleet_.netfault(path, "restore"); !r) {
      f.ok = false;
      f.detail += fmt::format("; healing via {} failed: {}", path, r.error().describe());
      log::warn("loadsim_heal_failed", {{"socket", path}, {"error", r.error().describe()}});
    }
  }
  log::info("loadsim_fault_healed", {{"fault", "partition"}, {"t_s", t_s}});
}

Result<Report> Simulation::run() {
  OPFLEET_TRY_STATUS(check());
  OPFLEET_TRY(auto db, fleet_.connect_db());
  OPFLEET_TRY(auto start, db_now(*db));

  Report report;
  report.scenario = options_.scenario;
  report.tag = "loadsim=" + options_.id;
  report.started_at = start.iso;
  report.start_epoch = start.epoch;
  const auto arrivals = plan_arrivals(options_.scenario);
  const auto faults = plan_faults(options_.scenario);
  report.planned = static_cast<std::int64_t>(arrivals.size());
  log::info("loadsim_started", {{"scenario", options_.scenario.name},
                                {"tag", report.tag},
                                {"planned_runs", report.planned},
                                {"faults", faults.size()}});

  Shared sh;
  t0_ = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(options_.submitters) + 1);
  threads.emplace_back([&] { sampler_loop(sh); });
  for (int i = 0; i < options_.submitters; ++i) threads.emplace_back([&] { submitter_loop(sh); });

  // The timeline: submissions and faults merged by time (a fault first on a tie).
  std::size_t ai = 0;
  std::size_t fi = 0;
  bool stopped = false;
  while (!stopped && (ai < arrivals.size() || fi < faults.size())) {
    const bool fault_next =
        fi < faults.size() && (ai >= arrivals.size() || faults[fi].at <= arrivals[ai].at);
    const Millis at = fault_next ? faults[fi].at : arrivals[ai].at;
    const auto when = t0_ + at;
    if (!wait_until(when)) {
      stopped = true;
      break;
    }
    if (fault_next) {
      inject(faults[fi++], report, seconds_since_start());
    } else {
      std::lock_guard lock(sh.mu);
      sh.due.emplace_back(when, options_.registry->find(arrivals[ai++].job));
      sh.cv.notify_all();
    }
  }
  {
    std::unique_lock lock(sh.mu);
    sh.closed = true;
    if (stopped) sh.due.clear();
    sh.cv.notify_all();
    sh.cv.wait(lock, [&] { return sh.due.empty() && sh.in_progress == 0; });
  }
  report.submit_end_s = seconds_since_start();
  // Nothing simulated outlives the simulation (a stop cut the timeline short).
  for (const auto& [window, index] : std::vector(open_windows_)) {
    inject({Millis(0), ActionKind::kPartitionEnd, 0, window}, report, seconds_since_start());
  }

  if (!stopped) {
    log::info("loadsim_submissions_done",
              {{"submitted", sh.submitted}, {"failed", sh.failed}, {"t_s", report.submit_end_s}});
    const auto deadline = std::chrono::steady_clock::now() + options_.settle_timeout;
    std::unique_lock lock(sh.mu);
    // The sampler notifies after each sample; a stop request is seen within one interval.
    while (!sh.settled() && std::chrono::steady_clock::now() < deadline) {
      sh.cv.wait_until(lock, deadline);
      std::lock_guard stop_lock(stop_mu_);
      if (stop_) {
        stopped = true;
        break;
      }
    }
    report.settled = sh.settled();
  }
  {
    std::lock_guard lock(sh.mu);
    sh.sampler_stop = true;
    sh.cv.notify_all();
  }
  for (auto& t : threads) t.join();

  report.interrupted = stopped;
  report.submitted = sh.submitted;
  report.submit_failed = sh.failed;
  report.last_submit_error = sh.last_error;
  report.submit_ms = std::move(sh.submit_ms);
  report.submit_lag_ms = std::move(sh.lag_ms);
  report.samples = std::move(sh.samples);

  // The record, read after the fact from the database.
  if (auto r = load_runs(*db, tags_json_))
    report.runs = std::move(*r);
  else
    log::warn("loadsim_read_failed", {{"what", "runs"}, {"error", r.error().describe()}});
  if (auto o = load_ops(*db, tags_json_))
    report.ops = std::move(*o);
  else
    log::warn("loadsim_read_failed", {{"what", "steps"}, {"error", o.error().describe()}});
  if (auto f = load_scaler_faults(*db, report.start_epoch)) {
    report.faults.insert(report.faults.end(), f->begin(), f->end());
    std::stable_sort(report.faults.begin(), report.faults.end(),
                     [](const auto& a, const auto& b) { return a.at_s < b.at_s; });
  } else {
    log::warn("loadsim_read_failed", {{"what", "scaling_events"}, {"error", f.error().describe()}});
  }
  audit::AuditFilter filter;
  filter.tags = {{"loadsim", options_.id}};
  if (auto a = audit::run_audit(*db, filter))
    report.audit = std::move(*a);
  else
    report.audit_error = a.error().describe();
  if (auto end = db_now(*db)) report.finished_at = end->iso;
  report.wall_s = seconds_since_start();
  log::info("loadsim_finished", {{"settled", report.settled},
                                 {"interrupted", report.interrupted},
                                 {"wall_s", report.wall_s}});
  return report;
}

}  // namespace opfleet::loadsim

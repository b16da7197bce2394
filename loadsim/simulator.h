// The load simulator (`opfleet loadsim`, docs/loadsim.md): plays a scenario's timeline
// against a running fleet and reports what happened.
//
//   main thread   walks the timeline: hands each submission to the submitters at its
//                 time, injects each fault at its time (SIGKILL of busy workers through
//                 the actuator; partitions by switching the workers' netfault proxies),
//                 then waits until every submitted run has finished (or settle_timeout)
//   submitters    N threads, each with its own PostgreSQL session and SQS client, create
//                 runs and send their roots (worker::submit_run): concurrent, as many
//                 users would be, so a slow submission does not delay the next ones
//   sampler       every sample_interval: queue depth from SQS, step and run counts from
//                 PostgreSQL, workers from the actuator (or the supervisors' heartbeats)
//
// At the end it reads every run's and step's timings, the faults a scaler injected
// meanwhile, and runs the exactly-once audit over the simulation's runs (by tag).
//
// A stop request (SIGINT/SIGTERM through the command's signal thread) ends the timeline at
// once, heals an open partition, skips the wait, and still reports what there is.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "common/result.h"
#include "jobs/registry.h"
#include "loadsim/plan.h"
#include "loadsim/report.h"
#include "scaler/actuator.h"
#include "scaler/fault_injector.h"
#include "sqs/client.h"
#include "store/connection.h"
#include "worker/submit.h"

namespace opfleet::loadsim {

// How the simulator reaches the fleet. Factories, because each thread needs its own
// PostgreSQL session and SQS client (neither is shared across threads).
struct FleetAccess {
  std::function<Result<std::unique_ptr<store::Connection>>()> connect_db;
  std::function<Result<sqs::Client>()> make_sqs;
  std::string queue_url;
  // Worker kills, and workers over time. Null: no kills possible; workers are read from
  // the supervisors' heartbeat rows.
  scaler::Actuator* actuator = nullptr;
  scaler::NetfaultCommand netfault;  // netfault::send_command unless a test replaces it
  std::string sqs_control;           // control socket of the proxy workers reach SQS by
  std::string pg_control;            // ... and PostgreSQL by
};

struct SimulationOptions {
  Scenario scenario;
  const jobs::Registry* registry = nullptr;
  std::string id;  // the value of the "loadsim" tag every run carries
  worker::Tags extra_tags;
  int submitters = 4;
  Millis sample_interval{1000};
  // After the last submission and the end of the last fault, how long to wait for the
  // runs to finish before reporting the rest as unfinished.
  Millis settle_timeout{120000};
};

class Simulation {
 public:
  Simulation(SimulationOptions options, FleetAccess fleet);
  // kInvalid before anything happens: a job of the mix the registry does not know, kills
  // without an actuator, a partition without the control socket of its target.
  Status check() const;
  // Plays the scenario; blocks until the report is complete. An error only when the
  // simulation could not start (no database); later failures are in the report.
  Result<Report> run();
  // From any thread.
  void request_stop();

 private:
  struct Shared;  // state the threads share, behind one mutex

  void submitter_loop(Shared& sh);
  void sampler_loop(Shared& sh);
  Sample take_sample(Shared& sh, store::Connection* db, sqs::Client* sqs, double t_s);
  void inject(const FaultAction& a, Report& report, double t_s);
  bool wait_until(std::chrono::steady_clock::time_point t);
  double seconds_since_start() const;

  SimulationOptions options_;
  FleetAccess fleet_;
  std::string tags_json_;
  worker::Tags tags_;
  std::chrono::steady_clock::time_point t0_{};
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::mutex actuator_mu_;  // the actuator is single-threaded; main thread and sampler share it
  // Open partition windows: scenario window index -> report.faults index.
  std::vector<std::pair<std::size_t, std::size_t>> open_windows_;
};

}  // namespace opfleet::loadsim

// The scheduler loop behind `opfleet schedule` (docs/scheduler.md).
//
// Each pass reads, for every schedule, the newest tick recorded in PostgreSQL (by this or
// any other scheduler), plans the due ticks with the catch-up policy (catch_up.h) and
// records each one with its run in one transaction (ticks.h), which is what makes two
// schedulers safe together: a tick that another one recorded first is simply passed over.
// After each commit the run's roots are sent to SQS; a failed send is left to the
// workers' sweeper. Between passes the loop sleeps until the next tick of any schedule,
// on a StopFlag so a stop request (SIGTERM) ends the sleep at once.
//
// Threading: a Scheduler and its Connection belong to one thread.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/retry.h"
#include "jobs/job.h"
#include "jobs/registry.h"
#include "scheduler/catch_up.h"
#include "scheduler/cron.h"
#include "scheduler/scaled_clock.h"
#include "scheduler/stop_flag.h"
#include "sqs/client.h"
#include "store/connection.h"
#include "worker/submit.h"

namespace opfleet::scheduler {

struct Schedule {
  std::string name;  // schedule_ticks.schedule_name
  jobs::JobDef job;
  CronExpr cron;
};

// The schedule name of `job`: the job name at time scale 1, "<job>@x<scale>" otherwise.
// A scaled scheduler lives on a timeline of its own (its clock runs ahead of the wall
// clock), so its ticks must not be mistaken for a real-time scheduler's.
std::string schedule_name(std::string_view job, double time_scale);

// The jobs of `registry` that have a schedule; with `only` non-empty, exactly those jobs
// (each must exist and have a schedule). A bad cron expression fails naming the job.
Result<std::vector<Schedule>> load_schedules(const jobs::Registry& registry,
                                             const std::vector<std::string>& only,
                                             double time_scale);

struct SchedulerOptions {
  CatchUp catch_up = CatchUp::kLatest;
  std::size_t catch_up_limit = kDefaultCatchUpLimit;  // ticks per schedule per pass
  // Wall time after a tick within which submitting it still counts as on time.
  std::chrono::milliseconds misfire_grace{60000};
  worker::Tags tags;  // added to every run
  // Delays between passes after a failure (the database unreachable, say).
  BackoffPolicy retry{Millis(250), Millis(30000), 0};
  // Re-read the clock at least this often while sleeping (a wall clock step, e.g. from
  // NTP, then delays a tick by at most this long).
  std::chrono::milliseconds max_sleep{30000};
};

// Where runs' roots are sent. No client: they are left for the workers' sweeper.
struct Sender {
  sqs::Client* client = nullptr;
  std::string queue_url;
};

struct TickFailure {
  std::string schedule;
  SysSeconds tick_at;
  Error error;
};

struct PassReport {
  int submitted = 0;
  int already_recorded = 0;  // recorded first by another scheduler
  std::int64_t skipped = 0;  // missed ticks the catch-up policy left out
  std::vector<std::string> run_ids;
  std::vector<TickFailure> failures;  // ticks to retry on the next pass
};

class Scheduler {
 public:
  using WallClock = std::function<SysMicros()>;

  Scheduler(store::Connection& db, std::vector<Schedule> schedules, ScaledClock clock,
            SchedulerOptions options, Sender sender = {}, WallClock wall = &wall_now);

  // One pass over every schedule. An error means nothing could be planned (the recorded
  // ticks could not be read); failures of single ticks are in the report, and their
  // schedules' cursors stay before them so the next pass tries them again.
  Result<PassReport> run_pass();

  // Passes until `stop` is requested, sleeping until the next tick in between, or for a
  // back-off delay after a failure (logged here, once per failure).
  void run(StopFlag& stop);

  // Wall time from now to the next tick of any schedule after its cursor (zero when one
  // is due, or before the first pass).
  std::chrono::microseconds time_to_next_tick() const;

  const ScaledClock& clock() const { return clock_; }

 private:
  struct State {
    Schedule schedule;
    std::optional<SysMicros> cursor;  // newest tick dealt with; unset before the first pass
  };

  void plan_and_fire(State& state, std::optional<SysSeconds> last_recorded, SysMicros now_wall,
                     PassReport& report);

  store::Connection& db_;
  std::vector<State> states_;
  ScaledClock clock_;
  SchedulerOptions options_;
  Sender sender_;
  WallClock wall_;
  SysMicros started_;  // schedule time at construction: the cursor of a schedule without history
  const StopFlag* stop_ = nullptr;  // set while run() runs: passes stop between ticks
};

}  // namespace opfleet::scheduler

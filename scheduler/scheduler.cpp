#include "scheduler/scheduler.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/log.h"
#include "scheduler/ticks.h"

namespace opfleet::scheduler {

using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;

namespace {

std::int64_t to_ms(microseconds d) {
  return duration_cast<milliseconds>(d).count();
}

}  // namespace

std::string schedule_name(std::string_view job, double time_scale) {
  if (time_scale == 1.0) return std::string(job);
  return fmt::format("{}@x{}", job, time_scale);
}

Result<std::vector<Schedule>> load_schedules(const jobs::Registry& registry,
                                             const std::vector<std::string>& only,
                                             double time_scale) {
  std::vector<const jobs::JobDef*> chosen;
  if (only.empty()) {
    for (const auto& job : registry.jobs()) {
      if (!job.schedule.empty()) chosen.push_back(&job);
    }
  } else {
    for (const auto& name : only) {
      const jobs::JobDef* job = registry.find(name);
      if (job == nullptr) {
        return fail(Error::invalid(
            fmt::format("unknown job '{}' (known: {})", name, fmt::join(registry.names(), ", "))));
      }
      if (job->schedule.empty()) {
        return fail(Error::invalid(fmt::format("job '{}' has no schedule", name)));
      }
      if (std::find(chosen.begin(), chosen.end(), job) == chosen.end()) chosen.push_back(job);
    }
  }
  std::vector<Schedule> out;
  for (const auto* job : chosen) {
    auto cron = CronExpr::parse(job->schedule);
    if (!cron) {
      return fail(
          Error::invalid(fmt::format("job '{}': schedule: {}", job->name, cron.error().message)));
    }
    out.push_back(Schedule{schedule_name(job->name, time_scale), *job, std::move(*cron)});
  }
  return out;
}

Scheduler::Scheduler(store::Connection& db, std::vector<Schedule> schedules, ScaledClock clock,
                     SchedulerOptions options, Sender sender, WallClock wall)
    : db_(db),
      clock_(clock),
      options_(std::move(options)),
      sender_(std::move(sender)),
      wall_(std::move(wall)),
      started_(clock_.to_schedule(wall_())) {
  states_.reserve(schedules.size());
  for (auto& s : schedules) states_.push_back(State{std::move(s), std::nullopt});
}

Result<PassReport> Scheduler::run_pass() {
  std::vector<std::string> names;
  names.reserve(states_.size());
  for (const auto& st : states_) names.push_back(st.schedule.name);
  OPFLEET_TRY(auto last, last_ticks(db_, names));
  // One reading of the clock per pass: every schedule is planned against the same now.
  const SysMicros now_wall = wall_();
  PassReport report;
  for (auto& st : states_) {
    auto it = last.find(st.schedule.name);
    plan_and_fire(st, it == last.end() ? std::nullopt : std::optional(it->second), now_wall,
                  report);
  }
  return report;
}

void Scheduler::plan_and_fire(State& state, std::optional<SysSeconds> last_recorded,
                              SysMicros now_wall, PassReport& report) {
  const Schedule& sched = state.schedule;
  const SysMicros now = clock_.to_schedule(now_wall);
  // The cursor: what this scheduler already dealt with, or else what is recorded, or else
  // the moment this scheduler started (a schedule without history owes nothing earlier).
  SysMicros cursor = state.cursor.value_or(last_recorded ? SysMicros(*last_recorded) : started_);
  if (last_recorded) cursor = std::max(cursor, SysMicros(*last_recorded));

  const TickPlan plan =
      plan_ticks(sched.cron, cursor, now, clock_.schedule_span(options_.misfire_grace),
                 options_.catch_up, options_.catch_up_limit);
  if (plan.skipped > 0) {
    log::info("ticks_skipped", {{"schedule", sched.name},
                                {"count", plan.skipped},
                                {"count_capped", plan.skipped_capped},
                                {"newest", format_utc(*plan.newest_skipped)},
                                {"catch_up", to_string(options_.catch_up)}});
    report.skipped += plan.skipped;
  }
  for (std::size_t i = 0; i < plan.fire.size(); ++i) {
    const SysSeconds tick = plan.fire[i];
    if (stop_ != nullptr && stop_->requested()) {
      // Stop between ticks (a catch-up pass can hold a hundred): the rest stays due.
      state.cursor = SysMicros(tick) - microseconds(1);
      return;
    }
    auto rec = record_tick(db_, sched.name, tick, sched.job, options_.tags, clock_.scale);
    if (!rec) {
      // Not recorded: the next pass starts just before this tick and tries it again.
      report.failures.push_back(TickFailure{sched.name, tick, std::move(rec).error()});
      state.cursor = SysMicros(tick) - microseconds(1);
      return;
    }
    if (!rec->inserted) {
      ++report.already_recorded;
      log::debug("tick_already_recorded",
                 {{"schedule", sched.name}, {"tick_at", format_utc(tick)}});
      continue;
    }
    int sent = 0;
    if (sender_.client != nullptr) {
      sent = worker::send_roots(db_, *sender_.client, sender_.queue_url, rec->run.roots);
    }
    ++report.submitted;
    report.run_ids.push_back(rec->run.run_id);
    log::info("tick_submitted", {{"schedule", sched.name},
                                 {"job", sched.job.name},
                                 {"tick_at", format_utc(tick)},
                                 {"run_id", rec->run.run_id},
                                 {"roots", static_cast<std::int64_t>(rec->run.roots.size())},
                                 {"sent", sent},
                                 {"missed", static_cast<bool>(plan.missed[i])},
                                 {"late_ms", to_ms(wall_() - clock_.to_wall(SysMicros(tick)))}});
  }
  state.cursor = std::max(cursor, now);
}

microseconds Scheduler::time_to_next_tick() const {
  const SysMicros now_wall = wall_();
  std::optional<microseconds> best;
  for (const auto& st : states_) {
    if (!st.cursor) return microseconds(0);
    const SysSeconds next =
        st.schedule.cron.next_after(std::chrono::floor<std::chrono::seconds>(*st.cursor));
    const microseconds wait = clock_.to_wall(SysMicros(next)) - now_wall;
    best = best ? std::min(*best, wait) : wait;
  }
  if (!best || *best >= options_.max_sleep) return options_.max_sleep;
  // Wake a millisecond after the tick, never just before it (the clock mapping rounds to
  // microseconds), so a wake-up always finds its tick due.
  return *best > microseconds(0) ? *best + milliseconds(1) : microseconds(0);
}

void Scheduler::run(StopFlag& stop) {
  stop_ = &stop;
  Backoff backoff(options_.retry);
  int failures = 0;
  while (!stop.requested()) {
    auto pass = run_pass();
    microseconds wait{0};
    if (pass && pass->failures.empty()) {
      failures = 0;
      wait = time_to_next_tick();
      log::debug("scheduler_sleep", {{"wake_in_ms", to_ms(wait)}});
    } else {
      // Never a zero delay: full jitter can draw one, and a down database would then be
      // hammered in a loop.
      const milliseconds delay = std::max(backoff.delay(std::min(failures, 30)), milliseconds(50));
      ++failures;
      if (!pass) {
        log::warn("schedule_pass_failed", {{"error", pass.error().describe()},
                                           {"retryable", pass.error().retryable},
                                           {"retry_in_ms", delay.count()}});
      } else {
        for (const auto& f : pass->failures) {
          log::warn("tick_failed", {{"schedule", f.schedule},
                                    {"tick_at", format_utc(f.tick_at)},
                                    {"error", f.error.describe()},
                                    {"retryable", f.error.retryable},
                                    {"retry_in_ms", delay.count()}});
        }
      }
      wait = delay;
    }
    if (stop.wait_for(wait)) break;
  }
  stop_ = nullptr;
}

}  // namespace opfleet::scheduler

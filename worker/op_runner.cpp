#include "worker/op_runner.h"

#include <chrono>
#include <random>
#include <variant>

#include <fmt/format.h>

#include "jobs/job.h"
#include "jobs/sampling.h"
#include "worker/command_runner.h"

namespace opfleet::worker {
namespace {

using Clock = std::chrono::steady_clock;

std::mt19937_64& rng() {
  thread_local std::mt19937_64 r{std::random_device{}()};
  return r;
}

OpResult stopped(StopReason why) {
  OpResult r;
  r.status = OpResult::Status::kStopped;
  r.stop_reason = why;
  return r;
}

OpResult failed(std::string error) {
  OpResult r;
  r.status = OpResult::Status::kFailed;
  r.error = std::move(error);
  return r;
}

// Sleeps for a sampled duration; stops early on cancellation or self-fencing.
std::optional<OpResult> sleep_for(const jobs::SleepParams& p, const OpContext& ctx,
                                  CancelToken& token, double* slept_ms) {
  auto d = jobs::sample_duration(p, ctx.time_scale, rng());
  if (auto why = token.wait_until(Clock::now() + d); why != StopReason::kNone) return stopped(why);
  *slept_ms = std::chrono::duration<double, std::milli>(d).count();
  return std::nullopt;
}

OpResult run(const jobs::SleepParams& p, const OpContext& ctx, CancelToken& token) {
  double slept = 0;
  if (auto s = sleep_for(p, ctx, token, &slept)) return *s;
  OpResult r;
  r.status = OpResult::Status::kSucceeded;
  r.result = {{"slept_ms", slept}};
  return r;
}

OpResult run(const jobs::FailParams& p, const OpContext& ctx, CancelToken& token) {
  double slept = 0;
  if (auto s = sleep_for(p.sleep, ctx, token, &slept)) return *s;
  if (jobs::fails_on_attempt(p, ctx.attempt)) {
    return failed(p.always ? fmt::format("injected failure (attempt {}, fails always)", ctx.attempt)
                           : fmt::format("injected failure (attempt {} of the first {})",
                                         ctx.attempt, p.fail_attempts));
  }
  OpResult r;
  r.status = OpResult::Status::kSucceeded;
  r.result = {{"failed_attempts_before", ctx.attempt - 1}, {"slept_ms", slept}};
  return r;
}

OpResult run(const jobs::CommandParams& p, const OpContext& ctx, CancelToken& token) {
  CommandSpec spec;
  spec.argv = p.argv;
  spec.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(p.timeout_s * 1000));
  spec.max_output_bytes = p.max_output_bytes;
  static const std::vector<std::string> kNone;
  auto res = run_command(spec, ctx.command_allow_list ? *ctx.command_allow_list : kNone, token);
  if (!res) return failed(res.error().message);
  if (res->stopped != StopReason::kNone) return stopped(res->stopped);
  OpResult r;
  r.result = {{"exit_code", res->exit_code},
              {"signal", res->signal},
              {"stdout", res->stdout_text},
              {"stderr", res->stderr_text},
              {"stdout_truncated", res->stdout_truncated},
              {"stderr_truncated", res->stderr_truncated},
              {"elapsed_ms", res->elapsed.count()}};
  if (res->timed_out) {
    r.error = fmt::format("command timed out after {} ms", spec.timeout.count());
  } else if (res->signal != 0) {
    r.error = fmt::format("command killed by signal {}", res->signal);
  } else if (res->exit_code != 0) {
    r.error = fmt::format("command exited with status {}", res->exit_code);
  } else {
    r.status = OpResult::Status::kSucceeded;
  }
  return r;
}

}  // namespace

OpResult run_op(const nlohmann::json& op, const OpContext& ctx, CancelToken& token) {
  // The spec comes from the steps row; validate it as strictly as a job file.
  auto params = jobs::parse_op_spec(op);
  if (!params) return failed(fmt::format("invalid op spec: {}", params.error().message));
  return std::visit([&](const auto& p) { return run(p, ctx, token); }, *params);
}

}  // namespace opfleet::worker

#include "worker/op_runner.h"

#include <algorithm>
#include <chrono>
#include <random>

#include <fmt/format.h>

#include "worker/command_runner.h"

namespace opfleet::worker {
namespace {

using Clock = std::chrono::steady_clock;

double number(const nlohmann::json& op, const char* name, double fallback) {
  auto it = op.find(name);
  return it != op.end() && it->is_number() ? it->get<double>() : fallback;
}

// Uniform in [mean - jitter, mean + jitter] (never negative), times the time scale.
std::chrono::microseconds sample_duration(const nlohmann::json& op, double time_scale) {
  double mean = number(op, "mean_s", 0);
  double jitter = number(op, "jitter_s", 0);
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> dist(std::max(0.0, mean - jitter), mean + jitter);
  double s = (jitter > 0 ? dist(rng) : mean) * time_scale;
  return std::chrono::microseconds(static_cast<std::int64_t>(std::max(0.0, s) * 1e6));
}

OpResult stopped(StopReason why) {
  OpResult r;
  r.status = OpResult::Status::kStopped;
  r.stop_reason = why;
  return r;
}

OpResult run_sleep(const nlohmann::json& op, const OpContext& ctx, CancelToken& token) {
  auto d = sample_duration(op, ctx.time_scale);
  auto start = Clock::now();
  if (auto why = token.wait_until(start + d); why != StopReason::kNone) return stopped(why);
  OpResult r;
  r.status = OpResult::Status::kSucceeded;
  r.result = {{"slept_ms", std::chrono::duration<double, std::milli>(d).count()}};
  return r;
}

OpResult run_fail(const nlohmann::json& op, const OpContext& ctx, CancelToken& token) {
  // Optionally behaves like a sleep first, so a failing op can also take time.
  auto d = sample_duration(op, ctx.time_scale);
  if (d.count() > 0) {
    if (auto why = token.wait_until(Clock::now() + d); why != StopReason::kNone) {
      return stopped(why);
    }
  }
  auto fa = op.find("fail_attempts");
  bool always = fa == op.end() || (fa->is_string() && fa->get<std::string>() == "always");
  int fail_first = always ? 0 : (fa->is_number_integer() ? fa->get<int>() : 0);
  OpResult r;
  if (always || ctx.attempt <= fail_first) {
    r.status = OpResult::Status::kFailed;
    r.error = always ? fmt::format("injected failure (attempt {}, fails always)", ctx.attempt)
                     : fmt::format("injected failure (attempt {} of the first {})", ctx.attempt,
                                   fail_first);
    return r;
  }
  r.status = OpResult::Status::kSucceeded;
  r.result = {{"failed_attempts_before", fail_first}};
  return r;
}

OpResult run_command_op(const nlohmann::json& op, const OpContext& ctx, CancelToken& token) {
  OpResult r;
  CommandSpec spec;
  auto argv = op.find("argv");
  if (argv == op.end() || !argv->is_array()) {
    r.error = "command op without an argv array";
    return r;
  }
  for (const auto& a : *argv) {
    if (!a.is_string()) {
      r.error = "command op argv must hold strings";
      return r;
    }
    spec.argv.push_back(a.get<std::string>());
  }
  spec.timeout = std::chrono::milliseconds(
      static_cast<std::int64_t>(number(op, "timeout_s", 60) * 1000));
  spec.max_output_bytes = static_cast<std::size_t>(number(op, "max_output_bytes", 16384));
  static const std::vector<std::string> kNone;
  auto res = run_command(spec, ctx.command_allow_list ? *ctx.command_allow_list : kNone, token);
  if (!res) {
    r.error = res.error().message;
    return r;
  }
  if (res->stopped != StopReason::kNone) return stopped(res->stopped);
  r.result = {{"exit_code", res->exit_code},
              {"signal", res->signal},
              {"stdout", res->stdout_text},
              {"stderr", res->stderr_text},
              {"stdout_truncated", res->stdout_truncated},
              {"stderr_truncated", res->stderr_truncated},
              {"elapsed_ms", res->elapsed.count()}};
  if (res->timed_out) {
    r.error = fmt::format("command timed out after {} ms", spec.timeout.count());
  } else if (res->exit_code != 0) {
    r.error = res->signal != 0 ? fmt::format("command killed by signal {}", res->signal)
                               : fmt::format("command exited with status {}", res->exit_code);
  } else {
    r.status = OpResult::Status::kSucceeded;
  }
  return r;
}

}  // namespace

OpResult run_op(const nlohmann::json& op, const OpContext& ctx, CancelToken& token) {
  auto kind = op.find("kind");
  if (kind == op.end() || !kind->is_string()) {
    OpResult r;
    r.error = "op has no kind";
    return r;
  }
  const auto& k = kind->get_ref<const std::string&>();
  if (k == "sleep") return run_sleep(op, ctx, token);
  if (k == "fail") return run_fail(op, ctx, token);
  if (k == "command") return run_command_op(op, ctx, token);
  OpResult r;
  r.error = fmt::format("unknown op kind '{}'", k);
  return r;
}

}  // namespace opfleet::worker

// `opfleet status`, `opfleet drain`, `opfleet resume`: control of a running supervisor
// from another process (supervisor/control.h), by --instance. `opfleet scale --instance X
// --workers N` lives with the scaler (scaler/scale_command.cpp), which shares its name.
#include <signal.h>

#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "cli/exit_codes.h"
#include "cli/subcommands.h"
#include "common/log.h"
#include "common/proc.h"
#include "config/config.h"
#include "config/validate.h"
#include "supervisor/control.h"
#include "supervisor/instance_status.h"

namespace opfleet::cli {

namespace {

namespace po = boost::program_options;

po::options_description instance_option() {
  po::options_description d("instance");
  d.add_options()("instance", config::non_empty_string()->value_name("NAME")->required(),
                  "the supervisor instance (as given to `opfleet supervise --instance`)");
  return d;
}

// clang-format off
config::CommandSpec status_spec() {
  config::CommandSpec spec;
  spec.name = "status";
  spec.usage = "opfleet status --instance NAME [--json]";
  spec.summary = "Shows a supervisor's workers (pid, state, busy slots, heartbeat age), the ops "
                 "in flight (key, age) and counters, read from its shared memory.";
  po::options_description own("status options");
  own.add_options()("json", po::bool_switch(), "one JSON object instead of text");
  spec.options.add(config::general_options()).add(instance_option()).add(own);
  return spec;
}

config::CommandSpec drain_spec() {
  config::CommandSpec spec;
  spec.name = "drain";
  spec.usage = "opfleet drain --instance NAME [--wait] [--exit] [--timeout-s S]";
  spec.summary = "Stops a supervisor's workers from taking new messages; in-flight ops finish. "
                 "The supervisor stays up (`opfleet resume` undoes it) unless --exit is given, "
                 "which drains and stops it (like SIGTERM).";
  po::options_description own("drain options");
  own.add_options()
      ("wait", po::bool_switch(), "return only once no op is in flight (with --exit: once the "
                                  "supervisor has exited)")
      ("exit", po::bool_switch(), "drain and stop the supervisor")
      ("timeout-s", config::positive_int()->value_name("S")->default_value(600),
       "with --wait: give up (exit 1) after this long");
  spec.options.add(config::general_options()).add(instance_option()).add(own);
  return spec;
}

config::CommandSpec resume_spec() {
  config::CommandSpec spec;
  spec.name = "resume";
  spec.usage = "opfleet resume --instance NAME";
  spec.summary = "Lets a drained (paused) supervisor's workers take messages again.";
  spec.options.add(config::general_options()).add(instance_option());
  return spec;
}

// clang-format on

const config::Registration kStatusSpec(&status_spec);
const config::Registration kDrainSpec(&drain_spec);
const config::Registration kResumeSpec(&resume_spec);

// Exit code and message for a failed look-up of the supervisor.
int no_supervisor(const Error& e) {
  fmt::print(stderr, "opfleet: {}\n", e.message);
  return e.kind == ErrorKind::kNotFound || e.kind == ErrorKind::kUnavailable ? kExitUnavailable
                                                                             : kExitFailure;
}

std::uint64_t in_flight(const shm::Segment& s) {
  std::uint64_t n = 0;
  for (const auto& w : s.workers) n += supervisor::count_claims(w);
  return n;
}

// Polls shared memory (the only view another process has) until `done` or the timeout.
template <class F>
bool wait_until(F&& done, std::chrono::seconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

}  // namespace

int run_status(int argc, char** argv) {
  config::Parsed parsed;
  if (int rc = config::parse_or_exit(status_spec(), argc, argv, &parsed); rc >= 0) return rc;
  const std::string instance = parsed.vm["instance"].as<std::string>();
  auto link = supervisor::find_supervisor(instance);
  if (!link) return no_supervisor(link.error());
  auto status = supervisor::read_status(*link->segment.get(), instance, monotonic_ns());
  if (parsed.vm["json"].as<bool>()) {
    fmt::print("{}\n", supervisor::to_json(status).dump(2));
  } else {
    fmt::print("{}", supervisor::to_text(status));
  }
  return kExitOk;
}

int run_drain(int argc, char** argv) {
  config::Parsed parsed;
  if (int rc = config::parse_or_exit(drain_spec(), argc, argv, &parsed); rc >= 0) return rc;
  const std::string instance = parsed.vm["instance"].as<std::string>();
  const bool exit_too = parsed.vm["exit"].as<bool>();
  const auto timeout = std::chrono::seconds(parsed.vm["timeout-s"].as<int>());
  auto link = supervisor::find_supervisor(instance);
  if (!link) return no_supervisor(link.error());
  if (auto st = supervisor::signal_supervisor(*link, exit_too ? SIGTERM : SIGUSR1); !st) {
    fmt::print(stderr, "opfleet drain: {}\n", st.error().message);
    return kExitFailure;
  }
  if (!parsed.vm["wait"].as<bool>()) return kExitOk;
  const std::uint64_t ticks = link->segment->header.supervisor_start_ticks.load();
  // Gone, or done: the supervisor unlinks its segment as the last thing before it exits
  // (a zombie still looks alive until its parent reaps it).
  auto exited = [&] {
    if (!process_alive(link->pid, ticks)) return true;
    auto again = shm::SegmentHandle::attach(instance);
    return !again && again.error().kind == ErrorKind::kNotFound;
  };
  bool done = exit_too ? wait_until(exited, timeout)
                       : wait_until([&] { return in_flight(*link->segment.get()) == 0; }, timeout);
  if (!done) {
    fmt::print(stderr, "opfleet drain: still {} after {} s\n",
               exit_too ? "running" : "ops in flight", timeout.count());
    return kExitFailure;
  }
  return kExitOk;
}

int run_resume(int argc, char** argv) {
  config::Parsed parsed;
  if (int rc = config::parse_or_exit(resume_spec(), argc, argv, &parsed); rc >= 0) return rc;
  auto link = supervisor::find_supervisor(parsed.vm["instance"].as<std::string>());
  if (!link) return no_supervisor(link.error());
  if (auto st = supervisor::signal_supervisor(*link, SIGUSR2); !st) {
    fmt::print(stderr, "opfleet resume: {}\n", st.error().message);
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace opfleet::cli

#include "worker/worker_options.h"

#include <unistd.h>

#include <boost/algorithm/string.hpp>
#include <fmt/format.h>

#include "config/validate.h"

namespace opfleet::worker {

namespace po = boost::program_options;

po::options_description worker_options() {
  po::options_description d("worker options");
  d.add_options()
      ("slots", config::positive_int()->value_name("N")->default_value(4),
       "ops one worker runs at once")
      ("lease-ms", config::positive_int()->value_name("MS")->default_value(30000),
       "lease of a running step in PostgreSQL (and the message's visibility); renewed every "
       "third of it")
      ("fence-margin-ms", config::non_negative_int()->value_name("MS")->default_value(0),
       "an op whose lease was not renewed stops this long before the lease expires "
       "(0 = a sixth of the lease)")
      ("drain-timeout-s", config::non_negative_int()->value_name("S")->default_value(30),
       "on SIGTERM, in-flight ops may finish for this long; the rest are handed back")
      ("receive-wait-s", config::non_negative_int()->value_name("S")->default_value(20),
       "long-poll wait of ReceiveMessage (0..20)")
      ("retry-base-ms", config::positive_int()->value_name("MS")->default_value(1000),
       "a failed op is retried after base * 2^(attempt-1), capped by --retry-cap-ms")
      ("retry-cap-ms", config::positive_int()->value_name("MS")->default_value(60000),
       "the longest wait before retrying a failed op")
      ("sweep-interval-ms", config::positive_int()->value_name("MS")->default_value(5000),
       "how often a worker re-sends steps left queued but unsent")
      ("command-allow", po::value<std::string>()->value_name("LIST")->default_value("", ""),
       "comma-separated programs that `command` ops may run (empty: none)")
      ("worker-id", po::value<std::string>()->value_name("ID")->default_value("", ""),
       "identity in leases and the attempts log (default: <host>/<pid>)");
  return d;
}

std::string host_name() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown-host";
  return buf;
}

Result<WorkerConfig> worker_config_from(const po::variables_map& vm) {
  WorkerConfig c;
  c.slots = vm["slots"].as<int>();
  if (c.slots > 16) return fail(Error::invalid("--slots: at most 16 ops per worker"));
  c.lease = milliseconds(vm["lease-ms"].as<int>());
  if (c.lease < milliseconds(3000)) return fail(Error::invalid("--lease-ms: at least 3000"));
  int margin = vm["fence-margin-ms"].as<int>();
  c.fence_margin = margin > 0 ? milliseconds(margin) : c.lease / 6;
  if (c.fence_margin >= c.lease / 3 * 2) {
    return fail(Error::invalid("--fence-margin-ms: must be under two thirds of --lease-ms"));
  }
  c.drain_timeout = std::chrono::seconds(vm["drain-timeout-s"].as<int>());
  c.receive_wait_s = vm["receive-wait-s"].as<int>();
  if (c.receive_wait_s > 20) return fail(Error::invalid("--receive-wait-s: at most 20"));
  c.retry.base = milliseconds(vm["retry-base-ms"].as<int>());
  c.retry.cap = milliseconds(vm["retry-cap-ms"].as<int>());
  c.sweep_interval = milliseconds(vm["sweep-interval-ms"].as<int>());
  auto allow = vm["command-allow"].as<std::string>();
  if (!allow.empty()) {
    boost::split(c.command_allow_list, allow, boost::is_any_of(","));
    for (auto& p : c.command_allow_list) boost::trim(p);
  }
  c.identity.host = host_name();
  c.identity.pid = static_cast<int>(getpid());
  c.identity.worker_id = vm["worker-id"].as<std::string>();
  if (c.identity.worker_id.empty()) {
    c.identity.worker_id = fmt::format("{}/{}", c.identity.host, c.identity.pid);
  }
  return c;
}

}  // namespace opfleet::worker

#include "tests/config/test_specs.h"

#include <chrono>

#include "config/validate.h"

namespace opfleet::config::test {

using namespace std::chrono_literals;

CommandSpec worker_spec() {
  po::options_description own("testworker options");
  // clang-format off
  own.add_options()
      ("slots", positive_int()->default_value(4), "ops run at once")
      ("mode", one_of({"ecs", "local"})->default_value("local"), "actuator")
      ("lease", duration(1s)->default_value(30s, "30s"), "lease length")
      ("allow", po::value<std::vector<std::string>>()->composing(), "allowed commands")
      ("api-token", po::value<std::string>()->default_value("", ""), "a secret")
      ("dry-run", po::bool_switch(), "do nothing");
  // clang-format on
  po::options_description all;
  all.add(database_options()).add(aws_options()).add(own);
  po::options_description hidden;
  hidden.add_options()("job", po::value<std::string>(), "job to run");
  po::positional_options_description positional;
  positional.add("job", 1);
  return {"testworker", "opfleet testworker [options] [JOB]", "Runs test ops.", all, positional,
          hidden};
}

CommandSpec scaler_spec() {
  po::options_description own("testscaler options");
  own.add_options()("min-workers", non_negative_int()->default_value(0), "fewest workers");
  po::options_description all;
  all.add(aws_options()).add(own);
  return {"testscaler", "", "Scales test workers.", all, {}, {}};
}

const Registration kWorker(&worker_spec);
const Registration kScaler(&scaler_spec);

}  // namespace opfleet::config::test

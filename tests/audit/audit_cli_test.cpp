// `opfleet audit` as a process: runs completed by a real `opfleet worker` pass, a planted
// duplicate completion fails and is named, --tag and --since select, and the exit codes.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/exit_codes.h"
#include "tests/audit/audit_plant.h"
#include "tests/config/run_binary.h"
#include "tests/store/scratch_database.h"
#include "tests/support/fleet_fixture.h"

namespace opfleet::audit {
namespace {

using opfleet::testing::Fleet;
using opfleet::testing::run_opfleet;
using std::chrono::seconds;

class AuditCli : public ::testing::Test {
 protected:
  testing::RunResult audit(std::vector<std::string> args) {
    args.insert(args.begin(), {"audit", "--database-url", fleet_.database_url()});
    return run_opfleet(args);
  }

  static nlohmann::json parse(const testing::RunResult& r) {
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    if (j.is_discarded()) throw std::runtime_error("not JSON: " + r.out + r.err);
    return j;
  }

  Fleet fleet_;
};

TEST_F(AuditCli, RealRunsPassAndAPlantedDuplicateFails) {
  fleet_.start_worker({.slots = 4});
  const auto fast = fleet_.submit(Fleet::builtin("fast_job"), 0.002);
  const auto mixed = fleet_.submit(Fleet::builtin("mixed_job"), 0.002);
  ASSERT_EQ(fleet_.wait_run(fast), "succeeded");
  ASSERT_EQ(fleet_.wait_run(mixed), "succeeded");
  ASSERT_TRUE(fleet_.db().exec("UPDATE runs SET tags = '{\"scenario\": \"real\"}'"));

  auto clean = audit({"--json"});
  ASSERT_EQ(clean.exit_code, cli::kExitOk) << clean.out << clean.err;
  auto j = parse(clean);
  EXPECT_TRUE(j.at("ok").get<bool>());
  EXPECT_EQ(j.at("runs").get<int>(), 2);
  EXPECT_EQ(j.at("steps").get<int>(), 2 + 3);
  EXPECT_GE(j.at("executions").get<int>(), 5);
  EXPECT_TRUE(j.at("violations").at("duplicates").empty());

  // A second completion of one key, in a run of its own.
  testing::Planter plant(fleet_.db());
  const auto bad = plant.run("succeeded", "1 minute", R"({"scenario": "planted"})");
  plant.step(bad, "load", "succeeded");
  plant.attempt(bad, "load", 1, "succeeded", "50 seconds", "40 seconds");
  plant.attempt(bad, "load", 2, "succeeded", "30 seconds", "20 seconds");

  auto failed = audit({});
  EXPECT_EQ(failed.exit_code, cli::kExitFailure) << failed.out << failed.err;
  EXPECT_NE(failed.out.find("DUPLICATES (1)"), std::string::npos) << failed.out;
  EXPECT_NE(failed.out.find(bad + "#load"), std::string::npos) << failed.out;
  EXPECT_NE(failed.out.find("completed_twice"), std::string::npos) << failed.out;

  auto planted = audit({"--tag", "scenario=planted", "--json"});
  EXPECT_EQ(planted.exit_code, cli::kExitFailure);
  j = parse(planted);
  EXPECT_FALSE(j.at("ok").get<bool>());
  EXPECT_EQ(j.at("runs").get<int>(), 1);
  ASSERT_EQ(j.at("violations").at("duplicates").size(), 1u);
  EXPECT_EQ(j.at("violations").at("duplicates")[0].at("key").get<std::string>(), bad + "#load");
  EXPECT_EQ(j.at("violations").at("duplicates")[0].at("succeeded_executions").get<int>(), 2);

  auto real = audit({"--tag", "scenario=real"});
  EXPECT_EQ(real.exit_code, cli::kExitOk) << real.out;
  EXPECT_NE(real.out.find("OK: no violations"), std::string::npos) << real.out;

  // --since: a duration back from now, or a UTC time.
  EXPECT_EQ(audit({"--since", "1h"}).exit_code, cli::kExitFailure);
  auto future = audit({"--since", "2999-01-01T00:00:00Z", "--json"});
  EXPECT_EQ(future.exit_code, cli::kExitOk);
  EXPECT_EQ(parse(future).at("runs").get<int>(), 0);
}

TEST_F(AuditCli, ExitCodesForBadInput) {
  auto since = audit({"--since", "the day before yesterday"});
  EXPECT_EQ(since.exit_code, cli::kExitUsage) << since.err;
  EXPECT_NE(since.err.find("--since"), std::string::npos) << since.err;
  EXPECT_EQ(audit({"--tag", "no-equals-sign"}).exit_code, cli::kExitUsage);
  EXPECT_EQ(audit({"--lost-after", "soon"}).exit_code, cli::kExitUsage);
  auto down = run_opfleet({"audit", "--database-url", "postgresql://opfleet@127.0.0.1:1/none",
                           "--db-connect-timeout-s", "2"});
  EXPECT_EQ(down.exit_code, cli::kExitUnavailable) << down.err;
  {
    testing::ScratchDatabase empty("opfleet_audit_empty");
    auto unmigrated = run_opfleet({"audit", "--database-url", empty.url()});
    EXPECT_EQ(unmigrated.exit_code, cli::kExitConfig) << unmigrated.err;
    EXPECT_NE(unmigrated.err.find("opfleet migrate"), std::string::npos) << unmigrated.err;
  }
  EXPECT_EQ(audit({}).exit_code, cli::kExitOk);  // an empty database is clean
}

}  // namespace
}  // namespace opfleet::audit

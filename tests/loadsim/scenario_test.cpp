// Scenarios: the built-ins' shapes, scenario files, flag overrides, and the errors that
// name the offending field.
#include <gtest/gtest.h>

#include "loadsim/scenario.h"

namespace opfleet::loadsim {
namespace {

using namespace std::chrono_literals;

nlohmann::json parse(const char* text) {
  return nlohmann::json::parse(text);
}

TEST(Scenario, BuiltinsAreFractionsOfTheDuration) {
  auto wf = builtin("worker-failure", 40s).value();
  EXPECT_EQ(wf.kill_every, 10s);
  EXPECT_EQ(wf.kill_start, 10s);
  auto np = builtin("network-partition", 100s).value();
  ASSERT_EQ(np.partitions.size(), 1u);
  EXPECT_EQ(np.partitions[0].at, 30s);
  EXPECT_EQ(np.partitions[0].length, 25s);
  EXPECT_EQ(np.partitions[0].target, PartitionTarget::kBoth);
  auto burst = builtin("burst", 30s).value();
  EXPECT_TRUE(burst.burst.enabled());
  EXPECT_EQ(burst.burst.every, 10s);
  EXPECT_EQ(burst.burst.length, 2s);
  EXPECT_EQ(burst.burst.factor, 5);
  auto mixed = builtin("mixed", 30s).value();
  EXPECT_EQ(mixed.mix,
            (std::vector<JobShare>{{"fast_job", 0.7}, {"slow_job", 0.2}, {"mixed_job", 0.1}}));
  for (const auto& name : builtin_names()) {
    auto s = make_scenario(name, {});
    ASSERT_TRUE(s) << name << ": " << s.error().message;
    EXPECT_EQ(s->duration, 60s);
  }
}

TEST(Scenario, UnknownBuiltinNamesTheKnownOnes) {
  auto s = builtin("stedy", 10s);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("steady, burst, mixed"), std::string::npos);
}

TEST(Scenario, OverridesWinAndBuiltinDefaultsFollowTheOverriddenDuration) {
  Overrides o;
  o.duration = 8s;
  o.rate = 2.5;
  o.time_scale = 0.01;
  o.mix = std::vector<JobShare>{{"slow_job", 1}};
  o.kill_at = {1s};
  auto s = make_scenario("worker-failure", o).value();
  EXPECT_EQ(s.duration, 8s);
  EXPECT_EQ(s.kill_every, 2s);  // a quarter of the overridden duration
  EXPECT_EQ(s.rate, 2.5);
  EXPECT_EQ(s.time_scale, 0.01);
  EXPECT_EQ(s.mix.size(), 1u);
  EXPECT_EQ(s.kill_at, std::vector<Millis>{1s});
}

TEST(Scenario, FileWithABaseAndEveryField) {
  auto s = make_scenario(parse(R"({
      "name": "demo", "base": "mixed", "duration": "2m", "rate": 0.5, "time_scale": 0.01,
      "arrivals": "poisson", "seed": 7,
      "burst": {"every": "40s", "length": "5s", "factor": 3},
      "kill_every": "30s", "kill_count": 2, "kill_at": ["5s", 1.5],
      "partitions": [{"at": "60s", "length": 20, "target": "sqs", "mode": "reject"}]})"),
                         "demo.json", {})
               .value();
  EXPECT_EQ(s.name, "demo");
  EXPECT_EQ(s.duration, 120s);
  EXPECT_EQ(s.mix.size(), 3u);  // from the base
  EXPECT_EQ(s.arrivals, Arrivals::kPoisson);
  EXPECT_EQ(s.seed, 7u);
  EXPECT_EQ(s.burst.start, 20s);  // half a period by default
  EXPECT_EQ(s.burst.factor, 3);
  EXPECT_EQ(s.kill_start, 30s);
  EXPECT_EQ(s.kill_count, 2);
  EXPECT_EQ(s.kill_at, (std::vector<Millis>{1500ms, 5s}));
  ASSERT_EQ(s.partitions.size(), 1u);
  EXPECT_EQ(s.partitions[0].length, 20s);
  EXPECT_EQ(s.partitions[0].target, PartitionTarget::kSqs);
  EXPECT_EQ(s.partitions[0].mode, "reject");
  // The report's copy reads back to the same scenario.
  auto again = make_scenario(to_json(s), "copy", {}).value();
  EXPECT_EQ(to_json(again), to_json(s));
}

TEST(Scenario, FileErrorsNameTheFileAndTheKey) {
  const auto error = [](const char* text) {
    auto s = make_scenario(nlohmann::json::parse(text), "bad.json", {});
    EXPECT_FALSE(s) << text;
    return s ? std::string() : s.error().message;
  };
  EXPECT_NE(error(R"({"rate": 1, "mix": {"fast_job": 1}, "ratee": 2})").find("\"ratee\""),
            std::string::npos);
  EXPECT_NE(error(R"({"mix": {"fast_job": 1}, "duration": "ten"})").find("duration"),
            std::string::npos);
  EXPECT_NE(error(R"({"mix": {}})").find("mix"), std::string::npos);
  EXPECT_NE(error(R"({"mix": {"fast_job": -1}})").find("fast_job"), std::string::npos);
  EXPECT_NE(error(R"({"mix": {"fast_job": 1}, "burst": {"every": "10s", "length": "10s"}})")
                .find("burst"),
            std::string::npos);
  EXPECT_NE(error(R"({"mix": {"fast_job": 1}, "partitions": [
                      {"at": "1s", "length": "5s"}, {"at": "3s", "length": "1s"}]})")
                .find("partitions[1]"),
            std::string::npos);
  EXPECT_NE(error(R"({"mix": {"fast_job": 1}, "partitions": [{"at": "1s"}]})").find("length"),
            std::string::npos);
  EXPECT_NE(error(R"({"mix": {"fast_job": 1}, "rate": 0})").find("rate"), std::string::npos);
  EXPECT_EQ(error(R"({"mix": {"fast_job": 1}, "rate": 0})").rfind("scenario file bad.json: ", 0),
            0u);
}

TEST(Scenario, FlagSyntax) {
  auto mix = parse_mix("fast_job=0.7, slow_job=0.2,mixed_job=0.1").value();
  EXPECT_EQ(mix, (std::vector<JobShare>{{"fast_job", 0.7}, {"slow_job", 0.2}, {"mixed_job", 0.1}}));
  EXPECT_FALSE(parse_mix("fast_job"));
  EXPECT_FALSE(parse_mix("fast_job=x"));
  EXPECT_FALSE(parse_mix("=1"));

  auto w = parse_partition("20s+10s:pg:reject").value();
  EXPECT_EQ(w.at, 20s);
  EXPECT_EQ(w.length, 10s);
  EXPECT_EQ(w.target, PartitionTarget::kPg);
  EXPECT_EQ(w.mode, "reject");
  EXPECT_EQ(parse_partition("1m+30s").value().target, PartitionTarget::kBoth);
  EXPECT_FALSE(parse_partition("20s"));
  EXPECT_FALSE(parse_partition("20s+10s:disk"));
  EXPECT_FALSE(parse_partition("20s+10s:sqs:drop"));

  EXPECT_EQ(parse_times("1s, 2500ms,1m").value(), (std::vector<Millis>{1s, 2500ms, 60s}));
  EXPECT_FALSE(parse_times("1s,,2s"));
}

TEST(Scenario, ValidationOfFaults) {
  Overrides o;
  o.kill_count = 0;
  EXPECT_FALSE(make_scenario("steady", o));
  Overrides tiny;
  tiny.kill_every = 10ms;
  EXPECT_FALSE(make_scenario("steady", tiny));
  Scenario s = builtin("steady", 10s).value();
  EXPECT_FALSE(s.needs_workers_to_kill());
  s.partitions = {{1s, 2s, PartitionTarget::kSqs, "blackhole"}};
  EXPECT_TRUE(s.needs_partition_control(PartitionTarget::kSqs));
  EXPECT_FALSE(s.needs_partition_control(PartitionTarget::kPg));
  s.partitions.push_back({9s, 5s, PartitionTarget::kBoth, "blackhole"});
  EXPECT_EQ(s.last_event(), 14s);
}

}  // namespace
}  // namespace opfleet::loadsim

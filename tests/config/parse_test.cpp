#include <chrono>

#include <gmock/gmock.h>

#include "common/log.h"
#include "config/validate.h"
#include "tests/config/parse_fixture.h"

namespace opfleet::config::test {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;
using ::testing::Not;

TEST_F(ConfigParseTest, FlagsBeatEnvironmentBeatFileBeatDefaults) {
  env["OPFLEET_SLOTS"] = "5";
  env["OPFLEET_DB_STATEMENT_TIMEOUT_MS"] = "200";
  auto args = with_file(
      "slots = 3\n"
      "db-statement-timeout-ms = 100\n"
      "queue-name = from-file.fifo\n",
      {"--slots", "7"});
  auto p = worker(args);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->vm["slots"].as<int>(), 7);
  EXPECT_EQ(p->vm["db-statement-timeout-ms"].as<int>(), 200);
  EXPECT_EQ(p->vm["queue-name"].as<std::string>(), "from-file.fifo");
  EXPECT_EQ(p->vm["sqs-breaker-threshold"].as<int>(), 5);
  EXPECT_TRUE(p->vm["sqs-breaker-threshold"].defaulted());
  EXPECT_FALSE(p->vm["queue-name"].defaulted());
  EXPECT_EQ(p->config_file, file);

  EXPECT_EQ(describe(p->origins.at("slots")), "flag --slots");
  EXPECT_EQ(describe(p->origins.at("db-statement-timeout-ms")),
            "env OPFLEET_DB_STATEMENT_TIMEOUT_MS");
  EXPECT_EQ(describe(p->origins.at("queue-name")), "file " + file + " line 3");
  EXPECT_EQ(describe(p->origins.at("sqs-breaker-threshold")), "default");
  EXPECT_EQ(p->origins.at("sqs-breaker-threshold").tokens, std::vector<std::string>{"5"});
  EXPECT_EQ(p->origins.at("slots").tokens, std::vector<std::string>{"7"});
}

TEST_F(ConfigParseTest, EveryDeclaredOptionMapsToItsEnvironmentVariable) {
  EXPECT_EQ(env_name("db-statement-timeout-ms"), "OPFLEET_DB_STATEMENT_TIMEOUT_MS");
  EXPECT_EQ(env_name("slots"), "OPFLEET_SLOTS");
  env["OPFLEET_SQS_ENDPOINT"] = "http://127.0.0.1:4566";
  env["OPFLEET_REGION"] = "eu-west-3";
  env["OPFLEET_MODE"] = "ecs";
  env["OPFLEET_LEASE"] = "2m";
  env["OPFLEET_DRY_RUN"] = "true";
  auto p = worker();
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->vm["sqs-endpoint"].as<std::string>(), "http://127.0.0.1:4566");
  EXPECT_EQ(p->vm["region"].as<std::string>(), "eu-west-3");
  EXPECT_EQ(p->vm["mode"].as<std::string>(), "ecs");
  EXPECT_EQ(p->vm["lease"].as<milliseconds>(), milliseconds(120000));
  EXPECT_TRUE(p->vm["dry-run"].as<bool>());
}

TEST_F(ConfigParseTest, OtherCommandsVariablesAreIgnored) {
  // testscaler's variable, with a value testscaler would reject: none of testworker's business.
  env["OPFLEET_MIN_WORKERS"] = "many";
  env["OPFLEET_SOMETHING_ELSE"] = "x";
  auto p = worker();
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->vm.count("min-workers"), 0u);
  auto s = run(scaler_spec(), {});
  ASSERT_FALSE(s);
  EXPECT_THAT(s.error().message,
              HasSubstr("invalid value 'many' for --min-workers (from OPFLEET_MIN_WORKERS)"));
}

TEST_F(ConfigParseTest, EmptyEnvironmentVariableCountsAsUnset) {
  env["OPFLEET_SLOTS"] = "";
  auto p = worker(with_file("slots = 3\n"));
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->vm["slots"].as<int>(), 3);
}

TEST_F(ConfigParseTest, ListsAreCommaSeparatedInTheEnvironmentAndRepeatedInTheFile) {
  env["OPFLEET_ALLOW"] = "/bin/echo, /bin/true";
  auto p = worker();
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->vm["allow"].as<std::vector<std::string>>(),
            (std::vector<std::string>{"/bin/echo", "/bin/true"}));
  env.erase("OPFLEET_ALLOW");
  p = worker(with_file("allow = /bin/sleep\nallow = /bin/date\n"));
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->vm["allow"].as<std::vector<std::string>>(),
            (std::vector<std::string>{"/bin/sleep", "/bin/date"}));
  // A higher layer replaces the list rather than adding to it.
  p = worker(with_file("allow = /bin/sleep\n", {"--allow", "/bin/ls"}));
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->vm["allow"].as<std::vector<std::string>>(), std::vector<std::string>{"/bin/ls"});
}

TEST_F(ConfigParseTest, SectionValuesApplyToTheirCommandOnlyAndBeatTopLevel) {
  std::string text =
      "slots = 2\n"
      "region = eu-west-1\n"
      "[testworker]\n"
      "slots = 6\n"
      "[testscaler]\n"
      "region = ap-south-1\n"
      "min-workers = 1\n";
  auto w = worker(with_file(text));
  ASSERT_TRUE(w) << w.error().message;
  EXPECT_EQ(w->vm["slots"].as<int>(), 6);
  EXPECT_EQ(w->vm["region"].as<std::string>(), "eu-west-1");
  EXPECT_EQ(describe(w->origins.at("slots")), "file " + file + " line 4");
  auto s = run(scaler_spec(), with_file(text));
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->vm["region"].as<std::string>(), "ap-south-1");
  EXPECT_EQ(s->vm["min-workers"].as<int>(), 1);
  EXPECT_EQ(s->vm.count("slots"), 0u);  // testworker's key at top level: accepted, not used
}

TEST_F(ConfigParseTest, UnknownKeyInFileIsRejectedWithKeyAndLine) {
  auto p = worker(with_file("slots = 2\n# fine\nbogus = 1\n"));
  ASSERT_FALSE(p);
  EXPECT_THAT(p.error().message, HasSubstr("unknown key 'bogus' in " + file + " line 3"));
  p = worker(with_file("queue_name = x.fifo\n"));
  ASSERT_FALSE(p);
  EXPECT_THAT(p.error().message, HasSubstr("unknown key 'queue_name' in " + file + " line 1"));
  EXPECT_THAT(p.error().message, HasSubstr("did you mean 'queue-name'?"));
}

TEST_F(ConfigParseTest, SectionKeysAreCheckedAgainstTheirCommandWhoeverReadsTheFile) {
  // min-workers is not testworker's: wrong in [testworker] although valid at top level.
  auto p = run(scaler_spec(), with_file("min-workers = 1\n[testworker]\nmin-workers = 2\n"));
  ASSERT_FALSE(p);
  EXPECT_THAT(p.error().message, HasSubstr("unknown key 'min-workers' in " + file + " line 3"));
  EXPECT_THAT(p.error().message, HasSubstr("[testworker]"));
}

TEST_F(ConfigParseTest, UnknownSectionIsRejected) {
  auto p = worker(with_file("[nosuchcommand]\n"));
  ASSERT_FALSE(p);
  EXPECT_THAT(p.error().message,
              HasSubstr("unknown section [nosuchcommand] in " + file + " line 1"));
}

TEST_F(ConfigParseTest, DuplicateKeyIsRejectedWithBothLines) {
  auto p = worker(with_file("slots = 1\n[testworker]\nslots = 2\n\nslots = 3\n"));
  ASSERT_FALSE(p);
  EXPECT_THAT(p.error().message, HasSubstr("duplicate key 'slots' in " + file + " lines 3 and 5"));
}

TEST_F(ConfigParseTest, FileCannotNameAnotherFile) {
  auto p = worker(with_file("config = /etc/other.conf\n"));
  ASSERT_FALSE(p);
  EXPECT_THAT(p.error().message, HasSubstr("key 'config' in " + file + " line 1"));
}

TEST_F(ConfigParseTest, BadValuesNameKeyAndSource) {
  env["OPFLEET_SLOTS"] = "abc";
  auto p = worker();
  ASSERT_FALSE(p);
  EXPECT_THAT(p.error().message, HasSubstr("invalid value 'abc' for --slots (from OPFLEET_SLOTS)"));
  env.erase("OPFLEET_SLOTS");

  p = worker(with_file("\nslots = 0\n"));
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().message,
            "invalid value '0' for --slots (from " + file + " line 2): must be at least 1");

  p = worker({"--log-level", "loud"});
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().message,
            "invalid value 'loud' for --log-level (from the command line): expected one of: "
            "debug, info, warn, error");

  p = worker(with_file("[testworker]\nlease = 10\n"));
  ASSERT_FALSE(p);
  EXPECT_THAT(p.error().message,
              HasSubstr("invalid value '10' for --lease (from " + file + " line 2)"));

  env["OPFLEET_DRY_RUN"] = "perhaps";
  p = worker();
  ASSERT_FALSE(p);
  EXPECT_THAT(p.error().message,
              HasSubstr("invalid value 'perhaps' for --dry-run (from OPFLEET_DRY_RUN)"));
  env.erase("OPFLEET_DRY_RUN");

  env["OPFLEET_SQS_ENDPOINT"] = "localhost:4566";
  p = worker();
  ASSERT_FALSE(p);
  EXPECT_THAT(p.error().message,
              HasSubstr("invalid value 'localhost:4566' for --sqs-endpoint (from "
                        "OPFLEET_SQS_ENDPOINT)"));
}

TEST_F(ConfigParseTest, SecretsAreNotEchoedInErrors) {
  po::options_description own("own");
  own.add_options()("api-token", positive_int(), "a secret that happens to be a number");
  CommandSpec spec{"secretive", "", "", own, {}, {}};
  env["OPFLEET_API_TOKEN"] = "hunter2";
  auto p = run(spec, {});
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().message,
            "invalid value for --api-token (from OPFLEET_API_TOKEN): expected a whole number");
  // A password inside a URL is masked wherever the URL is echoed.
  p = worker({"--db-connect-timeout-s", "postgresql://u:hunter2@h/db"});
  ASSERT_FALSE(p);
  EXPECT_THAT(p.error().message, Not(HasSubstr("hunter2")));
  EXPECT_THAT(p.error().message, HasSubstr("postgresql://u:****@h/db"));
}

TEST_F(ConfigParseTest, MissingExplicitFileIsAnError) {
  std::string missing = dir.path() + "/missing.conf";
  auto p = worker({"--config", missing});
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().message, "config file " + missing + " does not exist (from --config)");
  env["OPFLEET_CONFIG"] = missing;
  p = worker();
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().message, "config file " + missing + " does not exist (from OPFLEET_CONFIG)");
}

TEST_F(ConfigParseTest, MissingDefaultFileIsFineAndAPresentOneIsRead) {
  auto p = worker();
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->config_file, "");
  EXPECT_EQ(p->vm["slots"].as<int>(), 4);
  std::string default_file = dir.write("absent.conf", "slots = 9\n");  // now present
  p = worker();
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->config_file, default_file);
  EXPECT_EQ(p->vm["slots"].as<int>(), 9);
}

TEST_F(ConfigParseTest, ConfigFileFromEnvironment) {
  env["OPFLEET_CONFIG"] = dir.write("env.conf", "slots = 8\n");
  auto p = worker();
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->vm["slots"].as<int>(), 8);
  // --config beats OPFLEET_CONFIG like any flag beats its variable.
  p = worker(with_file("slots = 2\n"));
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->vm["slots"].as<int>(), 2);
}

TEST_F(ConfigParseTest, RequiredDatabaseUrl) {
  env.erase("OPFLEET_DATABASE_URL");
  auto p = worker();
  ASSERT_FALSE(p);
  EXPECT_THAT(p.error().message, HasSubstr("--database-url is required"));
  EXPECT_THAT(p.error().message, HasSubstr("OPFLEET_DATABASE_URL"));
  p = worker({"--database-url", ""});
  ASSERT_FALSE(p);
  ParseOptions o = options();
  o.check_required = false;
  p = parse(worker_spec(), {}, o);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->vm["database-url"].as<std::string>(), "");
  // Commands that do not declare the database group do not need it.
  EXPECT_TRUE(run(scaler_spec(), {}));
}

TEST_F(ConfigParseTest, HelpWinsOverBadConfiguration) {
  env["OPFLEET_SLOTS"] = "abc";
  auto p = worker({"--help"});
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_TRUE(p->help);
  EXPECT_THAT(p->help_text, HasSubstr("usage: opfleet testworker [options] [JOB]"));
  EXPECT_THAT(p->help_text, HasSubstr("Runs test ops."));
  EXPECT_THAT(p->help_text, HasSubstr("--slots"));
  EXPECT_THAT(p->help_text, HasSubstr("general options"));
  EXPECT_THAT(p->help_text, HasSubstr("--database-url"));
  EXPECT_THAT(p->help_text, HasSubstr("OPFLEET_FOO_BAR"));
  EXPECT_THAT(p->help_text, Not(HasSubstr("--job")));  // hidden
  p = worker({"-h"});
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->help);
}

TEST_F(ConfigParseTest, UnknownAndAbbreviatedFlagsAreRejected) {
  auto p = worker({"--bogus"});
  ASSERT_FALSE(p);
  EXPECT_THAT(p.error().message, HasSubstr("--bogus"));
  EXPECT_THAT(p.error().message, HasSubstr("opfleet testworker --help"));
  p = worker({"--slot", "3"});
  ASSERT_FALSE(p);
  EXPECT_THAT(p.error().message, HasSubstr("--slot"));
  p = worker({"--slots", "1", "--slots", "2"});
  ASSERT_FALSE(p);
  EXPECT_THAT(p.error().message, HasSubstr("--slots given more than once"));
}

TEST_F(ConfigParseTest, PositionalOperandsComeFromTheCommandLineOnly) {
  env["OPFLEET_JOB"] = "from-env";
  auto p = worker({"nightly"});
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->vm["job"].as<std::string>(), "nightly");
  p = worker();
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->vm.count("job"), 0u);
  p = worker(with_file("job = x\n"));
  ASSERT_FALSE(p);
  EXPECT_THAT(p.error().message, HasSubstr("unknown key 'job'"));
  p = worker({"a", "b"});
  ASSERT_FALSE(p);
}

TEST_F(ConfigParseTest, RetryCapBelowBaseIsRejected) {
  env["OPFLEET_SQS_RETRY_CAP_MS"] = "500";
  auto p = worker();
  ASSERT_FALSE(p);
  EXPECT_THAT(p.error().message,
              HasSubstr("--sqs-retry-cap-ms (from env OPFLEET_SQS_RETRY_CAP_MS)"));
  EXPECT_THAT(p.error().message, HasSubstr("at least --sqs-retry-base-ms (1000)"));
  EXPECT_TRUE(worker({"--sqs-retry-base-ms", "100"}));
}

TEST_F(ConfigParseTest, VariablesBoundWithValuePointerAreFilled) {
  int slots = 0;
  po::options_description own("own");
  own.add_options()("slots", po::value<int>(&slots)->default_value(4), "");
  CommandSpec spec{"bound", "", "", own, {}, {}};
  env["OPFLEET_SLOTS"] = "11";
  auto p = run(spec, {});
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(slots, 11);
}

TEST_F(ConfigParseTest, ShortOnlyOptionsComeFromTheCommandLine) {
  po::options_description own("own");
  own.add_options()(",q", "quiet");
  CommandSpec spec{"short", "", "", own, {}, {}};
  auto p = run(spec, {"-q"});
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->vm.count("-q"), 1u);
  p = run(spec, {});
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->vm.count("-q"), 0u);
}

TEST_F(ConfigParseTest, LogLevelAndFormatAreApplied) {
  ParseOptions o = options();
  o.configure_logging = true;
  env["OPFLEET_LOG_LEVEL"] = "warn";
  auto p = parse(worker_spec(), {}, o);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_FALSE(log::enabled(log::Level::kInfo));
  EXPECT_TRUE(log::enabled(log::Level::kWarn));
  p = parse(worker_spec(), {"--log-level", "debug"}, o);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_TRUE(log::enabled(log::Level::kDebug));
  log::configure(log::Level::kInfo, log::Format::kText, "test");
}

}  // namespace
}  // namespace opfleet::config::test

// The `opfleet` executable end to end: exit codes 0 and 2, help, and `opfleet config show`.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/config/run_binary.h"
#include "tests/config/temp_dir.h"

namespace opfleet::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

// The line of `text` that starts with `prefix` ("" if none).
std::string line_starting(const std::string& text, const std::string& prefix) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    std::string line = text.substr(pos, eol - pos);
    if (line.starts_with(prefix)) return line;
    pos = eol + 1;
  }
  return {};
}

// The subcommand names listed by `opfleet --help`.
std::vector<std::string> listed_commands(const std::string& help) {
  std::vector<std::string> names;
  size_t start = help.find("commands:\n");
  if (start == std::string::npos) return names;
  size_t pos = start + 10;
  while (pos < help.size() && help.compare(pos, 2, "  ") == 0) {
    size_t eol = help.find('\n', pos);
    std::string line = help.substr(pos + 2, eol - pos - 2);
    names.push_back(line.substr(0, line.find(' ')));
    pos = eol + 1;
  }
  return names;
}

class ConfigBinaryTest : public ::testing::Test {
 protected:
  // Runs opfleet with an explicit, empty config file unless the test names one, so that a
  // file in /etc/opfleet on the machine cannot change the outcome.
  RunResult run(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    if (!env.contains("OPFLEET_CONFIG")) env["OPFLEET_CONFIG"] = dir.write("empty.conf", "");
    return run_opfleet(args, env);
  }
  TempDir dir;
};

TEST_F(ConfigBinaryTest, TopLevelHelpListsSubcommands) {
  RunResult r = run({"--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("usage: opfleet <command>"));
  auto names = listed_commands(r.out);
  EXPECT_THAT(names, ::testing::Contains("config"));
  EXPECT_THAT(names, ::testing::Contains("version"));
  r = run({});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("usage: opfleet <command>"));
  r = run({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown command 'frobnicate'"));
}

TEST_F(ConfigBinaryTest, EverySubcommandAnswersHelp) {
  RunResult top = run({"--help"});
  auto names = listed_commands(top.out);
  ASSERT_FALSE(names.empty()) << top.out;
  for (const std::string& name : names) {
    RunResult r = run({name, "--help"});
    EXPECT_FALSE(r.timed_out) << name << " --help did not return";
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.err;
    EXPECT_THAT(r.out, HasSubstr("usage: opfleet " + name)) << name;
    RunResult via_help = run({"help", name});
    EXPECT_EQ(via_help.exit_code, 0) << name;
    EXPECT_EQ(via_help.out, r.out) << name;
  }
}

TEST_F(ConfigBinaryTest, ConfigHelpDescribesOptionsAndLayers) {
  RunResult r = run({"config", "--help"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("usage: opfleet config show [--for COMMAND]"));
  EXPECT_THAT(r.out, HasSubstr("--log-level"));
  EXPECT_THAT(r.out, HasSubstr("--for"));
  EXPECT_THAT(r.out, HasSubstr("OPFLEET_FOO_BAR"));
}

TEST_F(ConfigBinaryTest, ShowPrintsValuesWithTheirSources) {
  std::string file = dir.write("opfleet.conf",
                               "# shared by every service\n"
                               "db-statement-timeout-ms = 100\n"
                               "db-connect-timeout-s = 7\n"
                               "[config]\n"
                               "log-format = json\n");
  RunResult r = run({"config", "show", "--config", file},
                    {{"OPFLEET_DB_CONNECT_TIMEOUT_S", "9"}, {"AWS_REGION", "eu-north-1"}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("# config file: " + file + "\n"));
  EXPECT_THAT(line_starting(r.out, "db-statement-timeout-ms "),
              MatchesRegex("db-statement-timeout-ms +100 +file .*opfleet.conf line 2"));
  EXPECT_THAT(line_starting(r.out, "db-connect-timeout-s "),
              MatchesRegex("db-connect-timeout-s +9 +env OPFLEET_DB_CONNECT_TIMEOUT_S"));
  EXPECT_THAT(line_starting(r.out, "queue-name "),
              MatchesRegex("queue-name +opfleet-tasks.fifo +default"));
  EXPECT_THAT(line_starting(r.out, "region "), MatchesRegex("region +eu-north-1 +default"));
  // [config] applies to `opfleet config` itself, not to the shared view it prints.
  EXPECT_THAT(line_starting(r.out, "log-format "), MatchesRegex("log-format +text +default"));
  r = run({"config", "show", "--for", "config", "--config", file});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(line_starting(r.out, "log-format "),
              MatchesRegex("log-format +json +file .*opfleet.conf line 5"));
}

TEST_F(ConfigBinaryTest, ShowMasksDatabasePasswords) {
  RunResult r = run({"config", "show"},
                    {{"OPFLEET_DATABASE_URL", "postgresql://opfleet:hunter2@db.internal/opfleet"}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("hunter2")));
  EXPECT_THAT(line_starting(r.out, "database-url "),
              MatchesRegex("database-url +postgresql://opfleet:\\*\\*\\*\\*@db.internal/opfleet "
                           "+env OPFLEET_DATABASE_URL"));
  std::string file = dir.write("db.conf", "database-url = host=db password=s3cret dbname=x\n");
  r = run({"config", "show", "--config", file});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("s3cret")));
  EXPECT_THAT(r.out, HasSubstr("host=db password=**** dbname=x"));
}

TEST_F(ConfigBinaryTest, ConfigurationErrorsExitWithTwoAndSayWhere) {
  RunResult r = run({"config", "show", "--log-level", "loud"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("invalid value 'loud' for --log-level (from the command line)"));

  r = run({"config", "show"}, {{"OPFLEET_LOG_LEVEL", "loud"}});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("invalid value 'loud' for --log-level (from OPFLEET_LOG_LEVEL)"));

  std::string bad = dir.write("bad.conf", "log-level = info\n\nbogus = 1\n");
  r = run({"config", "show", "--config", bad});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown key 'bogus' in " + bad + " line 3"));

  std::string bad_value = dir.write("bad-value.conf", "sqs-retry-max-attempts = -1\n");
  r = run({"config", "show", "--config", bad_value});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("invalid value '-1' for --sqs-retry-max-attempts (from " +
                               bad_value + " line 1): must be at least 0"));

  std::string missing = dir.path() + "/missing.conf";
  r = run({"config", "show", "--config", missing});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("config file " + missing + " does not exist (from --config)"));
  r = run({"config", "show"}, {{"OPFLEET_CONFIG", missing}});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("(from OPFLEET_CONFIG)"));

  r = run({"config", "show", "--bogus"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--bogus"));
}

TEST_F(ConfigBinaryTest, ConfigCommandLineMistakesExitWithTwo) {
  RunResult r = run({"config"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("missing action"));
  r = run({"config", "edit"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown action 'edit'"));
  r = run({"config", "show", "--for", "nosuch"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("no subcommand 'nosuch'"));
  r = run({"version", "extra"});
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace opfleet::testing

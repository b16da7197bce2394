#include "config/show.h"

#include <gmock/gmock.h>

#include "tests/config/parse_fixture.h"

namespace opfleet::config::test {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

// The row of `key` in a show_table() output ("" if absent).
std::string row(const std::string& table, const std::string& key) {
  size_t pos = 0;
  while (pos < table.size()) {
    size_t eol = table.find('\n', pos);
    std::string line = table.substr(pos, eol - pos);
    if (line.starts_with(key + " ")) return line;
    pos = eol + 1;
  }
  return {};
}

TEST_F(ConfigParseTest, ShowGivesEveryValueItsSourceAndMasksSecrets) {
  env["OPFLEET_SLOTS"] = "6";
  env["OPFLEET_DATABASE_URL"] = "postgresql://opfleet:hunter2@db.internal:5432/opfleet";
  auto args = with_file(
      "region = eu-west-1\n"
      "[testworker]\n"
      "api-token = s3cr3t-token\n",
      {"--mode", "ecs"});
  auto p = worker(args);
  ASSERT_TRUE(p) << p.error().message;
  std::string table = show_table(worker_spec(), *p);
  EXPECT_THAT(table, Not(HasSubstr("hunter2")));
  EXPECT_THAT(table, Not(HasSubstr("s3cr3t")));
  EXPECT_THAT(row(table, "slots"), MatchesRegex("slots +6 +env OPFLEET_SLOTS"));
  EXPECT_THAT(row(table, "mode"), MatchesRegex("mode +ecs +flag --mode"));
  EXPECT_THAT(row(table, "region"), MatchesRegex("region +eu-west-1 +file .*opfleet.conf line 1"));
  EXPECT_THAT(row(table, "api-token"), MatchesRegex("api-token +\\*\\*\\*\\* +file .* line 3"));
  EXPECT_THAT(row(table, "database-url"),
              MatchesRegex("database-url +postgresql://opfleet:\\*\\*\\*\\*@db.internal:5432/"
                           "opfleet +env OPFLEET_DATABASE_URL"));
  EXPECT_THAT(row(table, "lease"), MatchesRegex("lease +30s +default"));
  EXPECT_THAT(row(table, "queue-name"), MatchesRegex("queue-name +opfleet-tasks.fifo +default"));
  EXPECT_THAT(row(table, "dlq-name"), MatchesRegex("dlq-name +\"\" +default"));
  EXPECT_EQ(row(table, "job"), "");  // an operand, not configuration
  EXPECT_EQ(row(table, "help"), "");
}

TEST_F(ConfigParseTest, ShowMarksAMissingRequiredValue) {
  env.erase("OPFLEET_DATABASE_URL");
  ParseOptions o = options();
  o.check_required = false;
  auto p = parse(worker_spec(), {}, o);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_THAT(row(show_table(worker_spec(), *p), "database-url"),
              MatchesRegex("database-url +\\(not set; required\\) +default"));
}

}  // namespace
}  // namespace opfleet::config::test

// `opfleet migrate` end to end: the built binary against a fresh database.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "store/migrations.h"
#include "tests/store/scratch_database.h"
#include "tests/support/stack_env.h"

namespace opfleet::store {
namespace {

using opfleet::testing::ScratchDatabase;

struct RunResult {
  int exit_code = -1;
  std::string out;  // stdout and stderr together
};

RunResult run_opfleet(const std::vector<std::string>& args) {
  std::vector<std::string> all{opfleet::testing::opfleet_binary()};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::dup2(fds[1], STDERR_FILENO);
    // An OPFLEET_* variable or /etc/opfleet/opfleet.conf must not change what we test.
    ::unsetenv("OPFLEET_DATABASE_URL");
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  RunResult r;
  char buf[4096];
  ssize_t n = 0;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) r.out.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

TEST(MigrateCommand, AppliesThenHasNothingToDo) {
  ScratchDatabase db;
  const std::vector<std::string> base{"migrate", "--config", "/dev/null", "--database-url",
                                      db.url()};
  auto first = run_opfleet(base);
  ASSERT_EQ(first.exit_code, 0) << first.out;
  EXPECT_NE(first.out.find("applied migration 1 initial_schema"), std::string::npos) << first.out;

  auto second = run_opfleet(base);
  ASSERT_EQ(second.exit_code, 0) << second.out;
  EXPECT_NE(
      second.out.find(fmt::format("schema at version {}, nothing to do", latest_schema_version())),
      std::string::npos)
      << second.out;

  auto args = base;
  args.push_back("--status");
  auto status = run_opfleet(args);
  ASSERT_EQ(status.exit_code, 0) << status.out;
  EXPECT_NE(status.out.find(fmt::format("schema at version {} of {} (up to date)",
                                        latest_schema_version(), latest_schema_version())),
            std::string::npos)
      << status.out;
  EXPECT_NE(status.out.find("initial_schema"), std::string::npos);
}

TEST(MigrateCommand, StatusOfAnEmptyDatabaseListsPending) {
  ScratchDatabase db;
  auto r =
      run_opfleet({"migrate", "--status", "--config", "/dev/null", "--database-url", db.url()});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("schema at version 0 of"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("pending"), std::string::npos) << r.out;
}

TEST(MigrateCommand, UnreachableDatabaseExitsUnavailable) {
  // Port 1 on loopback: nothing listens there.
  auto r = run_opfleet({"migrate", "--config", "/dev/null", "--database-url",
                        "postgresql://opfleet@127.0.0.1:1/x", "--db-connect-timeout-s", "2"});
  EXPECT_EQ(r.exit_code, 69) << r.out;
  EXPECT_NE(r.out.find("network"), std::string::npos) << r.out;
}

TEST(MigrateCommand, MissingUrlIsAUsageError) {
  auto r = run_opfleet({"migrate", "--config", "/dev/null"});
  EXPECT_EQ(r.exit_code, 2) << r.out;
}

}  // namespace
}  // namespace opfleet::store

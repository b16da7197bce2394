// fork+exec of workers: exec failures reported, the signal mask restored, no descriptor
// leaked, the environment filtered.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "supervisor/launcher.h"
#include "tests/support/stack_env.h"

namespace opfleet::supervisor {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

int wait_exit(pid_t pid) {
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

class LauncherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sigemptyset(&original_);
    out_ = "/tmp/" + opfleet::testing::unique_name("launcher") + ".out";
  }
  void TearDown() override { unlink(out_.c_str()); }
  // Runs `script` in /bin/sh through the launcher and returns its exit code.
  int run_sh(const std::string& script) {
    Launcher l(original_);
    auto r = l.launch({"/bin/sh", {"sh", "-c", script}, child_environment({}, {})});
    EXPECT_TRUE(r) << r.error().message;
    if (!r) return -1;
    EXPECT_EQ(Launcher::exec_error(r->exec_status.get()), 0);
    return wait_exit(r->pid);
  }
  sigset_t original_;
  std::string out_;
};

TEST_F(LauncherTest, ReportsAFailedExec) {
  Launcher l(original_);
  auto r = l.launch({"/nonexistent/opfleet", {"opfleet"}, {}});
  ASSERT_TRUE(r) << r.error().message;  // the fork worked
  EXPECT_EQ(Launcher::exec_error(r->exec_status.get()), ENOENT);
  EXPECT_EQ(wait_exit(r->pid), 127);
}

TEST_F(LauncherTest, RestoresTheOriginalSignalMask) {
  // The parent blocks signals (as the supervisor does for its signalfd)...
  sigset_t block;
  sigset_t before;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &block, &before);
  // ...and its children start with the mask it had before.
  int rc = run_sh("grep SigBlk /proc/self/status > " + out_);
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(read_file(out_), "SigBlk:\t0000000000000000\n");
}

TEST_F(LauncherTest, LeaksNoDescriptor) {
  // Opened without O_CLOEXEC, as a careless library might.
  // (A high number: the child's own `ls` opens fd 3 for the directory it lists.)
  const int opened = open("/dev/null", O_RDONLY);
  const int leaky = dup2(opened, 57);
  close(opened);
  ASSERT_EQ(leaky, 57);
  int rc = run_sh("ls /proc/self/fd > " + out_);
  close(leaky);
  ASSERT_EQ(rc, 0);
  std::stringstream fds(read_file(out_));
  std::vector<int> open_fds;
  for (std::string fd; fds >> fd;) open_fds.push_back(std::stoi(fd));
  EXPECT_EQ(std::count(open_fds.begin(), open_fds.end(), leaky), 0) << read_file(out_);
}

TEST(ChildEnvironmentTest, DropsAndSetsVariables) {
  setenv("OPFLEET_LAUNCHER_TEST_DROP", "x", 1);
  setenv("OPFLEET_LAUNCHER_TEST_SET", "old", 1);
  auto env = child_environment({"OPFLEET_LAUNCHER_TEST_DROP"}, {"OPFLEET_LAUNCHER_TEST_SET=new"});
  unsetenv("OPFLEET_LAUNCHER_TEST_DROP");
  unsetenv("OPFLEET_LAUNCHER_TEST_SET");
  auto has = [&](const std::string& e) {
    return std::find(env.begin(), env.end(), e) != env.end();
  };
  EXPECT_FALSE(has("OPFLEET_LAUNCHER_TEST_DROP=x"));
  EXPECT_FALSE(has("OPFLEET_LAUNCHER_TEST_SET=old"));
  EXPECT_TRUE(has("OPFLEET_LAUNCHER_TEST_SET=new"));
  EXPECT_TRUE(std::any_of(env.begin(), env.end(),
                          [](const std::string& e) { return e.starts_with("PATH="); }));
}

}  // namespace
}  // namespace opfleet::supervisor

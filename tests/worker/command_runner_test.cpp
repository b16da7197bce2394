#include "worker/command_runner.h"

#include <thread>

#include <gtest/gtest.h>

namespace opfleet::worker {
namespace {

using namespace std::chrono_literals;
using Clock = CancelToken::Clock;

const std::vector<std::string> kAllow = {"sh", "echo", "sleep", "true", "false"};

TEST(CommandRunner, CapturesOutputAndExitCode) {
  CancelToken t(Clock::now() + 60s);
  CommandSpec spec{{"sh", "-c", "echo out; echo err >&2; exit 3"}, 10s, 1024};
  auto r = run_command(spec, kAllow, t);
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->stdout_text, "out\n");
  EXPECT_EQ(r->stderr_text, "err\n");
  EXPECT_FALSE(r->timed_out);
}

TEST(CommandRunner, OutputIsBounded) {
  CancelToken t(Clock::now() + 60s);
  CommandSpec spec{{"sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x"}, 10s, 100};
  auto r = run_command(spec, kAllow, t);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->stdout_text.size(), 100u);
  EXPECT_TRUE(r->stdout_truncated);
}

TEST(CommandRunner, ProgramsOffTheAllowListAreRefused) {
  CancelToken t(Clock::now() + 60s);
  auto r = run_command(CommandSpec{{"rm", "-rf", "/tmp/nothing"}, 1s, 10}, kAllow, t);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("allow-list"), std::string::npos);
  EXPECT_FALSE(run_command(CommandSpec{{}, 1s, 10}, kAllow, t));
}

TEST(CommandRunner, TimeoutKillsTheProcessGroup) {
  CancelToken t(Clock::now() + 60s);
  auto start = Clock::now();
  auto r = run_command(CommandSpec{{"sh", "-c", "sleep 30 & sleep 30"}, 200ms, 100}, kAllow, t);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->exit_code, -1);
  EXPECT_LT(Clock::now() - start, 10s);
}

TEST(CommandRunner, CancellationStopsTheCommand) {
  CancelToken t(Clock::now() + 60s);
  std::thread canceller([&] {
    std::this_thread::sleep_for(100ms);
    t.cancel();
  });
  auto r = run_command(CommandSpec{{"sleep", "30"}, 60s, 100}, kAllow, t);
  canceller.join();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->stopped, StopReason::kCancelled);
  EXPECT_FALSE(r->timed_out);
}

TEST(CommandRunner, SelfFencingStopsTheCommand) {
  CancelToken t(Clock::now() + 150ms);
  auto r = run_command(CommandSpec{{"sleep", "30"}, 60s, 100}, kAllow, t);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->stopped, StopReason::kFenced);
}

}  // namespace
}  // namespace opfleet::worker

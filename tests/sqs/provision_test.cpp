// `opfleet provision` against the stack's SQS emulator: through the library API and
// through the built binary (exit codes, table, JSON, conflicts).
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "sqs/provision.h"
#include "sqs/queue_spec.h"
#include "tests/sqs/sqs_fixture.h"

extern char** environ;

namespace opfleet::sqs {
namespace {

using testing::SqsFixture;

class SqsProvisionTest : public SqsFixture {
 protected:
  // Deletes the queues a provision run made (by name: the binary's runs too).
  void track(const std::string& name) { names_.push_back(name); }
  void TearDown() override {
    for (const auto& name : names_) {
      if (auto url = client().get_queue_url(name)) created_.push_back(*url);
    }
    SqsFixture::TearDown();
  }
  std::vector<std::string> names_;
};

TEST_F(SqsProvisionTest, CreatesBothQueuesThenChangesNothing) {
  ProvisionSpec spec;
  spec.queue_name = opfleet::testing::unique_name("prov") + ".fifo";
  track(spec.queue_name);
  track(default_dlq_name(spec.queue_name));

  auto first = provision(client(), spec);
  ASSERT_TRUE(first) << first.error().describe();
  EXPECT_TRUE(first->changed());
  EXPECT_TRUE(first->queue.created);
  EXPECT_TRUE(first->dlq.created);
  EXPECT_EQ(first->dlq.name, default_dlq_name(spec.queue_name));
  EXPECT_TRUE(first->queue.arn.ends_with(":" + spec.queue_name)) << first->queue.arn;

  auto q = client().get_queue_attributes(first->queue.url).value();
  EXPECT_EQ(q.at(attr::kFifoQueue), "true");
  EXPECT_EQ(q.at(attr::kVisibilityTimeout), "60");
  EXPECT_EQ(q.at(attr::kReceiveMessageWaitTimeSeconds), "20");
  EXPECT_EQ(q.at(attr::kMessageRetentionPeriod), "345600");
  EXPECT_EQ(RedrivePolicy::parse(q.at(attr::kRedrivePolicy)).value(),
            (RedrivePolicy{first->dlq.arn, 5}));
  auto d = client().get_queue_attributes(first->dlq.url).value();
  EXPECT_EQ(d.at(attr::kFifoQueue), "true");
  EXPECT_EQ(d.at(attr::kMessageRetentionPeriod), "1209600");

  auto second = provision(client(), spec);
  ASSERT_TRUE(second) << second.error().describe();
  EXPECT_FALSE(second->changed());
  EXPECT_EQ(second->queue.url, first->queue.url);
  EXPECT_EQ(second->queue.arn, first->queue.arn);
  EXPECT_EQ(second->dlq.url, first->dlq.url);
  EXPECT_EQ(second->dlq.arn, first->dlq.arn);

  ProvisionSpec other = spec;
  other.visibility_timeout_s = 30;
  other.max_receive_count = 3;
  auto conflict = provision(client(), other);
  ASSERT_FALSE(conflict);
  EXPECT_EQ(conflict.error().kind, ErrorKind::kConflict);
  const std::string& msg = conflict.error().message;
  EXPECT_NE(msg.find("VisibilityTimeout is 60, wanted 30"), std::string::npos) << msg;
  EXPECT_NE(msg.find("RedrivePolicy.maxReceiveCount is 5, wanted 3"), std::string::npos) << msg;
  // Left as it was.
  EXPECT_EQ(client().get_queue_attributes(first->queue.url).value().at(attr::kVisibilityTimeout),
            "60");
}

TEST_F(SqsProvisionTest, StandardQueueWithNamedDlqAndPoisonMessagesReachIt) {
  ProvisionSpec spec;
  spec.queue_name = opfleet::testing::unique_name("prov-std");
  spec.dlq_name = opfleet::testing::unique_name("prov-std-dead");
  spec.max_receive_count = 1;
  track(spec.queue_name);
  track(spec.dlq_name);
  auto r = provision(client(), spec);
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->dlq.name, spec.dlq_name);
  auto q = client().get_queue_attributes(r->queue.url).value();
  EXPECT_FALSE(q.contains(attr::kFifoQueue) && q.at(attr::kFifoQueue) == "true");

  ASSERT_TRUE(client().send_message(r->queue.url, {.body = "poison"}));
  auto got = receive(r->queue.url, 1, 5);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_TRUE(client().change_message_visibility(r->queue.url, got[0].receipt_handle, 0));
  EXPECT_TRUE(receive(r->queue.url, 1, 1).empty());  // moved on its second receive
  auto dead = receive(r->dlq.url, 1, 10);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].body, "poison");
}

TEST_F(SqsProvisionTest, InvalidSpecIsRefusedBeforeAnyCall) {
  ProvisionSpec spec;
  spec.queue_name = opfleet::testing::unique_name("prov-bad") + ".fifo";
  spec.dlq_name = opfleet::testing::unique_name("prov-bad-dlq");  // standard DLQ for FIFO
  const auto calls = client().stats().calls;
  auto r = provision(client(), spec);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(client().stats().calls, calls);
}

// ---- The binary -------------------------------------------------------------------

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs the opfleet binary with `args`, capturing stdout and stderr through close-on-exec pipes.
RunResult run_opfleet(const std::vector<std::string>& args) {
  std::vector<std::string> all = {opfleet::testing::opfleet_binary()};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);

  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2 failed";
    return {};
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  RunResult result;
  if (rc != 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    ADD_FAILURE() << "posix_spawn " << argv[0] << ": " << std::strerror(rc);
    return result;
  }
  // Read both pipes until both reach EOF (the child exited or closed them).
  std::array<pollfd, 2> fds = {pollfd{out_pipe[0], POLLIN, 0}, pollfd{err_pipe[0], POLLIN, 0}};
  std::array<std::string*, 2> sinks = {&result.out, &result.err};
  int open_fds = 2;
  while (open_fds > 0) {
    if (::poll(fds.data(), fds.size(), 60000) <= 0) {
      if (errno == EINTR) continue;
      ADD_FAILURE() << "opfleet did not finish within 60 s";
      ::kill(pid, SIGKILL);
      break;
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& p : fds) {
    if (p.fd >= 0) ::close(p.fd);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

class SqsProvisionCliTest : public SqsProvisionTest {
 protected:
  void SetUp() override {
    SqsProvisionTest::SetUp();
    // An empty config file of our own, so a stray /etc/opfleet/opfleet.conf plays no part.
    config_ = (std::filesystem::temp_directory_path() /
               (opfleet::testing::unique_name("opfleet-provision") + ".conf"))
                  .string();
    std::ofstream(config_) << "# empty\n";
  }
  void TearDown() override {
    std::filesystem::remove(config_);
    SqsProvisionTest::TearDown();
  }
  RunResult provision_cli(std::vector<std::string> extra) {
    std::vector<std::string> args = {"provision", "--config", config_, "--sqs-endpoint",
                                     opfleet::testing::stack_env("OPFLEET_SQS_ENDPOINT")};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_opfleet(args);
  }
  std::string config_;
};

TEST_F(SqsProvisionCliTest, JsonThenTableThenConflict) {
  const std::string queue = opfleet::testing::unique_name("prov-cli") + ".fifo";
  track(queue);
  track(default_dlq_name(queue));

  RunResult first = provision_cli({"--queue-name", queue, "--json"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto j = nlohmann::json::parse(first.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << first.out;
  EXPECT_EQ(j["changed"], true);
  EXPECT_EQ(j["queue"]["name"], queue);
  EXPECT_EQ(j["queue"]["status"], "created");
  EXPECT_EQ(j["queue"]["fifo"], true);
  EXPECT_EQ(j["dlq"]["name"], default_dlq_name(queue));
  EXPECT_EQ(j["dlq"]["status"], "created");
  EXPECT_EQ(j["max_receive_count"], 5);
  const std::string url = j["queue"]["url"];
  const std::string arn = j["queue"]["arn"];
  EXPECT_EQ(client().get_queue_url(queue).value(), url);
  EXPECT_TRUE(arn.ends_with(":" + queue)) << arn;

  RunResult second = provision_cli({"--queue-name", queue});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.out.find("nothing changed"), std::string::npos) << second.out;
  EXPECT_NE(second.out.find(url), std::string::npos) << second.out;
  EXPECT_NE(second.out.find(arn), std::string::npos) << second.out;
  EXPECT_EQ(second.out.find("created"), std::string::npos) << second.out;

  RunResult conflict = provision_cli({"--queue-name", queue, "--queue-visibility-timeout-s", "30"});
  EXPECT_EQ(conflict.exit_code, 1) << conflict.out << conflict.err;
  EXPECT_NE(conflict.err.find("VisibilityTimeout is 60, wanted 30"), std::string::npos)
      << conflict.err;
  EXPECT_TRUE(conflict.out.empty()) << conflict.out;
}

TEST_F(SqsProvisionCliTest, StandardFlagAndNameMustAgree) {
  const std::string fifo_name = opfleet::testing::unique_name("prov-cli-mix") + ".fifo";
  RunResult mixed = provision_cli({"--queue-name", fifo_name, "--standard"});
  EXPECT_EQ(mixed.exit_code, 2) << mixed.err;
  EXPECT_NE(mixed.err.find(".fifo"), std::string::npos) << mixed.err;

  const std::string standard_name = opfleet::testing::unique_name("prov-cli-std");
  RunResult no_flag = provision_cli({"--queue-name", standard_name});
  EXPECT_EQ(no_flag.exit_code, 2) << no_flag.err;
  EXPECT_NE(no_flag.err.find("--standard"), std::string::npos) << no_flag.err;
  EXPECT_FALSE(client().get_queue_url(standard_name)) << "a refused run created a queue";

  track(standard_name);
  track(default_dlq_name(standard_name));
  RunResult ok_run = provision_cli({"--queue-name", standard_name, "--standard", "--json"});
  ASSERT_EQ(ok_run.exit_code, 0) << ok_run.err;
  auto j = nlohmann::json::parse(ok_run.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << ok_run.out;
  EXPECT_EQ(j["queue"]["fifo"], false);
  EXPECT_EQ(j["dlq"]["name"], standard_name + "-dlq");
}

TEST_F(SqsProvisionCliTest, UnreachableEndpointExitsUnavailable) {
  // A port nothing listens on (the stack's port + 1 is not guaranteed free: use port 9,
  // "discard", which is not served here) and no retries to keep it quick.
  RunResult r = run_opfleet({"provision", "--config", config_, "--sqs-endpoint",
                             "http://127.0.0.1:9", "--sqs-retry-max-attempts", "1"});
  EXPECT_EQ(r.exit_code, 69) << r.out << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

}  // namespace
}  // namespace opfleet::sqs

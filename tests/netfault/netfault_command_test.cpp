// The built `opfleet netfault` driven through its control socket, as the scaler and the
// load simulator will drive it.
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "netfault/control.h"
#include "tests/netfault/echo_server.h"
#include "tests/support/fleet_fixture.h"
#include "tests/support/stack_env.h"

extern char** environ;

namespace opfleet::netfault {
namespace {

using namespace std::chrono_literals;
using opfleet::testing::ChildProcess;
using testing::connect_loopback;
using testing::EchoServer;
using testing::read_exactly;
using testing::read_some;
using testing::ReadOutcome;
using testing::send_all;

class NetfaultCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "netfault-cmd-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    std::ofstream(dir_ + "/empty.conf") << "\n";
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // `opfleet netfault ARGS...`, configured by these flags alone.
  std::unique_ptr<ChildProcess> start(std::vector<std::string> args) {
    std::vector<std::string> argv = {opfleet::testing::opfleet_binary(),
                                     "netfault",
                                     "--config",
                                     dir_ + "/empty.conf",
                                     "--log-format",
                                     "json"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      if (!std::string_view(*e).starts_with("OPFLEET_")) env.emplace_back(*e);
    }
    return std::make_unique<ChildProcess>(argv, env, dir_ + "/netfault.log");
  }

  int exit_code(ChildProcess& p) {
    auto st = p.wait(20s);
    EXPECT_TRUE(st) << "still running";
    if (!st) return -1;
    EXPECT_TRUE(WIFEXITED(*st)) << "wait status " << *st;
    return WEXITSTATUS(*st);
  }

  std::string dir_;
};

TEST_F(NetfaultCommand, ProxiesObeysItsControlSocketAndCleansUp) {
  EchoServer echo;
  const std::string control = dir_ + "/control.sock";
  const std::string port_file = dir_ + "/port";
  auto p = start({"--upstream", fmt::format("127.0.0.1:{}", echo.port()), "--control", control,
                  "--port-file", port_file});
  ASSERT_TRUE(p->wait_for_output("netfault_listening", 20s)) << p->output();
  int port = 0;
  std::ifstream(port_file) >> port;
  ASSERT_GT(port, 0);

  int c = connect_loopback(port);
  send_all(c, "hello");
  EXPECT_EQ(read_exactly(c, 5, 5s), "hello");

  auto r = send_command(control, "blackhole");
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(*r, "blackhole");
  send_all(c, "x");
  EXPECT_EQ(read_some(c, 300ms).kind, ReadOutcome::kTimeout);
  auto status = send_command(control, "status");
  ASSERT_TRUE(status) << status.error().describe();
  auto j = nlohmann::json::parse(*status);
  EXPECT_EQ(j["mode"], "blackhole");
  EXPECT_EQ(j["listen_port"], port);
  EXPECT_EQ(j["accepted"], 1);
  EXPECT_EQ(j["bytes_to_upstream"], 5);

  r = send_command(control, "restore");
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(read_some(c, 5s).kind, ReadOutcome::kReset);
  ::close(c);
  int d = connect_loopback(port);
  send_all(d, "again");
  EXPECT_EQ(read_exactly(d, 5, 5s), "again");
  ::close(d);

  p->signal(SIGTERM);
  EXPECT_EQ(exit_code(*p), 0) << p->output();
  EXPECT_FALSE(std::filesystem::exists(control));
  EXPECT_FALSE(std::filesystem::exists(port_file));
  EXPECT_NE(p->output().find("netfault_stopping"), std::string::npos);
}

TEST_F(NetfaultCommand, StartsInTheModeAskedFor) {
  EchoServer echo;
  const std::string port_file = dir_ + "/port";
  auto p = start({"--upstream", fmt::format("127.0.0.1:{}", echo.port()), "--mode", "reject",
                  "--port-file", port_file});
  ASSERT_TRUE(p->wait_for_output("netfault_listening", 20s)) << p->output();
  int port = 0;
  std::ifstream(port_file) >> port;
  int c = connect_loopback(port);
  EXPECT_EQ(read_some(c, 5s).kind, ReadOutcome::kReset);
  ::close(c);
  EXPECT_EQ(echo.connections(), 0u);
  p->signal(SIGINT);
  EXPECT_EQ(exit_code(*p), 0);
}

TEST_F(NetfaultCommand, BadArgumentsAreUsageErrors) {
  auto missing = start({});
  EXPECT_EQ(exit_code(*missing), 2) << missing->output();
  auto bad_port = start({"--upstream", "127.0.0.1:99999"});
  EXPECT_EQ(exit_code(*bad_port), 2) << bad_port->output();
  auto bad_mode = start({"--upstream", "127.0.0.1:1", "--mode", "drop"});
  EXPECT_EQ(exit_code(*bad_mode), 2) << bad_mode->output();
}

TEST_F(NetfaultCommand, AListenPortInUseIsUnavailable) {
  EchoServer echo;
  auto p = start({"--upstream", fmt::format("127.0.0.1:{}", echo.port()), "--listen",
                  fmt::format("127.0.0.1:{}", echo.port())});
  EXPECT_EQ(exit_code(*p), 69) << p->output();
}

}  // namespace
}  // namespace opfleet::netfault

#include "netfault/control.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/netfault/echo_server.h"

namespace opfleet::netfault {
namespace {

using namespace std::chrono_literals;
using testing::connect_loopback;
using testing::EchoServer;
using testing::read_exactly;
using testing::read_some;
using testing::ReadOutcome;
using testing::send_all;

class ControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TcpProxyOptions o;
    o.upstream = {"127.0.0.1", echo_.port()};
    auto p = TcpProxy::start(o);
    ASSERT_TRUE(p) << p.error().describe();
    proxy_ = std::move(*p);
    std::string tmpl = (std::filesystem::temp_directory_path() / "netfault-ctl-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/control.sock";
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  EchoServer echo_;
  std::unique_ptr<TcpProxy> proxy_;
  std::string dir_;
  std::string path_;
};

TEST_F(ControlTest, HandleCommandSwitchesModes) {
  EXPECT_EQ(handle_command(*proxy_, "blackhole"), "ok blackhole");
  EXPECT_EQ(proxy_->mode(), Mode::kBlackhole);
  EXPECT_EQ(handle_command(*proxy_, "  reject\r"), "ok reject");
  EXPECT_EQ(proxy_->mode(), Mode::kReject);
  EXPECT_EQ(handle_command(*proxy_, "restore"), "ok pass");
  EXPECT_EQ(proxy_->mode(), Mode::kPass);
  EXPECT_EQ(handle_command(*proxy_, "pass"), "ok pass");
  EXPECT_TRUE(handle_command(*proxy_, "explode").starts_with("error unknown command 'explode'"));
  EXPECT_EQ(proxy_->mode(), Mode::kPass);
}

TEST_F(ControlTest, StatusReportsModeAndCounters) {
  int c = connect_loopback(proxy_->port());
  send_all(c, "abc");
  ASSERT_EQ(read_exactly(c, 3, 5s), "abc");
  ::close(c);
  std::string reply = handle_command(*proxy_, "status");
  ASSERT_TRUE(reply.starts_with("ok ")) << reply;
  auto j = nlohmann::json::parse(reply.substr(3));
  EXPECT_EQ(j["mode"], "pass");
  EXPECT_EQ(j["listen_port"], proxy_->port());
  EXPECT_EQ(j["accepted"], 1);
  EXPECT_EQ(j["bytes_to_upstream"], 3);
  EXPECT_EQ(j["bytes_to_client"], 3);
  EXPECT_EQ(j["upstream"], "127.0.0.1:" + std::to_string(echo_.port()));
}

TEST_F(ControlTest, ServerAppliesCommandsBeforeReplying) {
  auto server = ControlServer::start(path_, *proxy_);
  ASSERT_TRUE(server) << server.error().describe();
  int c = connect_loopback(proxy_->port());
  send_all(c, "1");
  ASSERT_EQ(read_exactly(c, 1, 5s), "1");

  auto r = send_command(path_, "blackhole");
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(*r, "blackhole");
  // The reply means the fault is in effect: nothing gets through from here on.
  send_all(c, "2");
  EXPECT_EQ(read_some(c, 300ms).kind, ReadOutcome::kTimeout);

  r = send_command(path_, "restore");
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(*r, "pass");
  EXPECT_EQ(read_some(c, 5s).kind, ReadOutcome::kReset);
  ::close(c);

  auto s = send_command(path_, "status");
  ASSERT_TRUE(s) << s.error().describe();
  EXPECT_EQ(nlohmann::json::parse(*s)["mode"], "pass");

  auto bad = send_command(path_, "melt");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::kInvalid);
  EXPECT_NE(bad.error().message.find("unknown command"), std::string::npos);
}

TEST_F(ControlTest, SocketIsPrivateAndRemovedAtTheEnd) {
  {
    auto server = ControlServer::start(path_, *proxy_);
    ASSERT_TRUE(server) << server.error().describe();
    struct stat st {};
    ASSERT_EQ(::lstat(path_.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0600u);
  }
  EXPECT_FALSE(std::filesystem::exists(path_));
  auto r = send_command(path_, "status", 1s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kNetwork);
  EXPECT_TRUE(r.error().retryable);
}

TEST_F(ControlTest, StaleSocketIsReplacedLiveOneAndOtherFilesAreNot) {
  // A socket file left by a killed process: bound, never listened on, closed.
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strcpy(a.sun_path, path_.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ::close(fd);
  auto server = ControlServer::start(path_, *proxy_);
  ASSERT_TRUE(server) << server.error().describe();
  EXPECT_TRUE(send_command(path_, "status"));

  auto second = ControlServer::start(path_, *proxy_);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind, ErrorKind::kConflict);

  const std::string plain = dir_ + "/not-a-socket";
  std::ofstream(plain) << "keep me";
  auto refused = ControlServer::start(plain, *proxy_);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::kInvalid);
  EXPECT_TRUE(std::filesystem::is_regular_file(plain));
}

TEST_F(ControlTest, SeveralCommandsOnOneConnection) {
  auto server = ControlServer::start(path_, *proxy_);
  ASSERT_TRUE(server) << server.error().describe();
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strcpy(a.sun_path, path_.c_str());
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  send_all(fd, "blackhole\nreject\npass\n");
  const std::string want = "ok blackhole\nok reject\nok pass\n";
  EXPECT_EQ(read_exactly(fd, want.size(), 5s), want);
  ::close(fd);
  EXPECT_EQ(proxy_->mode(), Mode::kPass);
}

}  // namespace
}  // namespace opfleet::netfault

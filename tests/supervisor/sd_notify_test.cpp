#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <string>

#include "supervisor/sd_notify.h"
#include "tests/support/stack_env.h"

namespace opfleet::supervisor {
namespace {

TEST(SdNotifyTest, FormatsAssignmentsOnePerLine) {
  EXPECT_EQ(notify_message({{"READY", "1"}, {"STATUS", "2/2 workers running"}}),
            "READY=1\nSTATUS=2/2 workers running");
  EXPECT_EQ(notify_message({{"STOPPING", "1"}}), "STOPPING=1");
  // A newline would start a new assignment: it is flattened.
  EXPECT_EQ(notify_message({{"STATUS", "a\nREADY=1"}}), "STATUS=a READY=1");
}

TEST(SdNotifyTest, PathAddressesKeepTheirTerminator) {
  auto a = notify_address("/run/systemd/notify");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->addr.sun_family, AF_UNIX);
  EXPECT_STREQ(a->addr.sun_path, "/run/systemd/notify");
  EXPECT_EQ(a->length, offsetof(sockaddr_un, sun_path) + 20);
}

TEST(SdNotifyTest, AbstractAddressesStartWithNulAndHaveNoTerminator) {
  auto a = notify_address("@opfleet/notify");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->addr.sun_path[0], '\0');
  EXPECT_EQ(std::string(a->addr.sun_path + 1, 14), "opfleet/notify");
  EXPECT_EQ(a->length, offsetof(sockaddr_un, sun_path) + 15);
}

TEST(SdNotifyTest, RejectsRelativeEmptyAndOverlongNames) {
  EXPECT_FALSE(notify_address(""));
  EXPECT_FALSE(notify_address("relative/path"));
  EXPECT_FALSE(notify_address("@"));
  EXPECT_FALSE(notify_address("/" + std::string(200, 'x')));
}

TEST(SdNotifyTest, WatchdogPingsAtHalfTheTimeoutForThisProcessOnly) {
  using std::chrono::microseconds;
  EXPECT_EQ(watchdog_interval("10000000", nullptr, 42), microseconds(5000000));
  EXPECT_EQ(watchdog_interval("10000000", "42", 42), microseconds(5000000));
  EXPECT_FALSE(watchdog_interval("10000000", "43", 42));
  EXPECT_FALSE(watchdog_interval(nullptr, nullptr, 42));
  EXPECT_FALSE(watchdog_interval("0", nullptr, 42));
  EXPECT_FALSE(watchdog_interval("ten", nullptr, 42));
}

// A datagram socket standing in for systemd's.
class NotifySocket {
 public:
  explicit NotifySocket(bool abstract) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    name_ = abstract ? "@" + opfleet::testing::unique_name("opfleet-notify-test")
                     : "/tmp/" + opfleet::testing::unique_name("opfleet-notify") + ".sock";
    auto a = notify_address(name_);
    if (!a || bind(fd_, reinterpret_cast<const sockaddr*>(&a->addr), a->length) != 0) {
      throw std::runtime_error("cannot bind " + name_);
    }
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~NotifySocket() {
    close(fd_);
    if (name_[0] == '/') unlink(name_.c_str());
  }
  const std::string& name() const { return name_; }
  std::string receive() {
    char buf[4096];
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    return n < 0 ? std::string("<nothing>") : std::string(buf, static_cast<std::size_t>(n));
  }

 private:
  int fd_ = -1;
  std::string name_;
};

TEST(SdNotifyTest, SendsDatagramsToAPathSocket) {
  NotifySocket sock(false);
  Notifier n(sock.name());
  ASSERT_TRUE(n.enabled());
  ASSERT_TRUE(n.send("READY=1\nSTATUS=up"));
  EXPECT_EQ(sock.receive(), "READY=1\nSTATUS=up");
}

TEST(SdNotifyTest, SendsDatagramsToAnAbstractSocket) {
  NotifySocket sock(true);
  Notifier n(sock.name());
  ASSERT_TRUE(n.enabled());
  ASSERT_TRUE(n.send("WATCHDOG=1"));
  EXPECT_EQ(sock.receive(), "WATCHDOG=1");
}

TEST(SdNotifyTest, DisabledWithoutASocket) {
  Notifier n;
  EXPECT_FALSE(n.enabled());
  EXPECT_TRUE(n.send("READY=1"));  // a no-op
}

TEST(SdNotifyTest, FromEnvironmentUnsetsTheVariables) {
  NotifySocket sock(true);
  setenv("NOTIFY_SOCKET", sock.name().c_str(), 1);
  setenv("WATCHDOG_USEC", "4000000", 1);
  setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
  Notifier n = Notifier::from_environment();
  EXPECT_TRUE(n.enabled());
  EXPECT_EQ(n.watchdog(), std::chrono::microseconds(2000000));
  EXPECT_EQ(getenv("NOTIFY_SOCKET"), nullptr);
  EXPECT_EQ(getenv("WATCHDOG_USEC"), nullptr);
  EXPECT_EQ(getenv("WATCHDOG_PID"), nullptr);
  ASSERT_TRUE(n.send("READY=1"));
  EXPECT_EQ(sock.receive(), "READY=1");
}

}  // namespace
}  // namespace opfleet::supervisor

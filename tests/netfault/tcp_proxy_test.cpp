#include "netfault/tcp_proxy.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <set>
#include <thread>

#include <gtest/gtest.h>

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

// How long a test waits to be sure that nothing arrives. Only used to assert silence
// (the absence of an event cannot be waited for).
constexpr auto kSilence = 300ms;

std::unique_ptr<TcpProxy> proxy_to(int port) {
  TcpProxyOptions o;
  o.upstream = {"127.0.0.1", port};
  auto p = TcpProxy::start(o);
  EXPECT_TRUE(p) << p.error().describe();
  return p ? std::move(*p) : nullptr;
}

struct Fd {
  int fd;
  ~Fd() { ::close(fd); }
};

TEST(ParseHostPort, AcceptsHostsAndBracketedIpv6) {
  auto a = parse_host_port("127.0.0.1:5432");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 5432);
  auto b = parse_host_port("db.internal:1");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "db.internal");
  auto c = parse_host_port("[::1]:80");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(to_string(*c), "[::1]:80");
  auto z = parse_host_port("127.0.0.1:0", /*allow_zero=*/true);
  ASSERT_TRUE(z);
  EXPECT_EQ(z->port, 0);
}

TEST(ParseHostPort, RejectsMalformedText) {
  for (const char* bad : {"", "5432", ":5432", "host:", "host:0", "host:65536", "host:12x",
                          "::1:80", "[::1]80", "host:-1"}) {
    auto r = parse_host_port(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_EQ(r.error().kind, ErrorKind::kInvalid) << bad;
    }
  }
}

TEST(ParseMode, RoundTrips) {
  for (Mode m : {Mode::kPass, Mode::kBlackhole, Mode::kReject}) {
    EXPECT_EQ(parse_mode(to_string(m)), m);
  }
  EXPECT_FALSE(parse_mode("Pass"));
  EXPECT_FALSE(parse_mode("drop"));
}

TEST(TcpProxy, ListenOnAPortInUseFails) {
  EchoServer echo;
  TcpProxyOptions o;
  o.listen = {"127.0.0.1", echo.port()};
  o.upstream = {"127.0.0.1", echo.port()};
  auto p = TcpProxy::start(o);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().kind, ErrorKind::kConflict);
}

TEST(TcpProxy, PassForwardsBothWaysAndCountsBytes) {
  EchoServer echo;
  auto proxy = proxy_to(echo.port());
  ASSERT_TRUE(proxy);
  EXPECT_NE(proxy->port(), 0);
  EXPECT_NE(proxy->port(), echo.port());
  Fd c{connect_loopback(proxy->port())};
  send_all(c.fd, "hello");
  EXPECT_EQ(read_exactly(c.fd, 5, 5s), "hello");
  auto n = proxy->counters();
  EXPECT_EQ(n.accepted, 1u);
  EXPECT_EQ(n.active, 1u);
  EXPECT_EQ(n.bytes_to_upstream, 5u);
  EXPECT_EQ(n.bytes_to_client, 5u);
  EXPECT_EQ(echo.connections(), 1u);
}

TEST(TcpProxy, LargeTransfersFlowThroughTheBoundedBuffers) {
  EchoServer echo;
  auto proxy = proxy_to(echo.port());
  ASSERT_TRUE(proxy);
  Fd c{connect_loopback(proxy->port())};
  // Far more than the socket and proxy buffers together: the writer is throttled while
  // the reader drains, and every byte arrives in order.
  std::string payload(4 * 1024 * 1024, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 7 + i / 251);
  std::thread writer([&] { send_all(c.fd, payload); });
  std::string back = read_exactly(c.fd, payload.size(), 30s);
  writer.join();
  EXPECT_TRUE(back == payload);
  EXPECT_EQ(proxy->counters().bytes_to_client, payload.size());
}

TEST(TcpProxy, HalfCloseIsForwardedAndThePairCloses) {
  EchoServer echo;
  auto proxy = proxy_to(echo.port());
  ASSERT_TRUE(proxy);
  Fd c{connect_loopback(proxy->port())};
  send_all(c.fd, "last words");
  ::shutdown(c.fd, SHUT_WR);
  EXPECT_EQ(read_exactly(c.fd, 10, 5s), "last words");
  // The echo server saw our FIN and half-closed too: the proxy forwards its FIN (an EOF,
  // not a reset) and drops the pair.
  auto r = read_some(c.fd, 5s);
  EXPECT_EQ(r.kind, ReadOutcome::kEof) << r.error;
  for (int i = 0; i < 500 && proxy->counters().active != 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(proxy->counters().active, 0u);
}

TEST(TcpProxy, BlackholeHoldsOpenConnectionsSilentAndPassResumesThem) {
  EchoServer echo;
  auto proxy = proxy_to(echo.port());
  ASSERT_TRUE(proxy);
  Fd c{connect_loopback(proxy->port())};
  send_all(c.fd, "ping");
  ASSERT_EQ(read_exactly(c.fd, 4, 5s), "ping");

  proxy->set_mode(Mode::kBlackhole);
  EXPECT_EQ(proxy->mode(), Mode::kBlackhole);
  send_all(c.fd, "lost?");
  auto r = read_some(c.fd, kSilence);
  EXPECT_EQ(r.kind, ReadOutcome::kTimeout) << "the partition let something through";
  EXPECT_EQ(echo.bytes(), 4u) << "bytes reached the upstream during the blackhole";
  EXPECT_EQ(proxy->counters().active, 1u);

  // Healed like a partition: what waited in the buffers is delivered late, not lost.
  proxy->set_mode(Mode::kPass);
  EXPECT_EQ(read_exactly(c.fd, 5, 5s), "lost?");
}

TEST(TcpProxy, BlackholeAcceptsNewConnectionsButNeverConnectsThem) {
  EchoServer echo;
  auto proxy = proxy_to(echo.port());
  ASSERT_TRUE(proxy);
  proxy->set_mode(Mode::kBlackhole);
  Fd c{connect_loopback(proxy->port())};  // the handshake completes...
  send_all(c.fd, "anyone?");
  auto r = read_some(c.fd, kSilence);  // ...and then nothing
  EXPECT_EQ(r.kind, ReadOutcome::kTimeout);
  EXPECT_EQ(echo.connections(), 0u);
  EXPECT_EQ(proxy->counters().accepted, 1u);

  // restore() resets the held connection, so its client reconnects...
  proxy->restore();
  EXPECT_EQ(proxy->mode(), Mode::kPass);
  r = read_some(c.fd, 5s);
  EXPECT_EQ(r.kind, ReadOutcome::kReset) << r.kind << " errno " << r.error;
  EXPECT_EQ(proxy->counters().reset, 1u);
  // ...and a new connection goes through.
  Fd d{connect_loopback(proxy->port())};
  send_all(d.fd, "back");
  EXPECT_EQ(read_exactly(d.fd, 4, 5s), "back");
  EXPECT_EQ(echo.connections(), 1u);
}

TEST(TcpProxy, RestoreResetsConnectionsHeldByTheBlackhole) {
  EchoServer echo;
  auto proxy = proxy_to(echo.port());
  ASSERT_TRUE(proxy);
  Fd c{connect_loopback(proxy->port())};
  send_all(c.fd, "a");
  ASSERT_EQ(read_exactly(c.fd, 1, 5s), "a");
  proxy->set_mode(Mode::kBlackhole);
  proxy->restore();
  auto r = read_some(c.fd, 5s);
  EXPECT_EQ(r.kind, ReadOutcome::kReset) << r.kind << " errno " << r.error;
  EXPECT_EQ(proxy->counters().active, 0u);
}

TEST(TcpProxy, RejectResetsOpenAndNewConnections) {
  EchoServer echo;
  auto proxy = proxy_to(echo.port());
  ASSERT_TRUE(proxy);
  Fd c{connect_loopback(proxy->port())};
  send_all(c.fd, "x");
  ASSERT_EQ(read_exactly(c.fd, 1, 5s), "x");

  proxy->set_mode(Mode::kReject);
  auto r = read_some(c.fd, 5s);
  EXPECT_EQ(r.kind, ReadOutcome::kReset) << r.kind << " errno " << r.error;

  Fd d{connect_loopback(proxy->port())};
  r = read_some(d.fd, 5s);
  EXPECT_EQ(r.kind, ReadOutcome::kReset) << r.kind << " errno " << r.error;
  EXPECT_EQ(echo.connections(), 1u) << "a rejected connection reached the upstream";
  auto n = proxy->counters();
  EXPECT_EQ(n.accepted, 2u);
  EXPECT_EQ(n.reset, 2u);
  EXPECT_EQ(n.active, 0u);

  proxy->restore();
  Fd e{connect_loopback(proxy->port())};
  send_all(e.fd, "ok");
  EXPECT_EQ(read_exactly(e.fd, 2, 5s), "ok");
}

TEST(TcpProxy, AnUnreachableUpstreamResetsTheClient) {
  int dead_port = 0;
  {
    EchoServer gone;  // a port that was free a moment ago and has no listener now
    dead_port = gone.port();
  }
  auto proxy = proxy_to(dead_port);
  ASSERT_TRUE(proxy);
  Fd c{connect_loopback(proxy->port())};
  auto r = read_some(c.fd, 5s);
  EXPECT_EQ(r.kind, ReadOutcome::kReset) << r.kind << " errno " << r.error;
  EXPECT_EQ(proxy->counters().upstream_failures, 1u);
}

TEST(TcpProxy, ModeChangesFromManyThreadsWhileTrafficFlows) {
  EchoServer echo;
  auto proxy = proxy_to(echo.port());
  ASSERT_TRUE(proxy);
  std::vector<std::thread> flippers;
  for (int t = 0; t < 4; ++t) {
    flippers.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        proxy->set_mode((i + t) % 2 == 0 ? Mode::kBlackhole : Mode::kPass);
      }
    });
  }
  for (auto& f : flippers) f.join();
  proxy->restore();
  Fd c{connect_loopback(proxy->port())};
  send_all(c.fd, "still works");
  EXPECT_EQ(read_exactly(c.fd, 11, 5s), "still works");
}

std::set<int> open_fds() {
  std::set<int> fds;
  DIR* d = ::opendir("/proc/self/fd");
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') fds.insert(std::atoi(e->d_name));
  }
  ::closedir(d);
  return fds;
}

TEST(TcpProxy, EveryDescriptorIsCloseOnExec) {
  EchoServer echo;
  auto before = open_fds();
  auto proxy = proxy_to(echo.port());
  ASSERT_TRUE(proxy);
  Fd c{connect_loopback(proxy->port())};
  send_all(c.fd, "z");
  ASSERT_EQ(read_exactly(c.fd, 1, 5s), "z");
  int checked = 0;
  for (int fd : open_fds()) {
    if (before.count(fd) != 0) continue;
    int flags = ::fcntl(fd, F_GETFD);
    if (flags < 0) continue;  // the directory stream's own descriptor, closed by now
    EXPECT_NE(flags & FD_CLOEXEC, 0) << "fd " << fd;
    ++checked;
  }
  // listening socket, eventfd, accepted client, upstream socket, our client, the echo
  // server's accepted socket
  EXPECT_GE(checked, 5);
}

TEST(TcpProxy, StopClosesEverythingAndIsIdempotent) {
  EchoServer echo;
  auto proxy = proxy_to(echo.port());
  ASSERT_TRUE(proxy);
  Fd c{connect_loopback(proxy->port())};
  send_all(c.fd, "q");
  ASSERT_EQ(read_exactly(c.fd, 1, 5s), "q");
  proxy->stop();
  proxy->stop();
  auto r = read_some(c.fd, 5s);
  EXPECT_TRUE(r.kind == ReadOutcome::kEof || r.kind == ReadOutcome::kReset) << r.kind;
  proxy->set_mode(Mode::kBlackhole);  // after stop: returns at once, changes nothing
}

}  // namespace
}  // namespace opfleet::netfault

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <string>
#include <thread>

#include "supervisor/event_loop.h"
#include "supervisor/http_responder.h"

namespace opfleet::supervisor {
namespace {

TEST(HttpResponderTest, ParsesRequestLines) {
  std::string method, path;
  ASSERT_TRUE(parse_request_line("GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", &method, &path));
  EXPECT_EQ(method, "GET");
  EXPECT_EQ(path, "/metrics");
  ASSERT_TRUE(parse_request_line("HEAD /healthz HTTP/1.0\r\n\r\n", &method, &path));
  EXPECT_EQ(method, "HEAD");
  EXPECT_EQ(path, "/healthz");
  EXPECT_FALSE(parse_request_line("GET\r\n\r\n", &method, &path));
  EXPECT_FALSE(parse_request_line("GET metrics HTTP/1.1\r\n\r\n", &method, &path));
  EXPECT_FALSE(parse_request_line("GET /x SMTP\r\n\r\n", &method, &path));
}

TEST(HttpResponderTest, FormatsHttp10ResponsesThatClose) {
  std::string r = format_response({503, "text/plain", "no\n"}, false);
  EXPECT_EQ(r,
            "HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\n\r\nno\n");
  EXPECT_TRUE(format_response({200, "text/plain", "body"}, true).ends_with("\r\n\r\n"));
}

TEST(HttpResponderTest, ParsesListenAddresses) {
  auto a = parse_listen_address("127.0.0.1:9187");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->first, "127.0.0.1");
  EXPECT_EQ(a->second, 9187);
  EXPECT_TRUE(parse_listen_address("0.0.0.0:0"));
  EXPECT_FALSE(parse_listen_address("localhost:80"));
  EXPECT_FALSE(parse_listen_address("127.0.0.1"));
  EXPECT_FALSE(parse_listen_address("127.0.0.1:99999"));
  EXPECT_FALSE(parse_listen_address("127.0.0.1:8x"));
}

// Sends `request` in pieces (to exercise partial reads) and reads to EOF.
std::string exchange(std::uint16_t port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    close(fd);
    return "<connect failed>";
  }
  std::size_t half = request.size() / 2;
  send(fd, request.data(), half, MSG_NOSIGNAL);
  std::this_thread::yield();
  send(fd, request.data() + half, request.size() - half, MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<std::size_t>(n));
  close(fd);
  return out;
}

class LiveResponder : public ::testing::Test {
 protected:
  void SetUp() override {
    auto l = EventLoop::create();
    ASSERT_TRUE(l) << l.error().message;
    loop = std::move(*l);
    auto r =
        HttpResponder::start(*loop, "127.0.0.1:0", [](std::string_view, std::string_view path) {
          if (path == "/healthz") return HttpAnswer{200, "text/plain", "ok\n"};
          return HttpAnswer{404, "text/plain", "nope\n"};
        });
    ASSERT_TRUE(r) << r.error().message;
    responder = std::move(*r);
    ASSERT_NE(responder->port(), 0);
  }
  // Runs the loop (on this thread, as the supervisor does) until `f` is ready.
  std::string serve(std::future<std::string> f) {
    while (f.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready) {
      auto st = loop->run_once(Clock::now() + std::chrono::milliseconds(20));
      EXPECT_TRUE(st);
    }
    return f.get();
  }
  std::unique_ptr<EventLoop> loop;
  std::unique_ptr<HttpResponder> responder;
};

TEST_F(LiveResponder, AnswersRequestsFromTheLoop) {
  auto port = responder->port();
  std::string r = serve(std::async(std::launch::async, [port] {
    return exchange(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  }));
  EXPECT_TRUE(r.starts_with("HTTP/1.0 200 OK\r\n")) << r;
  EXPECT_TRUE(r.ends_with("\r\n\r\nok\n")) << r;
  r = serve(std::async(std::launch::async,
                       [port] { return exchange(port, "GET /other HTTP/1.0\r\n\r\n"); }));
  EXPECT_TRUE(r.starts_with("HTTP/1.0 404")) << r;
  r = serve(std::async(std::launch::async,
                       [port] { return exchange(port, "POST /healthz HTTP/1.0\r\n\r\n"); }));
  EXPECT_TRUE(r.starts_with("HTTP/1.0 405")) << r;
  r = serve(std::async(std::launch::async, [port] { return exchange(port, "garbage\r\n\r\n"); }));
  EXPECT_TRUE(r.starts_with("HTTP/1.0 400")) << r;
}

TEST_F(LiveResponder, RefusesOversizedRequests) {
  auto port = responder->port();
  std::string big = "GET /healthz HTTP/1.0\r\nX: " + std::string(20000, 'a') + "\r\n\r\n";
  std::string r =
      serve(std::async(std::launch::async, [port, big] { return exchange(port, big); }));
  EXPECT_TRUE(r.starts_with("HTTP/1.0 413")) << r.substr(0, 100);
}

TEST_F(LiveResponder, DropsIdleConnectionsAfterTheTimeout) {
  auto port = responder->port();
  std::atomic<bool> closed{false};
  std::thread client([&] {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    char c;
    (void)recv(fd, &c, 1, 0);  // blocks until the server closes
    close(fd);
    closed = true;
  });
  // Let the loop accept it, then expire it as if six seconds had passed.
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(loop->run_once(Clock::now() + std::chrono::milliseconds(10)));
  responder->expire(Clock::now() + std::chrono::seconds(6));
  client.join();
  EXPECT_TRUE(closed);
}

}  // namespace
}  // namespace opfleet::supervisor

// aws/http.cpp (libcurl client) against the local test server, and the test server
// itself (tests/support/http_server.*), which other components' tests rely on.
#include "aws/http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <future>
#include <string>
#include <thread>

#include "tests/support/http_server.h"

namespace opfleet::aws {
namespace {

using namespace std::chrono_literals;
using testing::HttpServer;
using testing::HttpServerRequest;
using testing::HttpServerResponse;

HttpServerResponse echo(const HttpServerRequest& r) {
  HttpServerResponse resp = HttpServerResponse::text(r.method + " " + r.target + " " + r.body);
  resp.headers.emplace_back("X-Echo-Conn", std::to_string(r.connection_id));
  return resp;
}

TEST(HttpClient, GetReturnsStatusBodyAndLowerCasedHeaders) {
  HttpServer server([](const HttpServerRequest& r) {
    HttpServerResponse resp = HttpServerResponse::json(R"({"ok":true})");
    resp.headers.emplace_back("X-Request-Path", r.path);
    return resp;
  });
  HttpClient client;
  auto resp = client.send({"GET", server.url("/latest/meta-data?x=1"), {{"X-Custom", "v1"}}, ""});
  ASSERT_TRUE(resp) << resp.error().describe();
  EXPECT_EQ(resp->status, 200);
  EXPECT_EQ(resp->body, R"({"ok":true})");
  EXPECT_EQ(resp->header("content-type"), "application/json");
  EXPECT_EQ(resp->header("x-request-path"), "/latest/meta-data");

  auto log = server.requests();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].method, "GET");
  EXPECT_EQ(log[0].path, "/latest/meta-data");
  EXPECT_EQ(log[0].query, "x=1");
  EXPECT_EQ(log[0].header("x-custom"), "v1");
  EXPECT_EQ(log[0].header("host"), "127.0.0.1:" + std::to_string(server.port()));
}

TEST(HttpClient, PostSendsBodyAndHeadersAsGiven) {
  HttpServer server(echo);
  HttpClient client;
  std::string body = R"({"QueueUrl":"http://q","MessageBody":"hello"})";
  auto resp = client.send(
      {"POST",
       server.url("/"),
       {{"Content-Type", "application/x-amz-json-1.0"}, {"X-Amz-Target", "AmazonSQS.SendMessage"}},
       body});
  ASSERT_TRUE(resp) << resp.error().describe();
  EXPECT_EQ(resp->status, 200);
  EXPECT_EQ(resp->body, "POST / " + body);
  auto log = server.requests();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].body, body);
  EXPECT_EQ(log[0].header("content-type"), "application/x-amz-json-1.0");
  EXPECT_EQ(log[0].header("x-amz-target"), "AmazonSQS.SendMessage");
  EXPECT_EQ(log[0].header("content-length"), std::to_string(body.size()));
  // No "Expect: 100-continue" round trip, whatever the body size.
  EXPECT_FALSE(log[0].has_header("expect"));
}

TEST(HttpClient, LargePostBodyArrivesWholeWithoutExpect) {
  HttpServer server(echo);
  HttpClient client;
  std::string body(3 * 1024 * 1024, 'x');
  auto resp = client.send({"POST", server.url("/big"), {}, body});
  ASSERT_TRUE(resp) << resp.error().describe();
  auto log = server.requests();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].body.size(), body.size());
  EXPECT_FALSE(log[0].has_header("expect"));
}

TEST(HttpClient, PutWithEmptyBodySendsContentLengthZero) {
  HttpServer server(echo);
  HttpClient client;
  auto resp = client.send({"PUT", server.url("/latest/api/token"), {{"X-Ttl", "21600"}}, ""});
  ASSERT_TRUE(resp) << resp.error().describe();
  auto log = server.requests();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].method, "PUT");
  EXPECT_EQ(log[0].header("content-length"), "0");
  EXPECT_EQ(log[0].body, "");
}

TEST(HttpClient, DeleteAndHeadMethods) {
  HttpServer server(echo);
  HttpClient client;
  auto del = client.send({"DELETE", server.url("/thing"), {}, ""});
  ASSERT_TRUE(del) << del.error().describe();
  EXPECT_EQ(del->body, "DELETE /thing ");
  // HEAD: the response announces a body it does not send; the client must not wait for it.
  auto head = client.send({"HEAD", server.url("/thing"), {}, ""}, 2000ms);
  ASSERT_TRUE(head) << head.error().describe();
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->body, "");
  auto log = server.requests();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1].method, "HEAD");
}

TEST(HttpClient, ErrorStatusIsAResponseNotAnError) {
  HttpServer server([](const HttpServerRequest&) {
    return HttpServerResponse::json(R"({"__type":"QueueDoesNotExist"})", 400);
  });
  HttpClient client;
  auto resp = client.send({"GET", server.url("/"), {}, ""});
  ASSERT_TRUE(resp) << resp.error().describe();
  EXPECT_EQ(resp->status, 400);
  EXPECT_EQ(resp->body, R"({"__type":"QueueDoesNotExist"})");
}

TEST(HttpClient, TimeoutIsRetryableTimeoutError) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  HttpServer server([released](const HttpServerRequest&) {
    released.wait();  // holds the response until the client has given up
    return HttpServerResponse::text("late");
  });
  HttpClient client(HttpOptions{1000ms, 30000ms, true, {}});
  auto started = std::chrono::steady_clock::now();
  auto resp = client.send({"GET", server.url("/slow"), {}, ""}, 200ms);
  auto elapsed = std::chrono::steady_clock::now() - started;
  release.set_value();
  ASSERT_FALSE(resp);
  EXPECT_EQ(resp.error().kind, ErrorKind::kTimeout) << resp.error().describe();
  EXPECT_TRUE(resp.error().retryable);
  EXPECT_GE(elapsed, 190ms);
  EXPECT_LT(elapsed, 5s);
  EXPECT_EQ(server.request_count(), 1u);
}

TEST(HttpClient, ConnectionRefusedIsRetryableNetworkError) {
  // A bound socket that is not listening: the kernel refuses connections to its port,
  // and holding it keeps anyone else from taking the port meanwhile.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  std::string url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/";

  HttpClient client;
  auto resp = client.send({"GET", url, {}, ""});
  ::close(fd);
  ASSERT_FALSE(resp);
  EXPECT_EQ(resp.error().kind, ErrorKind::kNetwork) << resp.error().describe();
  EXPECT_TRUE(resp.error().retryable);
}

TEST(HttpClient, ReusesOneConnectionForSeveralRequests) {
  HttpServer server(echo);
  HttpClient client;
  for (int i = 0; i < 5; ++i) {
    auto resp = client.send({i % 2 == 0 ? "GET" : "POST", server.url("/n"), {}, "b"});
    ASSERT_TRUE(resp) << resp.error().describe();
    EXPECT_EQ(resp->status, 200);
  }
  EXPECT_EQ(server.request_count(), 5u);
  EXPECT_EQ(server.connection_count(), 1u);
  for (const auto& r : server.requests()) EXPECT_EQ(r.connection_id, 1u);
}

TEST(HttpClient, RecoversWhenTheServerClosesTheConnection) {
  HttpServer server([](const HttpServerRequest& r) {
    HttpServerResponse resp = echo(r);
    resp.close_connection = true;
    return resp;
  });
  HttpClient client;
  for (int i = 0; i < 3; ++i) {
    auto resp = client.send({"GET", server.url("/c"), {}, ""});
    ASSERT_TRUE(resp) << resp.error().describe();
  }
  EXPECT_EQ(server.connection_count(), 3u);
}

TEST(HttpClient, SeparateClientsUseSeparateConnections) {
  HttpServer server(echo);
  HttpClient a;
  HttpClient b;
  ASSERT_TRUE(a.send({"GET", server.url("/a"), {}, ""}));
  ASSERT_TRUE(b.send({"GET", server.url("/b"), {}, ""}));
  ASSERT_TRUE(a.send({"GET", server.url("/a"), {}, ""}));
  EXPECT_EQ(server.connection_count(), 2u);
}

TEST(HttpClient, MovedClientKeepsWorking) {
  HttpServer server(echo);
  HttpClient a;
  ASSERT_TRUE(a.send({"GET", server.url("/1"), {}, ""}));
  HttpClient b(std::move(a));
  ASSERT_TRUE(b.send({"GET", server.url("/2"), {}, ""}));
  EXPECT_EQ(server.connection_count(), 1u);
}

TEST(HttpClient, MalformedUrlIsInvalidNotRetryable) {
  HttpClient client;
  auto resp = client.send({"GET", "ftp://127.0.0.1/", {}, ""});
  ASSERT_FALSE(resp);
  EXPECT_FALSE(resp.error().retryable);
}

TEST(ParseUrl, SplitsSchemeHostPathQuery) {
  auto u = parse_url("http://127.0.0.1:4566/000000000000/q?Action=X&b=1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->scheme, "http");
  EXPECT_EQ(u->host, "127.0.0.1:4566");
  EXPECT_EQ(u->path, "/000000000000/q");
  EXPECT_EQ(u->query, "Action=X&b=1");

  auto bare = parse_url("https://sqs.us-east-1.amazonaws.com");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->path, "/");
  EXPECT_EQ(bare->query, "");

  auto query_only = parse_url("https://h?x=1");
  ASSERT_TRUE(query_only);
  EXPECT_EQ(query_only->host, "h");
  EXPECT_EQ(query_only->path, "/");
  EXPECT_EQ(query_only->query, "x=1");

  EXPECT_FALSE(parse_url("127.0.0.1:4566/"));
  EXPECT_FALSE(parse_url("ftp://h/"));
  EXPECT_FALSE(parse_url("http:///path"));
}

// ---- The test server itself ------------------------------------------------------------

int connect_to(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Everything the server sends until it closes the connection; closes fd.
std::string read_until_closed(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

// Sends raw bytes on a fresh connection and returns the server's answer.
std::string raw_exchange(std::uint16_t port, const std::string& bytes) {
  int fd = connect_to(port);
  if (fd < 0) return "connect failed";
  ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  return read_until_closed(fd);
}

TEST(TestHttpServer, DecodesChunkedBodiesAndHonoursConnectionClose) {
  HttpServer server(echo);
  std::string reply = raw_exchange(
      server.port(),
      "POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
      "\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 200 OK\r\n")) << reply;
  EXPECT_NE(reply.find("Connection: close\r\n"), std::string::npos) << reply;
  EXPECT_TRUE(reply.ends_with("POST /chunked hello world")) << reply;
  ASSERT_EQ(server.request_count(), 1u);
  EXPECT_EQ(server.requests()[0].body, "hello world");
}

TEST(TestHttpServer, AnswersExpectContinueAndFoldsHeaders) {
  HttpServer server(echo);
  int fd = connect_to(server.port());
  ASSERT_GE(fd, 0);
  std::string head =
      "PUT /x HTTP/1.0\r\nHost: x\r\nX-Multi: a\r\n  b\r\nExpect: 100-continue\r\n"
      "Content-Length: 3\r\n\r\n";
  ASSERT_EQ(::send(fd, head.data(), head.size(), MSG_NOSIGNAL), static_cast<ssize_t>(head.size()));
  // The interim response comes before we send the body.
  std::string interim;
  char c = 0;
  while (!interim.ends_with("\r\n\r\n") && ::recv(fd, &c, 1, 0) == 1) interim.push_back(c);
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_EQ(::send(fd, "abc", 3, MSG_NOSIGNAL), 3);
  std::string reply = read_until_closed(fd);  // HTTP/1.0 without keep-alive: server closes
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 200 OK\r\n")) << reply;
  ASSERT_EQ(server.request_count(), 1u);
  EXPECT_EQ(server.requests()[0].header("x-multi"), "a b");
  EXPECT_EQ(server.requests()[0].body, "abc");
}

TEST(TestHttpServer, MalformedRequestGets400) {
  HttpServer server(echo);
  std::string reply = raw_exchange(server.port(), "NONSENSE\r\n\r\n");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 400 ")) << reply;
  EXPECT_EQ(server.request_count(), 0u);
}

TEST(TestHttpServer, BlockedHandlerDoesNotBlockOtherConnections) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  HttpServer server([released](const HttpServerRequest& r) {
    if (r.path == "/block") released.wait();
    return echo(r);
  });
  std::thread blocked([&] {
    HttpClient client;
    auto resp = client.send({"GET", server.url("/block"), {}, ""});
    EXPECT_TRUE(resp);
  });
  ASSERT_TRUE(server.wait_for_requests(1, 5s));  // logged before the handler runs
  HttpClient other;
  auto resp = other.send({"GET", server.url("/free"), {}, ""}, 5000ms);
  ASSERT_TRUE(resp) << resp.error().describe();
  EXPECT_EQ(resp->body, "GET /free ");
  release.set_value();
  blocked.join();
  EXPECT_EQ(server.connection_count(), 2u);
}

TEST(TestHttpServer, HandlerExceptionBecomes500AndHandlerCanBeReplaced) {
  HttpServer server(
      [](const HttpServerRequest&) -> HttpServerResponse { throw std::runtime_error("boom"); });
  HttpClient client;
  auto first = client.send({"GET", server.url("/"), {}, ""});
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 500);
  EXPECT_NE(first->body.find("boom"), std::string::npos);
  server.set_handler(echo);
  auto second = client.send({"GET", server.url("/"), {}, ""});
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 200);
  server.clear_requests();
  EXPECT_EQ(server.request_count(), 0u);
}

TEST(TestHttpServer, StopClosesIdleKeepAliveConnections) {
  auto server = std::make_unique<HttpServer>(echo);
  HttpClient client;
  ASSERT_TRUE(client.send({"GET", server->url("/"), {}, ""}));
  std::string url = server->url("/");
  server->stop();  // returns although the client still holds an open connection
  server->stop();  // idempotent
  auto after = client.send({"GET", url, {}, ""}, 2000ms);
  EXPECT_FALSE(after);
}

}  // namespace
}  // namespace opfleet::aws

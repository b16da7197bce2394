// A small threaded HTTP/1.1 server on 127.0.0.1 (a free port) for tests that need a real
// peer: AWS credential endpoints, recorded ECS request/response pairs, the ECS agent
// endpoint, SigV4 cross-checks.
//
//   HttpServer server([](const HttpServerRequest& r) {
//     if (r.path == "/creds") return HttpServerResponse::json(R"({"AccessKeyId":"..."})");
//     return HttpServerResponse{404};
//   });
//   client.send({.url = server.url("/creds")});
//   EXPECT_EQ(server.requests().at(0).header("authorization"), "token");
//
// What it does:
//  - one thread accepts, one thread per connection serves requests one after another;
//    connections are kept alive (HTTP/1.1 default) unless the client or the response asks
//    for "Connection: close";
//  - request bodies with Content-Length or chunked transfer encoding; answers
//    "Expect: 100-continue";
//  - every request is appended to a log (with the id of the connection it came on, so a
//    test can assert connection reuse) BEFORE the handler runs: a test can wait for a
//    request while its handler is still blocked;
//  - the handler runs on the connection's thread, so it may block (e.g. on a latch, to
//    make a client time out); it must return before the server is destroyed. An
//    exception from the handler becomes a 500 response carrying its what();
//  - Content-Length is added to responses unless the handler set it.
// Not supported (not needed by clients under test): TLS, pipelined requests beyond
// sequential keep-alive, chunked responses, HTTP/2.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace opfleet::testing {

using HttpHeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpServerRequest {
  std::string method;               // "GET"
  std::string target;               // as received: "/path?query"
  std::string path;                 // "/path"
  std::string query;                // "query" (without '?'), empty when absent
  std::string version;              // "HTTP/1.1"
  HttpHeaderList headers;           // in order received, name case kept, value trimmed
  std::string body;                 // de-chunked
  std::uint64_t connection_id = 0;  // 1, 2, ... in accept order

  // First header with this name (case-insensitive), or empty.
  std::string header(std::string_view name) const;
  bool has_header(std::string_view name) const;
};

struct HttpServerResponse {
  int status = 200;
  HttpHeaderList headers;
  std::string body;
  bool close_connection = false;  // send "Connection: close" and close after this response

  static HttpServerResponse json(std::string body, int status = 200);
  static HttpServerResponse text(std::string body, int status = 200);
};

using HttpHandler = std::function<HttpServerResponse(const HttpServerRequest&)>;

class HttpServer {
 public:
  // Listens at once; throws std::runtime_error if the socket cannot be set up.
  explicit HttpServer(HttpHandler handler);
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  std::uint16_t port() const { return port_; }
  // "http://127.0.0.1:PORT" and "http://127.0.0.1:PORT<path>".
  std::string base_url() const;
  std::string url(std::string_view path) const;

  // Replaces the handler for requests that arrive from now on.
  void set_handler(HttpHandler handler);

  // The request log (a copy), its size, and the number of connections accepted.
  std::vector<HttpServerRequest> requests() const;
  std::size_t request_count() const;
  std::size_t connection_count() const;
  void clear_requests();
  // Waits until at least `n` requests were received (true) or `timeout` passed (false).
  bool wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const;

  // Stops accepting, closes every connection and joins the threads. Idempotent.
  void stop();

 private:
  void accept_loop();
  void serve(int fd, std::uint64_t connection_id);
  HttpHandler current_handler() const;

  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: wakes the accept loop on stop()
  std::uint16_t port_ = 0;

  mutable std::mutex mutex_;
  mutable std::condition_variable request_cv_;
  HttpHandler handler_;
  std::vector<HttpServerRequest> log_;
  std::size_t connections_ = 0;
  std::set<int> open_fds_;  // connection sockets still being served
  bool stopping_ = false;

  std::thread acceptor_;
  std::vector<std::thread> workers_;  // guarded by mutex_ (appended by the acceptor)
};

}  // namespace opfleet::testing

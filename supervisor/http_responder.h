// A tiny HTTP/1.0 responder inside the supervisor's event loop, for /healthz and
// /metrics: non-blocking sockets (all CLOEXEC), one request per connection, the answer
// is written and the connection closed. It never blocks the loop: partial reads and
// writes wait for the next readiness event, a slow or idle client is dropped after a
// timeout, requests larger than 8 KiB are refused, and at most 32 connections are open.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "supervisor/event_loop.h"
#include "supervisor/unique_fd.h"

namespace opfleet::supervisor {

struct HttpAnswer {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// "GET /metrics HTTP/1.1\r\n..." -> method and path (query dropped); false if malformed.
bool parse_request_line(std::string_view request, std::string* method, std::string* path);
// The full response bytes (HTTP/1.0, Content-Length, Connection: close).
std::string format_response(const HttpAnswer& answer, bool head_only);

// "127.0.0.1:9187" -> host and port; kInvalid otherwise. IPv4 literals only (the
// endpoint is for a local agent or scraper; binding a name would need a resolver).
Result<std::pair<std::string, std::uint16_t>> parse_listen_address(std::string_view text);

class HttpResponder {
 public:
  using Handler = std::function<HttpAnswer(std::string_view method, std::string_view path)>;

  // Binds and listens (port 0 = a free port, see port()) and registers with `loop`.
  static Result<std::unique_ptr<HttpResponder>> start(EventLoop& loop, std::string_view listen,
                                                      Handler handler);
  ~HttpResponder();
  HttpResponder(const HttpResponder&) = delete;
  HttpResponder& operator=(const HttpResponder&) = delete;

  std::uint16_t port() const { return port_; }
  // Drops connections older than the timeout; call from the loop's tick.
  void expire(std::chrono::steady_clock::time_point now);

 private:
  struct Connection {
    UniqueFd fd;
    std::string in;
    std::string out;
    std::size_t written = 0;
    std::chrono::steady_clock::time_point opened;
  };
  HttpResponder(EventLoop& loop, UniqueFd listen_fd, std::uint16_t port, Handler handler);
  void on_accept();
  void on_event(int fd, std::uint32_t events);
  void respond(Connection& c);
  bool flush(Connection& c);  // true when everything was written
  void close(int fd);

  EventLoop& loop_;
  UniqueFd listen_fd_;
  std::uint16_t port_;
  Handler handler_;
  std::map<int, Connection> connections_;
};

}  // namespace opfleet::supervisor

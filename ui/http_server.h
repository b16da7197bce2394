// A small HTTP/1.1 server for the dashboard: a fixed pool of threads over blocking
// sockets, one request per connection (Connection: close), GET and HEAD only.
//
// Why not a framework: the dashboard serves a handful of read-only pages to a few
// operators; this is ~300 lines we control, with the limits a server facing a browser
// needs, and no dependency Debian does not package.
//
// Robustness:
//  * every descriptor is O_CLOEXEC (listening socket, accepted sockets, the stop eventfd);
//  * a request head is limited to max_request_bytes (431 beyond it), request bodies are
//    refused (GETs carry none), and the whole head must arrive within read_timeout (a
//    slow or silent client is dropped with 408, so it cannot hold a thread for ever);
//  * writes are bounded by write_timeout and use MSG_NOSIGNAL (a client that went away
//    never raises SIGPIPE);
//  * the handler runs on the thread that accepted, and knows that thread's index, so it
//    can keep per-thread state (a database connection) without locks.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/result.h"

namespace opfleet::ui {

struct HttpRequest {
  std::string method;                          // "GET" or "HEAD"
  std::string target;                          // as sent: "/runs?job=a&page=2"
  std::string path;                            // percent-decoded path: "/runs"
  std::string query;                           // raw query string (after '?'), not decoded
  std::map<std::string, std::string> headers;  // names lower-cased
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/html; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

struct ServerOptions {
  std::string host = "127.0.0.1";  // an IPv4 address
  int port = 3000;                 // 0: a free port (see HttpServer::port)
  int threads = 4;
  std::size_t max_request_bytes = 16 * 1024;
  std::chrono::milliseconds read_timeout{5000};
  std::chrono::milliseconds write_timeout{10000};
};

// Called on a server thread; `thread_index` is in [0, threads).
using Handler = std::function<HttpResponse(const HttpRequest& request, int thread_index)>;

class HttpServer {
 public:
  // Binds and listens (errors: kInvalid for a bad address, kUnavailable when the port is
  // taken), then starts the threads.
  static Result<std::unique_ptr<HttpServer>> start(ServerOptions options, Handler handler);
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound port (the chosen one when options.port was 0).
  int port() const { return port_; }
  // Stops accepting, lets requests in progress finish, joins the threads. Idempotent.
  void stop();

 private:
  HttpServer(ServerOptions options, Handler handler)
      : options_(std::move(options)), handler_(std::move(handler)) {}
  void serve(int thread_index);
  void handle_connection(int fd, int thread_index);

  ServerOptions options_;
  Handler handler_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;  // eventfd: readable once stop() was called
  int port_ = 0;
  std::atomic<bool> stopped_{false};
  std::vector<std::thread> threads_;
};

// "200 OK", "404 Not Found"... (the reason phrase of the status codes the server uses).
std::string_view reason_phrase(int status);

// Parses a request head ("GET /x?y HTTP/1.1\r\nHost: ...\r\n\r\n"). kInvalid with a
// message for anything malformed. Exposed for tests.
Result<HttpRequest> parse_request_head(std::string_view head);

}  // namespace opfleet::ui

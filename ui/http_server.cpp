#include "ui/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "common/log.h"
#include "ui/query.h"

namespace opfleet::ui {

namespace {

using Clock = std::chrono::steady_clock;

std::string errno_text(int err) {
  return std::strerror(err);
}

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Sends everything before `deadline`; false when the client is gone or too slow.
bool send_all(int fd, std::string_view data, Clock::time_point deadline) {
  while (!data.empty()) {
    pollfd p{fd, POLLOUT, 0};
    const int ms = remaining_ms(deadline);
    if (ms == 0 || ::poll(&p, 1, ms) <= 0) return false;
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::string serialize(const HttpResponse& r, bool head_only) {
  std::string out = fmt::format(
      "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n"
      "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n",
      reason_phrase(r.status), r.content_type, r.body.size());
  for (const auto& [name, value] : r.headers) out += fmt::format("{}: {}\r\n", name, value);
  out += "\r\n";
  if (!head_only) out += r.body;
  return out;
}

HttpResponse plain(int status, std::string message) {
  HttpResponse r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(message) + "\n";
  return r;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200:
      return "200 OK";
    case 302:
      return "302 Found";
    case 400:
      return "400 Bad Request";
    case 404:
      return "404 Not Found";
    case 405:
      return "405 Method Not Allowed";
    case 408:
      return "408 Request Timeout";
    case 413:
      return "413 Content Too Large";
    case 431:
      return "431 Request Header Fields Too Large";
    case 500:
      return "500 Internal Server Error";
    case 503:
      return "503 Service Unavailable";
    default:
      return status < 500 ? "400 Bad Request" : "500 Internal Server Error";
  }
}

Result<HttpRequest> parse_request_head(std::string_view head) {
  const auto line_end = head.find("\r\n");
  if (line_end == std::string_view::npos) return fail(Error::invalid("no request line"));
  const std::string_view line = head.substr(0, line_end);
  const auto sp1 = line.find(' ');
  const auto sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) {
    return fail(Error::invalid("malformed request line"));
  }
  HttpRequest req;
  req.method = std::string(line.substr(0, sp1));
  req.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  const std::string_view version = line.substr(sp2 + 1);
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    return fail(Error::invalid("unsupported HTTP version"));
  }
  if (req.target.empty() || req.target.front() != '/') {
    return fail(Error::invalid("the request target must be a path"));
  }
  const auto q = req.target.find('?');
  const std::string_view raw_path = std::string_view(req.target).substr(0, q);
  if (q != std::string::npos) req.query = req.target.substr(q + 1);
  auto path = percent_decode(raw_path, false);
  if (!path) return fail(std::move(path).error());
  req.path = std::move(*path);
  std::string_view rest = head.substr(line_end + 2);
  while (!rest.empty()) {
    const auto end = rest.find("\r\n");
    const std::string_view field = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 2);
    if (field.empty()) break;
    const auto colon = field.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return fail(Error::invalid("malformed header field"));
    }
    req.headers[lower(field.substr(0, colon))] = std::string(trim(field.substr(colon + 1)));
  }
  return req;
}

Result<std::unique_ptr<HttpServer>> HttpServer::start(ServerOptions options, Handler handler) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(options.port));
  if (::inet_pton(AF_INET, options.host.c_str(), &addr.sin_addr) != 1) {
    return fail(
        Error::invalid(fmt::format("listen address '{}' is not an IPv4 address", options.host)));
  }
  if (options.threads < 1) return fail(Error::invalid("the server needs at least one thread"));
  std::unique_ptr<HttpServer> server(new HttpServer(std::move(options), std::move(handler)));
  // Non-blocking: every thread polls the socket and races to accept; the losers get
  // EAGAIN and go back to polling instead of blocking in accept().
  server->listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (server->listen_fd_ < 0) {
    return fail(Error::make(ErrorKind::kUnavailable, "socket: " + errno_text(errno)));
  }
  const int one = 1;
  ::setsockopt(server->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(server->listen_fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return fail(Error::make(ErrorKind::kUnavailable,
                            fmt::format("cannot listen on {}:{}: {}", server->options_.host,
                                        server->options_.port, errno_text(errno))));
  }
  if (::listen(server->listen_fd_, 128) != 0) {
    return fail(Error::make(ErrorKind::kUnavailable, "listen: " + errno_text(errno)));
  }
  sockaddr_in bound{};
  socklen_t len = sizeof bound;
  ::getsockname(server->listen_fd_, reinterpret_cast<sockaddr*>(&bound), &len);
  server->port_ = ntohs(bound.sin_port);
  server->stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (server->stop_fd_ < 0) {
    return fail(Error::make(ErrorKind::kUnavailable, "eventfd: " + errno_text(errno)));
  }
  for (int i = 0; i < server->options_.threads; ++i) {
    server->threads_.emplace_back([s = server.get(), i] { s->serve(i); });
  }
  return server;
}

HttpServer::~HttpServer() {
  stop();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (stop_fd_ >= 0) ::close(stop_fd_);
}

void HttpServer::stop() {
  if (stopped_.exchange(true)) return;
  if (stop_fd_ >= 0) {
    const std::uint64_t one = 1;
    // The counter only grows; a failed write (it cannot overflow here) would be a bug.
    [[maybe_unused]] const auto n = ::write(stop_fd_, &one, sizeof one);
  }
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void HttpServer::serve(int thread_index) {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      log::error("ui_poll_failed", {{"error", errno_text(errno)}});
      return;
    }
    if (fds[1].revents != 0) return;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      // EAGAIN: another thread took it. EMFILE and friends: the next poll retries, and a
      // short pause keeps a descriptor shortage from spinning a core.
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED) {
        log::warn("ui_accept_failed", {{"error", errno_text(errno)}});
        pollfd stop{stop_fd_, POLLIN, 0};
        ::poll(&stop, 1, 100);
      }
      continue;
    }
    handle_connection(fd, thread_index);
    ::close(fd);
  }
}

void HttpServer::handle_connection(int fd, int thread_index) {
  const auto read_deadline = Clock::now() + options_.read_timeout;
  std::string buf;
  std::size_t head_end = std::string::npos;
  HttpResponse response;
  bool have_response = false;
  while (head_end == std::string::npos) {
    if (buf.size() > options_.max_request_bytes) {
      response = plain(431, "request head too large");
      have_response = true;
      break;
    }
    pollfd p{fd, POLLIN, 0};
    const int ms = remaining_ms(read_deadline);
    if (ms == 0 || ::poll(&p, 1, ms) <= 0) {
      response = plain(408, "request not received in time");
      have_response = true;
      break;
    }
    char chunk[4096];
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n == 0) return;  // the client closed before sending a request
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return;
    }
    buf.append(chunk, static_cast<std::size_t>(n));
    head_end = buf.find("\r\n\r\n");
  }
  bool head_only = false;
  if (!have_response) {
    if (head_end + 4 > options_.max_request_bytes) {
      response = plain(431, "request head too large");
    } else if (auto req = parse_request_head(std::string_view(buf).substr(0, head_end + 2)); !req) {
      response = plain(400, req.error().message);
    } else if (req->method != "GET" && req->method != "HEAD") {
      response = plain(405, "the dashboard is read-only: GET and HEAD only");
      response.headers.emplace_back("Allow", "GET, HEAD");
    } else if ((req->headers.count("content-length") != 0 &&
                req->headers["content-length"] != "0") ||
               req->headers.count("transfer-encoding") != 0) {
      response = plain(413, "request bodies are not accepted");
    } else {
      head_only = req->method == "HEAD";
      try {
        response = handler_(*req, thread_index);
      } catch (const std::exception& e) {
        // A handler bug must not take the server down with it; the log says where.
        log::error("ui_handler_exception", {{"path", req->path}, {"error", e.what()}});
        response = plain(500, "internal error");
      }
    }
  }
  send_all(fd, serialize(response, head_only), Clock::now() + options_.write_timeout);
  // Half-close so the client sees the end of the response at once (Connection: close).
  ::shutdown(fd, SHUT_WR);
}

}  // namespace opfleet::ui

#include "supervisor/http_responder.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

#include "common/log.h"

namespace opfleet::supervisor {

namespace {

constexpr std::size_t kMaxRequestBytes = 8 * 1024;
constexpr std::size_t kMaxConnections = 32;
constexpr auto kConnectionTimeout = std::chrono::seconds(5);

const char* reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Content Too Large";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

}  // namespace

bool parse_request_line(std::string_view request, std::string* method, std::string* path) {
  auto eol = request.find_first_of("\r\n");
  std::string_view line = request.substr(0, eol);
  auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return false;
  auto sp2 = line.find(' ', sp1 + 1);
  std::string_view target =
      line.substr(sp1 + 1, sp2 == std::string_view::npos ? std::string_view::npos : sp2 - sp1 - 1);
  if (target.empty() || target[0] != '/') return false;
  if (sp2 != std::string_view::npos && !line.substr(sp2 + 1).starts_with("HTTP/")) return false;
  *method = std::string(line.substr(0, sp1));
  *path = std::string(target.substr(0, target.find('?')));
  return true;
}

std::string format_response(const HttpAnswer& a, bool head_only) {
  std::string out = fmt::format(
      "HTTP/1.0 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n"
      "Connection: close\r\n\r\n",
      a.status, reason_phrase(a.status), a.content_type, a.body.size());
  if (!head_only) out += a.body;
  return out;
}

Result<std::pair<std::string, std::uint16_t>> parse_listen_address(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return fail(Error::invalid(fmt::format("--http-listen '{}': expected HOST:PORT", text)));
  }
  std::string host(text.substr(0, colon));
  std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    return fail(Error::invalid(fmt::format("--http-listen '{}': bad port", text)));
  }
  in_addr addr{};
  if (inet_pton(AF_INET, host.c_str(), &addr) != 1) {
    return fail(
        Error::invalid(fmt::format("--http-listen '{}': HOST must be an IPv4 address", text)));
  }
  return std::pair{host, static_cast<std::uint16_t>(port)};
}

Result<std::unique_ptr<HttpResponder>> HttpResponder::start(EventLoop& loop,
                                                            std::string_view listen,
                                                            Handler handler) {
  OPFLEET_TRY(auto hp, parse_listen_address(listen));
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return fail(Error::internal(fmt::format("socket: {}", std::strerror(errno))));
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(hp.second);
  inet_pton(AF_INET, hp.first.c_str(), &sa.sin_addr);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      ::listen(fd.get(), 64) != 0) {
    return fail(Error::invalid(fmt::format("--http-listen {}: {}", listen, std::strerror(errno))));
  }
  socklen_t len = sizeof sa;
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &len);
  std::unique_ptr<HttpResponder> r(
      new HttpResponder(loop, std::move(fd), ntohs(sa.sin_port), std::move(handler)));
  HttpResponder* self = r.get();
  OPFLEET_TRY_STATUS(
      loop.add(r->listen_fd_.get(), EPOLLIN, [self](std::uint32_t) { self->on_accept(); }));
  return r;
}

HttpResponder::HttpResponder(EventLoop& loop, UniqueFd listen_fd, std::uint16_t port,
                             Handler handler)
    : loop_(loop), listen_fd_(std::move(listen_fd)), port_(port), handler_(std::move(handler)) {}

HttpResponder::~HttpResponder() {
  while (!connections_.empty()) close(connections_.begin()->first);
  loop_.remove(listen_fd_.get());
}

void HttpResponder::on_accept() {
  for (;;) {
    int cfd = accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0) return;  // EAGAIN: all accepted (other errors: the client is gone)
    UniqueFd owned(cfd);
    if (connections_.size() >= kMaxConnections) continue;  // closed: shed load
    if (!loop_.add(cfd, EPOLLIN | EPOLLRDHUP,
                   [this, cfd](std::uint32_t ev) { on_event(cfd, ev); })) {
      continue;
    }
    Connection c;
    c.fd = std::move(owned);
    c.opened = std::chrono::steady_clock::now();
    connections_.emplace(cfd, std::move(c));
  }
}

void HttpResponder::on_event(int fd, std::uint32_t events) {
  auto it = connections_.find(fd);
  if (it == connections_.end()) return;
  Connection& c = it->second;
  if (!c.out.empty()) {
    if (flush(c)) close(fd);
    return;
  }
  char buf[2048];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      c.in.append(buf, static_cast<std::size_t>(n));
      if (c.in.size() > kMaxRequestBytes) break;
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      // Peer closed (or failed) before a full request: nothing to answer.
      if (c.in.find("\r\n\r\n") == std::string::npos && c.in.find("\n\n") == std::string::npos) {
        close(fd);
        return;
      }
    }
    break;
  }
  (void)events;
  bool complete =
      c.in.find("\r\n\r\n") != std::string::npos || c.in.find("\n\n") != std::string::npos;
  if (c.in.size() > kMaxRequestBytes) {
    c.out = format_response({413, "text/plain; charset=utf-8", "request too large\n"}, false);
  } else if (!complete) {
    return;  // wait for the rest
  } else {
    respond(c);
  }
  if (flush(c)) {
    close(fd);
  } else {
    (void)loop_.modify(fd, EPOLLOUT);
  }
}

void HttpResponder::respond(Connection& c) {
  std::string method;
  std::string path;
  if (!parse_request_line(c.in, &method, &path)) {
    c.out = format_response({400, "text/plain; charset=utf-8", "bad request\n"}, false);
    return;
  }
  if (method != "GET" && method != "HEAD") {
    c.out = format_response({405, "text/plain; charset=utf-8", "only GET and HEAD\n"}, false);
    return;
  }
  c.out = format_response(handler_(method, path), method == "HEAD");
}

bool HttpResponder::flush(Connection& c) {
  while (c.written < c.out.size()) {
    ssize_t n = send(c.fd.get(), c.out.data() + c.written, c.out.size() - c.written, MSG_NOSIGNAL);
    if (n > 0) {
      c.written += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
    if (n < 0 && errno == EINTR) continue;
    return true;  // the client is gone: nothing more to write
  }
  return true;
}

void HttpResponder::close(int fd) {
  loop_.remove(fd);
  connections_.erase(fd);  // closes
}

void HttpResponder::expire(std::chrono::steady_clock::time_point now) {
  for (auto it = connections_.begin(); it != connections_.end();) {
    int fd = it->first;
    ++it;
    if (now - connections_.at(fd).opened > kConnectionTimeout) close(fd);
  }
}

}  // namespace opfleet::supervisor

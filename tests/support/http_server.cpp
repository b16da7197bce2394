#include "tests/support/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>

namespace opfleet::testing {
namespace {

constexpr std::size_t kMaxHead = 64 * 1024;
constexpr std::size_t kMaxBody = 64 * 1024 * 1024;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

const char* reason(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Status";
  }
}

std::string find_header(const HttpHeaderList& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return v;
  }
  return {};
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Buffered reads from one connection.
class Reader {
 public:
  explicit Reader(int fd) : fd_(fd) {}

  // Reads more bytes into the buffer; false on EOF or error.
  bool fill() {
    char chunk[16384];
    for (;;) {
      ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      buf_.append(chunk, static_cast<std::size_t>(n));
      return true;
    }
  }

  // The bytes up to and including "\r\n\r\n", or nullopt at EOF/oversize.
  std::optional<std::string> read_head() {
    for (;;) {
      auto end = buf_.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::string head = buf_.substr(0, end + 4);
        buf_.erase(0, end + 4);
        return head;
      }
      if (buf_.size() > kMaxHead || !fill()) return std::nullopt;
    }
  }

  std::optional<std::string> read_line() {
    for (;;) {
      auto end = buf_.find("\r\n");
      if (end != std::string::npos) {
        std::string line = buf_.substr(0, end);
        buf_.erase(0, end + 2);
        return line;
      }
      if (buf_.size() > kMaxHead || !fill()) return std::nullopt;
    }
  }

  std::optional<std::string> read_exact(std::size_t n) {
    while (buf_.size() < n) {
      if (!fill()) return std::nullopt;
    }
    std::string out = buf_.substr(0, n);
    buf_.erase(0, n);
    return out;
  }

  bool buffered() const { return !buf_.empty(); }

 private:
  int fd_;
  std::string buf_;
};

// Request line and headers; false on a malformed head.
bool parse_head(const std::string& head, HttpServerRequest* r) {
  std::size_t pos = 0;
  bool first = true;
  while (pos < head.size()) {
    std::size_t end = head.find("\r\n", pos);
    if (end == std::string::npos) break;
    std::string_view line(head.data() + pos, end - pos);
    pos = end + 2;
    if (line.empty()) break;
    if (first) {
      first = false;
      std::size_t a = line.find(' ');
      std::size_t b = line.rfind(' ');
      if (a == std::string_view::npos || b == a) return false;
      r->method = std::string(line.substr(0, a));
      r->target = std::string(line.substr(a + 1, b - a - 1));
      r->version = std::string(line.substr(b + 1));
      if (!r->version.starts_with("HTTP/1.")) return false;
      std::size_t q = r->target.find('?');
      r->path = r->target.substr(0, q);
      if (q != std::string::npos) r->query = r->target.substr(q + 1);
      continue;
    }
    if (line.front() == ' ' || line.front() == '\t') {  // obsolete line folding
      if (r->headers.empty()) return false;
      r->headers.back().second += " " + std::string(trim(line));
      continue;
    }
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    r->headers.emplace_back(std::string(line.substr(0, colon)),
                            std::string(trim(line.substr(colon + 1))));
  }
  return !first;
}

// Reads the body announced by the head; false when it is malformed or cut short.
bool read_body(Reader& in, int fd, HttpServerRequest* r) {
  if (iequals(r->header("expect"), "100-continue") && !in.buffered()) {
    if (!send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n")) return false;
  }
  std::string te = r->header("transfer-encoding");
  if (!te.empty()) {
    if (!iequals(te, "chunked")) return false;
    for (;;) {
      auto size_line = in.read_line();
      if (!size_line) return false;
      std::size_t size = 0;
      try {
        size = std::stoul(*size_line, nullptr, 16);  // chunk extensions after ';' ignored
      } catch (const std::exception&) {
        return false;
      }
      if (r->body.size() + size > kMaxBody) return false;
      if (size == 0) {
        // Trailers, then the empty line.
        for (;;) {
          auto trailer = in.read_line();
          if (!trailer) return false;
          if (trailer->empty()) return true;
        }
      }
      auto data = in.read_exact(size);
      if (!data) return false;
      r->body += *data;
      auto crlf = in.read_line();
      if (!crlf || !crlf->empty()) return false;
    }
  }
  std::string cl = r->header("content-length");
  if (cl.empty()) return true;
  std::size_t length = 0;
  try {
    std::size_t used = 0;
    length = std::stoul(cl, &used, 10);
    if (used != cl.size()) return false;
  } catch (const std::exception&) {
    return false;
  }
  if (length > kMaxBody) return false;
  auto body = in.read_exact(length);
  if (!body) return false;
  r->body = std::move(*body);
  return true;
}

bool wants_close(const HttpServerRequest& r) {
  std::string connection = r.header("connection");
  if (r.version == "HTTP/1.0") return !iequals(connection, "keep-alive");
  return iequals(connection, "close");
}

std::string render(const HttpServerResponse& resp, bool head_request, bool close) {
  std::string out = fmt::format("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
  bool has_length = false;
  for (const auto& [k, v] : resp.headers) {
    if (iequals(k, "content-length")) has_length = true;
    if (iequals(k, "connection")) continue;  // decided below
    out += fmt::format("{}: {}\r\n", k, v);
  }
  bool bodiless = resp.status < 200 || resp.status == 204 || resp.status == 304;
  if (!has_length && !bodiless) out += fmt::format("Content-Length: {}\r\n", resp.body.size());
  out += close ? "Connection: close\r\n" : "Connection: keep-alive\r\n";
  out += "\r\n";
  if (!head_request && !bodiless) out += resp.body;
  return out;
}

}  // namespace

std::string HttpServerRequest::header(std::string_view name) const {
  return find_header(headers, name);
}

bool HttpServerRequest::has_header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return true;
  }
  return false;
}

HttpServerResponse HttpServerResponse::json(std::string body, int status) {
  return HttpServerResponse{status, {{"Content-Type", "application/json"}}, std::move(body), false};
}

HttpServerResponse HttpServerResponse::text(std::string body, int status) {
  return HttpServerResponse{status, {{"Content-Type", "text/plain"}}, std::move(body), false};
}

HttpServer::HttpServer(HttpHandler handler) : handler_(std::move(handler)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error(fmt::format("socket: {}", std::strerror(errno)));
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 128) != 0) {
    int err = errno;
    ::close(listen_fd_);
    throw std::runtime_error(fmt::format("bind/listen 127.0.0.1:0: {}", std::strerror(err)));
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    int err = errno;
    ::close(listen_fd_);
    throw std::runtime_error(fmt::format("eventfd: {}", std::strerror(err)));
  }
  acceptor_ = std::thread([this] { accept_loop(); });
}

HttpServer::~HttpServer() {
  stop();
}

std::string HttpServer::base_url() const {
  return fmt::format("http://127.0.0.1:{}", port_);
}

std::string HttpServer::url(std::string_view path) const {
  return base_url() + std::string(path);
}

void HttpServer::set_handler(HttpHandler handler) {
  std::lock_guard lock(mutex_);
  handler_ = std::move(handler);
}

HttpHandler HttpServer::current_handler() const {
  std::lock_guard lock(mutex_);
  return handler_;
}

std::vector<HttpServerRequest> HttpServer::requests() const {
  std::lock_guard lock(mutex_);
  return log_;
}

std::size_t HttpServer::request_count() const {
  std::lock_guard lock(mutex_);
  return log_.size();
}

std::size_t HttpServer::connection_count() const {
  std::lock_guard lock(mutex_);
  return connections_;
}

void HttpServer::clear_requests() {
  std::lock_guard lock(mutex_);
  log_.clear();
}

bool HttpServer::wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return request_cv_.wait_for(lock, timeout, [&] { return log_.size() >= n; });
}

void HttpServer::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    // Wake every connection blocked in recv(); each thread closes its own fd, so no fd
    // number is closed twice or reused under another thread's feet.
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(mutex_);
    workers.swap(workers_);
  }
  for (auto& t : workers) t.join();
  ::close(listen_fd_);
  ::close(wake_fd_);
}

void HttpServer::accept_loop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    int rc = ::poll(fds, 2, -1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;  // ECONNABORTED and friends: the client gave up
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard lock(mutex_);
    if (stopping_) {
      ::close(fd);
      return;
    }
    std::uint64_t id = ++connections_;
    open_fds_.insert(fd);
    workers_.emplace_back([this, fd, id] { serve(fd, id); });
  }
}

void HttpServer::serve(int fd, std::uint64_t connection_id) {
  Reader in(fd);
  for (;;) {
    auto head = in.read_head();
    if (!head) break;
    HttpServerRequest request;
    request.connection_id = connection_id;
    if (!parse_head(*head, &request) || !read_body(in, fd, &request)) {
      send_all(fd, render(HttpServerResponse::text("bad request\n", 400), false, true));
      break;
    }
    {
      std::lock_guard lock(mutex_);
      log_.push_back(request);
    }
    request_cv_.notify_all();

    HttpServerResponse response;
    try {
      HttpHandler handler = current_handler();
      response = handler ? handler(request) : HttpServerResponse::text("no handler\n", 500);
    } catch (const std::exception& e) {
      response = HttpServerResponse::text(fmt::format("handler threw: {}\n", e.what()), 500);
    }
    bool close = response.close_connection || wants_close(request);
    if (!send_all(fd, render(response, request.method == "HEAD", close)) || close) break;
  }
  std::lock_guard lock(mutex_);
  open_fds_.erase(fd);
  ::close(fd);
}

}  // namespace opfleet::testing

// HTTP over libcurl for the AWS clients (SQS, ECS, credential endpoints).
// One HttpClient owns one curl easy handle, so connections are reused across calls;
// it is not thread-safe: use one client per thread.
// TLS verification is always on unless the caller explicitly turns it off.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace opfleet::aws {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";  // GET, POST, PUT, DELETE
  std::string url;             // absolute: scheme://host[:port]/path[?query]
  Headers headers;             // sent as given (case preserved)
  std::string body;
};

struct HttpResponse {
  long status = 0;
  Headers headers;  // names lower-cased
  std::string body;

  // First header with this (lower-case) name, or empty.
  std::string header(std::string_view lower_name) const;
};

struct HttpOptions {
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds timeout{30000};  // whole request, including a long poll
  bool verify_tls = true;
  std::string ca_file;  // optional CA bundle
  // Ignore http_proxy/https_proxy/no_proxy from the environment. Credential endpoints
  // (ECS agent, IMDS) set it: their answers carry secrets and are link-local anyway.
  bool bypass_proxy = false;
  // When set and true, a request in progress (e.g. a 20 s long poll) is abandoned within
  // about a second and fails with kUnavailable, code "Aborted", not retryable.
  const std::atomic<bool>* abort_flag = nullptr;
};

class HttpClient {
 public:
  explicit HttpClient(HttpOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;

  // Sends the request. Transport failures (refused, reset, DNS, TLS, timeout) are
  // errors of kind kNetwork/kTimeout, marked retryable. Any HTTP status is a response:
  // the caller decides what a 4xx/5xx means.
  Result<HttpResponse> send(const HttpRequest& request);

  // Per-call timeout override (e.g. a 20 s long poll needs more than the default).
  Result<HttpResponse> send(const HttpRequest& request, std::chrono::milliseconds timeout);

  const HttpOptions& options() const { return options_; }

 private:
  HttpOptions options_;
  void* curl_ = nullptr;  // CURL*
};

// Must run once before any thread is started (libcurl global init is not thread-safe).
void http_global_init();

// Splits "scheme://host[:port]/path?query" into parts; host keeps the port.
struct UrlParts {
  std::string scheme;
  std::string host;   // "example.com" or "127.0.0.1:4566"
  std::string path;   // "/" when absent
  std::string query;  // without '?'
};
Result<UrlParts> parse_url(std::string_view url);

}  // namespace opfleet::aws

#include "aws/http.h"

#include <curl/curl.h>
#include <strings.h>

#include <algorithm>
#include <cctype>
#include <mutex>

#include <fmt/format.h>

namespace opfleet::aws {
namespace {

size_t on_body(char* data, size_t size, size_t nmemb, void* user) {
  auto* out = static_cast<std::string*>(user);
  out->append(data, size * nmemb);
  return size * nmemb;
}

size_t on_header(char* data, size_t size, size_t nmemb, void* user) {
  auto* headers = static_cast<Headers*>(user);
  std::string_view line(data, size * nmemb);
  if (line.starts_with("HTTP/")) {
    headers->clear();  // a new response (after 100-continue or a redirect) starts over
    return size * nmemb;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return size * nmemb;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
    value.remove_suffix(1);
  headers->emplace_back(std::move(name), std::string(value));
  return size * nmemb;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* flag = static_cast<const std::atomic<bool>*>(user);
  return flag != nullptr && flag->load() ? 1 : 0;  // non-zero aborts the transfer
}

Error transport_error(CURLcode code, const std::string& url, const char* detail) {
  std::string msg = fmt::format("{} {}: {}", url, curl_easy_strerror(code),
                                detail != nullptr && *detail != '\0' ? detail : "");
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return Error::make(ErrorKind::kTimeout, std::move(msg), true);
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
      return Error::make(ErrorKind::kNetwork, std::move(msg), true);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return Error::make(ErrorKind::kInvalid, std::move(msg), false);
    case CURLE_ABORTED_BY_CALLBACK: {
      Error e = Error::make(ErrorKind::kUnavailable, std::move(msg), false);
      e.code = "Aborted";
      return e;
    }
    case CURLE_PEER_FAILED_VERIFICATION:
      return Error::make(ErrorKind::kAuth, std::move(msg), false);
    default:
      return Error::make(ErrorKind::kNetwork, std::move(msg), true);
  }
}

}  // namespace

std::string HttpResponse::header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return {};
}

void http_global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

HttpClient::HttpClient(HttpOptions options) : options_(std::move(options)) {
  http_global_init();
  curl_ = curl_easy_init();
}

HttpClient::~HttpClient() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

HttpClient::HttpClient(HttpClient&& other) noexcept
    : options_(std::move(other.options_)), curl_(std::exchange(other.curl_, nullptr)) {}

HttpClient& HttpClient::operator=(HttpClient&& other) noexcept {
  if (this != &other) {
    if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
    options_ = std::move(other.options_);
    curl_ = std::exchange(other.curl_, nullptr);
  }
  return *this;
}

Result<HttpResponse> HttpClient::send(const HttpRequest& request) {
  return send(request, options_.timeout);
}

Result<HttpResponse> HttpClient::send(const HttpRequest& request,
                                      std::chrono::milliseconds timeout) {
  if (curl_ == nullptr) return fail(Error::internal("curl_easy_init failed"));
  CURL* c = static_cast<CURL*>(curl_);
  // Reset clears per-request options but keeps the connection cache (connection reuse).
  curl_easy_reset(c);
  HttpResponse response;
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM in a multi-threaded process
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, options_.verify_tls ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, options_.verify_tls ? 2L : 0L);
  if (!options_.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, options_.ca_file.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  if (options_.bypass_proxy) curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &response.headers);
  if (options_.abort_flag != nullptr) {
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(options_.abort_flag));
  }

  if (request.method == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else if (request.method == "POST") {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  } else if (request.method == "HEAD") {
    // A custom "HEAD" would make libcurl wait for the body the headers announce.
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    // PUT/PATCH always carry a body, even an empty one: without "Content-Length: 0"
    // some servers and proxies answer 411 Length Required (the IMDSv2 token is a PUT).
    if (!request.body.empty() || request.method == "PUT" || request.method == "PATCH") {
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
    }
  }

  curl_slist* list = nullptr;
  bool has_expect = false;
  for (const auto& [k, v] : request.headers) {
    list = curl_slist_append(list, fmt::format("{}: {}", k, v).c_str());
    if (k.size() == 6 && strncasecmp(k.c_str(), "expect", 6) == 0) has_expect = true;
  }
  // libcurl adds "Expect: 100-continue" for large bodies: one extra round trip per call.
  if (!has_expect) list = curl_slist_append(list, "Expect:");
  // libcurl adds a default Content-Type for POST unless we send one; keep the request as signed.
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);

  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(list);
  if (rc != CURLE_OK) return fail(transport_error(rc, request.url, errbuf));
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

Result<UrlParts> parse_url(std::string_view url) {
  UrlParts parts;
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0) {
    return fail(Error::invalid(fmt::format("not an absolute URL: '{}'", url)));
  }
  parts.scheme = std::string(url.substr(0, scheme_end));
  if (parts.scheme != "http" && parts.scheme != "https") {
    return fail(Error::invalid(fmt::format("unsupported URL scheme in '{}'", url)));
  }
  std::string_view rest = url.substr(scheme_end + 3);
  auto path_start = rest.find_first_of("/?");
  parts.host = std::string(rest.substr(0, path_start));
  if (parts.host.empty()) return fail(Error::invalid(fmt::format("no host in URL '{}'", url)));
  if (path_start == std::string_view::npos) {
    parts.path = "/";
    return parts;
  }
  rest = rest.substr(path_start);
  auto q = rest.find('?');
  parts.path = std::string(rest.substr(0, q));
  if (parts.path.empty()) parts.path = "/";
  if (q != std::string_view::npos) parts.query = std::string(rest.substr(q + 1));
  return parts;
}

}  // namespace opfleet::aws

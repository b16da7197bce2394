// Temporary credentials over HTTP: the ECS/EKS container credentials endpoint and the
// EC2 instance metadata service (IMDSv2). Both hand out credentials with an Expiration,
// cached and refreshed by detail::RefreshingProvider.
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aws/credentials.h"
#include "aws/credentials_refresh.h"
#include "aws/http.h"
#include "aws/text_file.h"

namespace opfleet::aws {
namespace {

using Clock = std::chrono::system_clock;

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// A short, single-line excerpt of an error body for the message (never of a 200 body,
// which carries the secret).
std::string excerpt(std::string_view body) {
  std::string out(trim(body.substr(0, 200)));
  std::replace_if(
      out.begin(), out.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
  return out;
}

// Maps a non-200 answer of a credentials endpoint to a typed error.
Error http_error(std::string_view what, const HttpResponse& r) {
  std::string msg = fmt::format("{}: HTTP {}", what, r.status);
  if (!r.body.empty()) msg += ": " + excerpt(r.body);
  Error e;
  if (r.status == 429) {
    e = Error::make(ErrorKind::kThrottled, std::move(msg), true);
  } else if (r.status >= 500) {
    e = Error::make(ErrorKind::kUnavailable, std::move(msg), true);
  } else if (r.status == 404) {
    e = Error::make(ErrorKind::kNotFound, std::move(msg), false);
  } else {
    e = Error::make(ErrorKind::kAuth, std::move(msg), false);
  }
  e.http_status = static_cast<int>(r.status);
  return e;
}

// Credential endpoints are link-local or loopback, and their answers are secrets: never
// through a proxy configured for the application's own traffic.
HttpOptions endpoint_http_options(std::chrono::milliseconds timeout) {
  HttpOptions o;
  o.connect_timeout = timeout;
  o.timeout = timeout;
  o.bypass_proxy = true;
  return o;
}

Error with_context(Error e, std::string_view what) {
  e.message = fmt::format("{}: {}", what, e.message);
  return e;
}

// The JSON both endpoints answer with: AccessKeyId, SecretAccessKey, Token, Expiration.
Result<Credentials> parse_credentials_json(std::string_view body, std::string source) {
  auto bad = [&](std::string_view why) {
    // A garbled answer is the endpoint's fault and may be transient.
    return fail(Error::make(ErrorKind::kInternal,
                            fmt::format("{} credentials response: {}", source, why), true));
  };
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
  if (auto code = j.find("Code"); code != j.end() && code->is_string() && *code != "Success") {
    return fail(Error::make(
        ErrorKind::kAuth,
        fmt::format("{} credentials response code {}", source, code->get<std::string>()), false));
  }
  auto str = [&](const char* key) -> std::string {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  Credentials c;
  c.access_key_id = str("AccessKeyId");
  c.secret_access_key = str("SecretAccessKey");
  c.session_token = str("Token");
  c.source = std::move(source);
  if (c.access_key_id.empty() || c.secret_access_key.empty()) {
    return bad("AccessKeyId or SecretAccessKey missing");
  }
  std::string expiration = str("Expiration");
  if (expiration.empty()) return bad("Expiration missing");
  auto when = parse_iso8601(expiration);
  if (!when) return bad(when.error().message);
  c.expiration = *when;
  return c;
}

// Host part of an authority, without port or IPv6 brackets.
std::string bare_host(const std::string& authority) {
  if (authority.starts_with('[')) {
    size_t close = authority.find(']');
    return close == std::string::npos ? authority : authority.substr(1, close - 1);
  }
  return authority.substr(0, authority.find(':'));
}

bool is_loopback_or_agent(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  if (host == "169.254.170.2" || host == "169.254.170.23" || host == "fd00:ec2::23") return true;
  // 127.0.0.0/8, dotted quad only (a name like 127.evil.com is not loopback).
  if (!host.starts_with("127.")) return false;
  int dots = 0;
  for (char c : host) {
    if (c == '.') {
      ++dots;
    } else if (!std::isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return dots == 3;
}

// ---- ECS / EKS container endpoint ------------------------------------------------------

class ContainerFetcher {
 public:
  ContainerFetcher(ContainerOptions options, std::string url)
      : options_(std::move(options)),
        url_(std::move(url)),
        http_(endpoint_http_options(options_.timeout)) {}

  Result<Credentials> operator()() {
    HttpRequest req;
    req.url = url_;
    req.headers.emplace_back("Accept", "application/json");
    OPFLEET_TRY(std::string token, authorization_token());
    if (!token.empty()) req.headers.emplace_back("Authorization", std::move(token));
    auto resp = http_.send(req);
    if (!resp) return fail(with_context(std::move(resp).error(), "ecs container credentials"));
    if (resp->status != 200) {
      Error e = http_error("ecs container credentials", *resp);
      // The endpoint was configured for us: a 404 is a broken setup (stale URI), not an
      // absent source the chain may skip in favour of another identity.
      if (e.kind == ErrorKind::kNotFound) e.kind = ErrorKind::kAuth;
      return fail(std::move(e));
    }
    return parse_credentials_json(resp->body, "ecs");
  }

 private:
  // The file wins over the variable and is re-read each time (EKS rotates it).
  Result<std::string> authorization_token() {
    std::string token = options_.authorization_token;
    if (!options_.authorization_token_file.empty()) {
      auto text = detail::read_text_file(options_.authorization_token_file, 16 * 1024);
      if (!text) {
        Error e = std::move(text).error();
        // A missing token file makes every request fail: say so plainly, not "not found",
        // which the chain would take for "this source is not configured".
        e.kind = ErrorKind::kAuth;
        return fail(with_context(std::move(e), "container authorization token file"));
      }
      token = std::string(trim(*text));
    }
    if (token.find_first_of("\r\n") != std::string::npos) {
      return fail(Error::make(ErrorKind::kAuth, "container authorization token has a line break"));
    }
    return token;
  }

  ContainerOptions options_;
  std::string url_;
  HttpClient http_;
};

class NotConfigured final : public CredentialsProvider {
 public:
  explicit NotConfigured(Error error) : error_(std::move(error)) {}
  Result<Credentials> get() override { return fail(error_); }

 private:
  Error error_;
};

Result<std::string> container_url(const ContainerOptions& o) {
  // The relative URI wins, as in the AWS SDKs: it is what the ECS agent sets.
  if (!o.relative_uri.empty()) {
    std::string base = o.relative_base;
    while (base.ends_with('/')) base.pop_back();
    std::string rel = o.relative_uri.starts_with('/') ? o.relative_uri : "/" + o.relative_uri;
    OPFLEET_TRY_STATUS(parse_url(base + rel));
    return base + rel;
  }
  OPFLEET_TRY(UrlParts url, parse_url(o.full_uri));
  if (url.scheme != "https" && !is_loopback_or_agent(bare_host(url.host))) {
    return fail(Error::invalid(fmt::format(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI host '{}' is neither https nor a loopback or ECS/EKS "
        "agent address; refusing to send the authorization token there",
        url.host)));
  }
  return o.full_uri;
}

// ---- EC2 instance metadata (IMDSv2) ----------------------------------------------------

class ImdsFetcher {
 public:
  explicit ImdsFetcher(ImdsOptions options)
      : options_(std::move(options)), http_(endpoint_http_options(options_.timeout)) {
    while (options_.endpoint.ends_with('/')) options_.endpoint.pop_back();
  }

  Result<Credentials> operator()() {
    // A 401 means the session token expired or was revoked early: get a new one, once.
    for (int attempt = 0;; ++attempt) {
      auto result = fetch_once();
      if (result || result.error().http_status != 401 || attempt > 0) return result;
      token_.clear();
    }
  }

 private:
  Result<Credentials> fetch_once() {
    OPFLEET_TRY(std::string token, session_token());
    std::string base = options_.endpoint + "/latest/meta-data/iam/security-credentials/";
    OPFLEET_TRY(HttpResponse roles, get(base, token, "imds role list"));
    std::string_view listing = trim(roles.body);
    std::string role(trim(listing.substr(0, listing.find('\n'))));
    if (role.empty()) return fail(Error::not_found("imds: no IAM role attached to this instance"));
    OPFLEET_TRY(HttpResponse creds, get(base + role, token, "imds role credentials"));
    return parse_credentials_json(creds.body, "imds");
  }

  Result<HttpResponse> get(const std::string& url, const std::string& token,
                           std::string_view what) {
    HttpRequest req;
    req.url = url;
    req.headers.emplace_back("X-aws-ec2-metadata-token", token);
    auto resp = http_.send(req);
    if (!resp) return fail(with_context(std::move(resp).error(), what));
    if (resp->status != 200) return fail(http_error(what, *resp));
    return resp;
  }

  Result<std::string> session_token() {
    auto now = Clock::now();
    if (!token_.empty() && now < token_expiry_) return token_;
    HttpRequest req;
    req.method = "PUT";
    req.url = options_.endpoint + "/latest/api/token";
    req.headers.emplace_back("X-aws-ec2-metadata-token-ttl-seconds",
                             std::to_string(options_.token_ttl.count()));
    auto resp = http_.send(req);
    if (!resp) return fail(with_context(std::move(resp).error(), "imds session token"));
    if (resp->status != 200) {
      Error e = http_error("imds session token", *resp);
      // 403: IMDS is turned off for this instance, or the hop limit is too low for a
      // container; retrying will not change either.
      if (resp->status == 403) e.message += " (IMDS disabled, or hop limit too low)";
      return fail(std::move(e));
    }
    std::string token(trim(resp->body));
    if (token.empty() || token.find_first_of("\r\n") != std::string::npos) {
      return fail(
          Error::make(ErrorKind::kInternal, "imds session token response is malformed", true));
    }
    token_ = std::move(token);
    // Renew a minute early so a token never expires between our check and IMDS's.
    token_expiry_ =
        now + options_.token_ttl -
        std::min<std::chrono::seconds>(options_.token_ttl / 2, std::chrono::seconds(60));
    return token_;
  }

  ImdsOptions options_;
  HttpClient http_;
  std::string token_;
  Clock::time_point token_expiry_{};
};

}  // namespace

ContainerOptions ContainerOptions::from_environment() {
  ContainerOptions o;
  o.relative_uri = env_or_empty("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
  o.full_uri = env_or_empty("AWS_CONTAINER_CREDENTIALS_FULL_URI");
  o.authorization_token = env_or_empty("AWS_CONTAINER_AUTHORIZATION_TOKEN");
  o.authorization_token_file = env_or_empty("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
  return o;
}

std::shared_ptr<CredentialsProvider> container_credentials(ContainerOptions options) {
  if (options.relative_uri.empty() && options.full_uri.empty()) {
    return std::make_shared<NotConfigured>(Error::not_found(
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and AWS_CONTAINER_CREDENTIALS_FULL_URI are not "
        "set"));
  }
  auto url = container_url(options);
  if (!url) return std::make_shared<NotConfigured>(std::move(url).error());
  RefreshPolicy policy = options.refresh;
  auto fetcher = std::make_shared<ContainerFetcher>(std::move(options), std::move(*url));
  return std::make_shared<detail::RefreshingProvider>(
      "ecs", [fetcher] { return (*fetcher)(); }, std::move(policy));
}

ImdsOptions ImdsOptions::from_environment() {
  ImdsOptions o;
  std::string endpoint = env_or_empty("AWS_EC2_METADATA_SERVICE_ENDPOINT");
  std::string mode = env_or_empty("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
  if (!endpoint.empty()) {
    o.endpoint = std::move(endpoint);
  } else if (mode == "IPv6" || mode == "ipv6") {
    o.endpoint = "http://[fd00:ec2::254]";
  }
  return o;
}

std::shared_ptr<CredentialsProvider> imds_credentials(ImdsOptions options) {
  RefreshPolicy policy = options.refresh;
  auto fetcher = std::make_shared<ImdsFetcher>(std::move(options));
  return std::make_shared<detail::RefreshingProvider>(
      "imds", [fetcher] { return (*fetcher)(); }, std::move(policy));
}

bool imds_disabled_by_environment() {
  std::string v = env_or_empty("AWS_EC2_METADATA_DISABLED");
  std::transform(v.begin(), v.end(), v.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return v == "true";
}

}  // namespace opfleet::aws

#include "aws/sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <strings.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <ctime>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace opfleet::aws {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr char kHex[] = "0123456789abcdef";

using Digest = std::array<unsigned char, 32>;

std::string to_hex(const unsigned char* data, size_t size) {
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out.push_back(kHex[data[i] >> 4]);
    out.push_back(kHex[data[i] & 0x0f]);
  }
  return out;
}

Digest hmac(std::string_view key, std::string_view data) {
  Digest out{};
  unsigned int len = 0;
  // One-shot HMAC() is not deprecated in OpenSSL 3; with SHA-256 over memory it fails
  // only if OpenSSL itself is broken (no digest, no memory): nothing sensible to return.
  const unsigned char* r =
      HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &len);
  if (r == nullptr || len != out.size()) std::abort();
  return out;
}

std::string_view as_view(const Digest& d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// Trims and folds runs of whitespace (including an obsolete multi-line fold) into one
// space, as the canonical header rules require.
std::string canonical_header_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  bool pending_space = false;
  for (char c : value) {
    if (is_space(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

// Hop-by-hop and proxy-rewritten headers: a proxy or libcurl may change them in transit,
// so signing them would make a valid request fail verification.
bool is_unsignable(std::string_view lower_name) {
  static constexpr std::string_view kSkip[] = {
      "authorization",       "connection", "expect",         "keep-alive",
      "proxy-authorization", "te",         "trailer",        "upgrade",
      "transfer-encoding",   "user-agent", "x-amzn-trace-id"};
  return std::find(std::begin(kSkip), std::end(kSkip), lower_name) != std::end(kSkip);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding that leaves a malformed "%" as a literal (re-encoded later as %25)
// rather than failing: the server compares what it received, encoded the same way.
std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = hex_value(s[i + 1]);
      int lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// RFC 3986 section 5.2.4 dot-segment removal, plus collapsing empty segments ("//"),
// as the suite's normalize cases expect. A trailing slash (or a trailing "." / ".."
// segment, which denotes a directory) is kept.
std::string normalize_path(std::string_view path) {
  std::vector<std::string_view> segments;
  bool trailing_slash = false;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string_view::npos) next = path.size();
    std::string_view seg = path.substr(pos, next - pos);
    bool last = next == path.size();
    if (seg == "..") {
      if (!segments.empty()) segments.pop_back();
      trailing_slash = last;
    } else if (seg == ".") {
      trailing_slash = last;
    } else if (seg.empty()) {
      trailing_slash = last;
    } else {
      segments.push_back(seg);
      trailing_slash = false;
    }
    pos = next + 1;
  }
  std::string out;
  for (auto seg : segments) {
    out.push_back('/');
    out.append(seg);
  }
  if (out.empty() || trailing_slash) out.push_back('/');
  return out;
}

struct CanonicalHeaders {
  std::string block;           // "name:value\n" lines
  std::string signed_headers;  // "a;b;c"
};

CanonicalHeaders canonicalize(const Headers& headers) {
  // Stable sort by lower-case name keeps the original order of duplicate names, whose
  // values are joined with ',' in that order.
  std::vector<std::pair<std::string, std::string>> items;
  items.reserve(headers.size());
  for (const auto& [name, value] : headers) {
    std::string n = lower(canonical_header_value(name));
    if (is_unsignable(n)) continue;
    items.emplace_back(std::move(n), canonical_header_value(value));
  }
  std::stable_sort(items.begin(), items.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  CanonicalHeaders out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0 && items[i].first == items[i - 1].first) {
      out.block.push_back(',');
      out.block.append(items[i].second);
      continue;
    }
    if (i > 0) {
      out.block.push_back('\n');
      out.signed_headers.push_back(';');
    }
    out.block.append(items[i].first);
    out.block.push_back(':');
    out.block.append(items[i].second);
    out.signed_headers.append(items[i].first);
  }
  if (!items.empty()) out.block.push_back('\n');
  return out;
}

// Host header value for a URL authority: the default port is left out, as HTTP clients
// send it.
std::string host_header(const UrlParts& url) {
  std::string_view host = url.host;
  if (url.scheme == "http" && host.ends_with(":80")) host.remove_suffix(3);
  if (url.scheme == "https" && host.ends_with(":443")) host.remove_suffix(4);
  return std::string(host);
}

bool has_header(const Headers& headers, std::string_view name) {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& h) { return iequals(h.first, name); });
}

void erase_header(Headers& headers, std::string_view name) {
  std::erase_if(headers, [&](const auto& h) { return iequals(h.first, name); });
}

bool has_line_break(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

Status validate(const Credentials& creds, const SigningScope& scope) {
  if (creds.access_key_id.empty() || creds.secret_access_key.empty()) {
    return fail(Error::make(ErrorKind::kAuth, "cannot sign: credentials are empty"));
  }
  auto bad_token = [](std::string_view s) {
    return s.empty() || std::any_of(s.begin(), s.end(), [](unsigned char c) {
             return c == '/' || std::isspace(c) || std::iscntrl(c);
           });
  };
  if (bad_token(creds.access_key_id)) {
    return fail(Error::make(ErrorKind::kAuth, "cannot sign: malformed access key id"));
  }
  if (bad_token(scope.region) || bad_token(scope.service)) {
    return fail(Error::invalid(fmt::format("cannot sign: bad scope region='{}' service='{}'",
                                           scope.region, scope.service)));
  }
  if (has_line_break(creds.session_token)) {
    return fail(Error::make(ErrorKind::kAuth, "cannot sign: malformed session token"));
  }
  return ok();
}

// The headers as they will be sent, minus those sign_request adds after signing.
struct Prepared {
  Headers to_sign;
  std::string date;          // X-Amz-Date value
  std::string payload_hash;  // hex SHA-256 of the body
};

Result<Prepared> prepare(const HttpRequest& request, const Credentials& creds,
                         const SigningScope& scope, std::chrono::system_clock::time_point now) {
  OPFLEET_TRY_STATUS(validate(creds, scope));
  OPFLEET_TRY(UrlParts url, parse_url(request.url));
  Prepared p;
  p.date = amz_date(now);
  p.payload_hash = sha256_hex(request.body);
  p.to_sign = request.headers;
  for (const auto& [name, value] : p.to_sign) {
    if (has_line_break(name)) return fail(Error::invalid("header name with a line break"));
  }
  erase_header(p.to_sign, "authorization");
  erase_header(p.to_sign, "x-amz-date");
  erase_header(p.to_sign, "x-amz-security-token");
  if (scope.add_content_sha256) erase_header(p.to_sign, "x-amz-content-sha256");
  if (!has_header(p.to_sign, "host")) p.to_sign.emplace_back("Host", host_header(url));
  if (!creds.session_token.empty() && !scope.omit_session_token) {
    p.to_sign.emplace_back("X-Amz-Security-Token", creds.session_token);
  }
  p.to_sign.emplace_back("X-Amz-Date", p.date);
  if (scope.add_content_sha256) p.to_sign.emplace_back("x-amz-content-sha256", p.payload_hash);
  return p;
}

SigningDetails sign(const HttpRequest& request, const UrlParts& url, const Prepared& p,
                    const Credentials& creds, const SigningScope& scope) {
  CanonicalHeaders headers = canonicalize(p.to_sign);
  SigningDetails d;
  d.canonical_request = fmt::format(
      "{}\n{}\n{}\n{}\n{}\n{}", request.method, canonical_uri(url.path, scope.normalize_path),
      canonical_query(url.query), headers.block, headers.signed_headers, p.payload_hash);

  std::string_view day = std::string_view(p.date).substr(0, 8);
  std::string credential_scope =
      fmt::format("{}/{}/{}/aws4_request", day, scope.region, scope.service);
  d.string_to_sign = fmt::format("{}\n{}\n{}\n{}", kAlgorithm, p.date, credential_scope,
                                 sha256_hex(d.canonical_request));

  std::string secret = "AWS4" + creds.secret_access_key;
  Digest k_date = hmac(secret, day);
  OPENSSL_cleanse(secret.data(), secret.size());
  Digest k_region = hmac(as_view(k_date), scope.region);
  Digest k_service = hmac(as_view(k_region), scope.service);
  Digest k_signing = hmac(as_view(k_service), "aws4_request");
  Digest sig = hmac(as_view(k_signing), d.string_to_sign);
  for (Digest* k : {&k_date, &k_region, &k_service, &k_signing}) {
    OPENSSL_cleanse(k->data(), k->size());
  }
  d.signature = to_hex(sig.data(), sig.size());
  d.authorization =
      fmt::format("{} Credential={}/{}, SignedHeaders={}, Signature={}", kAlgorithm,
                  creds.access_key_id, credential_scope, headers.signed_headers, d.signature);
  return d;
}

}  // namespace

std::string amz_date(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  size_t n = std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return std::string(buf, n);
}

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1) std::abort();
  return to_hex(md, len);
}

std::string uri_encode(std::string_view text, bool keep_slash) {
  static constexpr char kUpperHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3 / 2);
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
        (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kUpperHex[c >> 4]);
      out.push_back(kUpperHex[c & 0x0f]);
    }
  }
  return out;
}

std::string canonical_uri(std::string_view path, bool normalize) {
  if (path.empty()) return "/";
  return uri_encode(normalize ? normalize_path(path) : std::string(path), true);
}

std::string canonical_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  size_t pos = 0;
  while (pos <= query.size() && !query.empty()) {
    size_t amp = query.find('&', pos);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view item = query.substr(pos, amp - pos);
    if (!item.empty()) {
      size_t eq = item.find('=');
      std::string_view key = item.substr(0, eq);
      std::string_view value = eq == std::string_view::npos ? "" : item.substr(eq + 1);
      params.emplace_back(uri_encode(percent_decode(key), false),
                          uri_encode(percent_decode(value), false));
    }
    pos = amp + 1;
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out.push_back('&');
    out.append(k);
    out.push_back('=');
    out.append(v);
  }
  return out;
}

Result<SigningDetails> compute_signature(const HttpRequest& request, const Credentials& creds,
                                         const SigningScope& scope,
                                         std::chrono::system_clock::time_point now) {
  OPFLEET_TRY(Prepared p, prepare(request, creds, scope, now));
  OPFLEET_TRY(UrlParts url, parse_url(request.url));
  return sign(request, url, p, creds, scope);
}

Status sign_request(HttpRequest& request, const Credentials& creds, const SigningScope& scope,
                    std::chrono::system_clock::time_point now) {
  OPFLEET_TRY(Prepared p, prepare(request, creds, scope, now));
  OPFLEET_TRY(UrlParts url, parse_url(request.url));
  SigningDetails d = sign(request, url, p, creds, scope);
  // The request becomes exactly the signed header list (same order), plus the token when
  // it is deliberately left unsigned, plus Authorization.
  request.headers = std::move(p.to_sign);
  if (!creds.session_token.empty() && scope.omit_session_token) {
    // Placed before X-Amz-Date like the suite's signed requests; position is not signed.
    auto date_it = std::find_if(request.headers.begin(), request.headers.end(),
                                [](const auto& h) { return iequals(h.first, "x-amz-date"); });
    request.headers.emplace(date_it, "X-Amz-Security-Token", creds.session_token);
  }
  request.headers.emplace_back("Authorization", std::move(d.authorization));
  return ok();
}

}  // namespace opfleet::aws

// SigV4 against the aws-sigv4-test-suite (every header-signing case, compared at each
// stage: canonical request, string to sign, signature, signed request) and unit tests of
// the building blocks the suite does not pin down.
#include "aws/sigv4.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/stack_env.h"

namespace opfleet::aws {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A raw HTTP/1.1 request as the suite writes it: the request target may contain spaces
// and raw UTF-8, a header line starting with whitespace continues the previous value
// (obsolete line folding, joined with one space as RFC 7230 section 3.2.4 allows), and
// the body follows the first empty line.
struct RawRequest {
  std::string method;
  std::string target;
  Headers headers;
  std::string body;
};

RawRequest parse_raw_request(const std::string& text) {
  RawRequest r;
  size_t pos = 0;
  auto next_line = [&](std::string* line) {
    if (pos > text.size()) return false;
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    *line = text.substr(pos, end - pos);
    if (!line->empty() && line->back() == '\r') line->pop_back();
    pos = end + 1;
    return true;
  };
  std::string line;
  if (!next_line(&line)) throw std::runtime_error("empty request");
  size_t first = line.find(' ');
  size_t last = line.rfind(' ');
  if (first == std::string::npos || last <= first) throw std::runtime_error("bad request line");
  r.method = line.substr(0, first);
  r.target = line.substr(first + 1, last - first - 1);
  while (next_line(&line)) {
    if (line.empty()) break;
    if (line[0] == ' ' || line[0] == '\t') {
      if (r.headers.empty()) throw std::runtime_error("continuation before any header");
      size_t start = line.find_first_not_of(" \t");
      r.headers.back().second += " " + line.substr(start);
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string::npos) throw std::runtime_error("header without ':' " + line);
    r.headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
  }
  if (pos < text.size()) r.body = text.substr(pos);
  return r;
}

std::string header_value(const Headers& headers, std::string_view lower_name) {
  for (const auto& [k, v] : headers) {
    std::string l = k;
    std::transform(l.begin(), l.end(), l.begin(), ::tolower);
    if (l == lower_name) return v;
  }
  return {};
}

struct SuiteCase {
  fs::path dir;
  std::string name;  // path relative to the suite root
};

bool is_header_case(const fs::path& dir) {
  if (!fs::exists(dir / "request.txt")) return false;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().starts_with("header-")) return true;
  }
  return false;
}

fs::path suite_root() {
  return fs::path(testing::testdata_dir()) / "aws-sigv4-test-suite";
}

// Every folder holding a request.txt, at any depth: the suite nests some cases.
std::vector<SuiteCase> find_cases(const fs::path& root, size_t* folders_with_request) {
  std::vector<SuiteCase> cases;
  *folders_with_request = 0;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_directory()) continue;
    if (!fs::exists(e.path() / "request.txt")) continue;
    ++*folders_with_request;
    if (is_header_case(e.path())) {
      cases.push_back({e.path(), fs::relative(e.path(), root).string()});
    }
  }
  std::sort(cases.begin(), cases.end(),
            [](const SuiteCase& a, const SuiteCase& b) { return a.name < b.name; });
  return cases;
}

struct CaseInput {
  HttpRequest request;
  Credentials creds;
  SigningScope scope;
  std::chrono::system_clock::time_point now;
};

CaseInput load_case(const fs::path& dir) {
  auto ctx = nlohmann::json::parse(read_file(dir / "context.json"));
  // A field we do not know could change the expected signature: fail rather than guess.
  static const std::set<std::string> kKnown = {
      "credentials", "expiration_in_seconds", "normalize",        "region", "service", "sign_body",
      "timestamp",   "omit_session_token",    "double_uri_encode"};
  for (const auto& [key, value] : ctx.items()) {
    if (!kKnown.contains(key)) throw std::runtime_error("unknown context.json field " + key);
  }
  if (ctx.value("double_uri_encode", true) != true) {
    throw std::runtime_error("single URI encoding (S3) is not supported by this signer");
  }
  CaseInput in;
  in.creds.access_key_id = ctx.at("credentials").at("access_key_id");
  in.creds.secret_access_key = ctx.at("credentials").at("secret_access_key");
  in.creds.session_token = ctx.at("credentials").value("token", "");
  in.scope.region = ctx.at("region");
  in.scope.service = ctx.at("service");
  in.scope.normalize_path = ctx.value("normalize", true);
  in.scope.add_content_sha256 = ctx.value("sign_body", false);
  in.scope.omit_session_token = ctx.value("omit_session_token", false);
  auto ts = parse_iso8601(ctx.at("timestamp").get<std::string>());
  if (!ts) throw std::runtime_error(ts.error().describe());
  in.now = *ts;

  RawRequest raw = parse_raw_request(read_file(dir / "request.txt"));
  std::string host = header_value(raw.headers, "host");
  if (host.empty()) throw std::runtime_error("request.txt has no Host header");
  in.request.method = raw.method;
  in.request.url = "https://" + host + raw.target;
  in.request.headers = raw.headers;
  in.request.body = raw.body;
  return in;
}

std::string authorization_of(const Headers& headers) {
  return header_value(headers, "authorization");
}

TEST(Sigv4Suite, EveryHeaderSigningCaseMatches) {
  fs::path root = suite_root();
  ASSERT_TRUE(fs::is_directory(root)) << "missing test suite folder " << root;
  size_t folders = 0;
  std::vector<SuiteCase> cases = find_cases(root, &folders);
  ASSERT_FALSE(cases.empty()) << "no header-signing case under " << root;

  std::vector<std::string> ran;
  for (const SuiteCase& c : cases) {
    SCOPED_TRACE("case " + c.name);
    CaseInput in;
    try {
      in = load_case(c.dir);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cannot load: " << e.what();
      continue;
    }
    auto details = compute_signature(in.request, in.creds, in.scope, in.now);
    ASSERT_TRUE(details) << details.error().describe();
    EXPECT_EQ(details->canonical_request, read_file(c.dir / "header-canonical-request.txt"));
    EXPECT_EQ(details->string_to_sign, read_file(c.dir / "header-string-to-sign.txt"));
    EXPECT_EQ(details->signature, read_file(c.dir / "header-signature.txt"));

    // The signed request, header by header and in order, as the suite writes it.
    HttpRequest signed_request = in.request;
    ASSERT_TRUE(sign_request(signed_request, in.creds, in.scope, in.now));
    RawRequest want = parse_raw_request(read_file(c.dir / "header-signed-request.txt"));
    EXPECT_EQ(signed_request.method, want.method);
    EXPECT_EQ(signed_request.url, "https://" + header_value(want.headers, "host") + want.target);
    EXPECT_EQ(authorization_of(signed_request.headers), authorization_of(want.headers));
    EXPECT_EQ(signed_request.headers, want.headers);
    EXPECT_EQ(signed_request.body, want.body);
    EXPECT_EQ(authorization_of(signed_request.headers), details->authorization);
    ran.push_back(c.name);
  }
  std::string list;
  for (const auto& n : ran) list += " " + n;
  std::cout << "[ sigv4 suite ] ran " << ran.size() << " of " << folders << " case folders:" << list
            << "\n";
  EXPECT_EQ(ran.size(), folders) << "some case folders were not run";
}

// ---- Building blocks -------------------------------------------------------------------

Credentials example_creds() {
  Credentials c;
  c.access_key_id = "AKIDEXAMPLE";
  c.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  return c;
}

std::chrono::system_clock::time_point example_time() {
  return *parse_iso8601("2015-08-30T12:36:00Z");
}

TEST(Sigv4, AmzDateIsUtcBasicFormat) {
  EXPECT_EQ(amz_date(example_time()), "20150830T123600Z");
  EXPECT_EQ(amz_date(*parse_iso8601("2015-08-30T14:36:00+02:00")), "20150830T123600Z");
}

TEST(Sigv4, Sha256OfEmptyAndKnownText) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sigv4, UriEncodeKeepsOnlyUnreserved) {
  EXPECT_EQ(uri_encode("a b/c~d*e+f=g", false), "a%20b%2Fc~d%2Ae%2Bf%3Dg");
  EXPECT_EQ(uri_encode("a b/c", true), "a%20b/c");
  EXPECT_EQ(uri_encode("\xE1\x88\xB4", false), "%E1%88%B4");
}

TEST(Sigv4, CanonicalUriNormalizesThenEncodesAgain) {
  EXPECT_EQ(canonical_uri("", true), "/");
  EXPECT_EQ(canonical_uri("/a/./b/../c//d/", true), "/a/c/d/");
  EXPECT_EQ(canonical_uri("/a/b/..", true), "/a/");
  EXPECT_EQ(canonical_uri("/../..", true), "/");
  EXPECT_EQ(canonical_uri("/a/./b", false), "/a/./b");
  // Already encoded on the wire: encoded once more (the generic, non-S3 rule).
  EXPECT_EQ(canonical_uri("/a%20b", true), "/a%2520b");
  EXPECT_EQ(canonical_uri("/123456789012/my-queue", true), "/123456789012/my-queue");
}

TEST(Sigv4, CanonicalQuerySortsAndReencodes) {
  EXPECT_EQ(canonical_query(""), "");
  EXPECT_EQ(canonical_query("b=2&a=1&a=0"), "a=0&a=1&b=2");
  EXPECT_EQ(canonical_query("flag&x="), "flag=&x=");
  EXPECT_EQ(canonical_query("k=a%20b&k2=a+b&k3=%7E"), "k=a%20b&k2=a%2Bb&k3=~");
  EXPECT_EQ(canonical_query("&&a=1&"), "a=1");
  EXPECT_EQ(canonical_query("bad=%zz"), "bad=%25zz");
}

TEST(Sigv4, SignRequestAddsHostFromUrlWithoutDefaultPort) {
  for (const auto& [url, host] : std::vector<std::pair<std::string, std::string>>{
           {"https://sqs.us-east-1.amazonaws.com/", "sqs.us-east-1.amazonaws.com"},
           {"https://sqs.us-east-1.amazonaws.com:443/", "sqs.us-east-1.amazonaws.com"},
           {"http://127.0.0.1:4566/", "127.0.0.1:4566"},
           {"http://localhost:80", "localhost"}}) {
    HttpRequest r;
    r.url = url;
    ASSERT_TRUE(sign_request(r, example_creds(), {"us-east-1", "sqs"}, example_time()));
    EXPECT_EQ(header_value(r.headers, "host"), host) << url;
    EXPECT_EQ(header_value(r.headers, "x-amz-date"), "20150830T123600Z");
    EXPECT_TRUE(authorization_of(r.headers).starts_with(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/sqs/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature="));
  }
}

TEST(Sigv4, ResigningReplacesPreviousSignatureHeaders) {
  HttpRequest r;
  r.method = "POST";
  r.url = "http://127.0.0.1:4566/";
  r.headers = {{"Content-Type", "application/x-amz-json-1.0"},
               {"X-Amz-Target", "AmazonSQS.SendMessage"}};
  r.body = R"({"QueueUrl":"q"})";
  Credentials c = example_creds();
  c.session_token = "token-1";
  ASSERT_TRUE(sign_request(r, c, {"us-east-1", "sqs"}, example_time()));
  auto later = example_time() + 90s;
  c.session_token = "token-2";
  ASSERT_TRUE(sign_request(r, c, {"us-east-1", "sqs"}, later));

  HttpRequest fresh;
  fresh.method = r.method;
  fresh.url = r.url;
  fresh.body = r.body;
  fresh.headers = {{"Content-Type", "application/x-amz-json-1.0"},
                   {"X-Amz-Target", "AmazonSQS.SendMessage"}};
  ASSERT_TRUE(sign_request(fresh, c, {"us-east-1", "sqs"}, later));
  EXPECT_EQ(r.headers, fresh.headers);
  auto count = [&](std::string_view lower_name) {
    return std::count_if(r.headers.begin(), r.headers.end(), [&](const auto& h) {
      std::string l = h.first;
      std::transform(l.begin(), l.end(), l.begin(), ::tolower);
      return l == lower_name;
    });
  };
  EXPECT_EQ(count("authorization"), 1);
  EXPECT_EQ(count("x-amz-date"), 1);
  EXPECT_EQ(count("x-amz-security-token"), 1);
  EXPECT_EQ(header_value(r.headers, "x-amz-security-token"), "token-2");
}

TEST(Sigv4, SignatureDependsOnEverySignedPart) {
  HttpRequest base;
  base.method = "POST";
  base.url = "http://127.0.0.1:4566/";
  base.headers = {{"X-Amz-Target", "AmazonSQS.SendMessage"}};
  base.body = "{}";
  SigningScope scope{"us-east-1", "sqs"};
  auto sig = [&](const HttpRequest& r, const Credentials& c, const SigningScope& s,
                 std::chrono::system_clock::time_point t) {
    auto d = compute_signature(r, c, s, t);
    EXPECT_TRUE(d);
    return d ? d->signature : std::string();
  };
  std::string reference = sig(base, example_creds(), scope, example_time());
  HttpRequest body = base;
  body.body = "{ }";
  HttpRequest header = base;
  header.headers[0].second = "AmazonSQS.ReceiveMessage";
  Credentials other_secret = example_creds();
  other_secret.secret_access_key += "x";
  EXPECT_NE(reference, sig(body, example_creds(), scope, example_time()));
  EXPECT_NE(reference, sig(header, example_creds(), scope, example_time()));
  EXPECT_NE(reference, sig(base, other_secret, scope, example_time()));
  EXPECT_NE(reference, sig(base, example_creds(), {"eu-west-1", "sqs"}, example_time()));
  EXPECT_NE(reference, sig(base, example_creds(), scope, example_time() + 1s));
  EXPECT_EQ(reference, sig(base, example_creds(), scope, example_time()));
}

TEST(Sigv4, HopByHopHeadersAreNotSigned) {
  HttpRequest r;
  r.url = "https://example.amazonaws.com/";
  r.headers = {{"User-Agent", "opfleet"}, {"Connection", "keep-alive"}, {"X-Custom", "1"}};
  auto d = compute_signature(r, example_creds(), {"us-east-1", "service"}, example_time());
  ASSERT_TRUE(d);
  EXPECT_NE(d->authorization.find("SignedHeaders=host;x-amz-date;x-custom,"), std::string::npos)
      << d->authorization;
}

TEST(Sigv4, RejectsWhatCannotBeSigned) {
  HttpRequest r;
  r.url = "https://example.amazonaws.com/";
  Credentials empty;
  auto e1 = sign_request(r, empty, {"us-east-1", "sqs"}, example_time());
  ASSERT_FALSE(e1);
  EXPECT_EQ(e1.error().kind, ErrorKind::kAuth);
  EXPECT_FALSE(e1.error().retryable);

  auto e2 = sign_request(r, example_creds(), {"", "sqs"}, example_time());
  ASSERT_FALSE(e2);
  EXPECT_EQ(e2.error().kind, ErrorKind::kInvalid);

  HttpRequest bad_url;
  bad_url.url = "example.amazonaws.com/";
  auto e3 = sign_request(bad_url, example_creds(), {"us-east-1", "sqs"}, example_time());
  ASSERT_FALSE(e3);
  EXPECT_EQ(e3.error().kind, ErrorKind::kInvalid);

  Credentials injected = example_creds();
  injected.session_token = "abc\r\nX-Evil: 1";
  auto e4 = sign_request(r, injected, {"us-east-1", "sqs"}, example_time());
  ASSERT_FALSE(e4);
  // Error messages never carry the secret.
  EXPECT_EQ(e4.error().message.find("Evil"), std::string::npos);
}

}  // namespace
}  // namespace opfleet::aws

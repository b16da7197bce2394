#include "tests/ecs/replay_server.h"

#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include "tests/support/stack_env.h"

namespace opfleet::testing {
namespace {

using nlohmann::json;

constexpr std::string_view kTargetPrefix = "AmazonEC2ContainerServiceV20141113.";
constexpr std::string_view kContentType = "application/x-amz-json-1.1";

[[noreturn]] void bad_file(std::string_view origin, std::size_t index, std::string_view what) {
  throw std::runtime_error(fmt::format("{}: pair {}: {}", origin, index, what));
}

// Both sides printed once each, then the JSON Patch that turns the expected body into the
// one received: the shortest statement of what differs.
std::string body_diff(const json& expected, const json& actual) {
  return fmt::format(
      "body differs\n  expected: {}\n  received: {}\n  patch (expected -> received): {}",
      expected.dump(), actual.dump(), json::diff(expected, actual).dump());
}

}  // namespace

std::vector<RecordedPair> parse_recorded_pairs(const std::string& text, std::string_view origin) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_array()) throw std::runtime_error(fmt::format("{}: not a JSON array", origin));
  std::vector<RecordedPair> pairs;
  for (std::size_t i = 0; i < doc.size(); ++i) {
    const json& p = doc[i];
    if (!p.is_object()) bad_file(origin, i, "not an object");
    RecordedPair pair;
    if (auto c = p.find("comment"); c != p.end() && c->is_string()) pair.comment = *c;
    auto req = p.find("request");
    if (req == p.end() || !req->is_object()) bad_file(origin, i, "no request object");
    auto target = req->find("target");
    if (target == req->end() || !target->is_string()) bad_file(origin, i, "no request.target");
    pair.target = *target;
    auto body = req->find("body");
    if (body == req->end() || !body->is_object()) bad_file(origin, i, "no request.body object");
    pair.request_body = *body;
    auto resp = p.find("response");
    if (resp == p.end() || !resp->is_object()) bad_file(origin, i, "no response object");
    if (auto s = resp->find("status"); s != resp->end()) {
      if (!s->is_number_integer()) bad_file(origin, i, "response.status is not an integer");
      pair.status = *s;
    }
    auto rbody = resp->find("body");
    if (rbody == resp->end() || !rbody->is_object()) bad_file(origin, i, "no response.body object");
    pair.response_body = *rbody;
    if (auto h = resp->find("headers"); h != resp->end()) {
      if (!h->is_object()) bad_file(origin, i, "response.headers is not an object");
      for (const auto& [name, value] : h->items()) {
        if (!value.is_string()) bad_file(origin, i, "a response header is not a string");
        pair.response_headers.emplace_back(name, value.get<std::string>());
      }
    }
    pairs.push_back(std::move(pair));
  }
  if (pairs.empty()) throw std::runtime_error(fmt::format("{}: no pairs", origin));
  return pairs;
}

std::vector<RecordedPair> load_recorded_pairs(std::string_view scenario) {
  const std::string path = fmt::format("{}/tests/ecs/recorded/{}.json", source_dir(), scenario);
  std::ifstream in(path);
  if (!in) throw std::runtime_error(fmt::format("cannot read {}", path));
  std::ostringstream text;
  text << in.rdbuf();
  return parse_recorded_pairs(text.str(), path);
}

EcsReplayServer::EcsReplayServer(std::string_view scenario, std::string region)
    : EcsReplayServer(load_recorded_pairs(scenario), std::move(region)) {}

EcsReplayServer::EcsReplayServer(std::vector<RecordedPair> pairs, std::string region)
    : pairs_(std::move(pairs)),
      region_(std::move(region)),
      server_([this](const HttpServerRequest& r) { return handle(r); }) {}

EcsReplayServer::~EcsReplayServer() {
  server_.stop();
}

std::string EcsReplayServer::endpoint() const {
  return server_.base_url();
}

std::size_t EcsReplayServer::served() const {
  std::lock_guard lock(mutex_);
  return next_;
}

std::vector<std::string> EcsReplayServer::mismatches() const {
  std::lock_guard lock(mutex_);
  return mismatches_;
}

::testing::AssertionResult EcsReplayServer::verify() const {
  std::lock_guard lock(mutex_);
  std::string problems;
  for (const std::string& m : mismatches_) problems += "\n" + m;
  for (std::size_t i = next_; i < pairs_.size(); ++i) {
    problems += fmt::format("\npair {} ({}) was never requested", i, pairs_[i].target);
  }
  if (problems.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "recorded ECS exchange not followed:" << problems;
}

std::string EcsReplayServer::check(const HttpServerRequest& request,
                                   const RecordedPair& pair) const {
  std::vector<std::string> problems;
  if (request.method != "POST")
    problems.push_back(fmt::format("method {}, not POST", request.method));
  if (request.target != "/") problems.push_back(fmt::format("path {}, not /", request.target));
  if (const std::string ct = request.header("content-type"); ct != kContentType) {
    problems.push_back(fmt::format("Content-Type '{}', not '{}'", ct, kContentType));
  }
  const std::string want_target = fmt::format("{}{}", kTargetPrefix, pair.target);
  if (const std::string t = request.header("x-amz-target"); t != want_target) {
    problems.push_back(fmt::format("X-Amz-Target '{}', not '{}'", t, want_target));
  }

  // AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/ecs/aws4_request,
  //   SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=<64 hex>
  static const std::regex kAuth(
      R"(^AWS4-HMAC-SHA256 Credential=([^/\s]+)/(\d{8})/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request, )"
      R"(SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$)");
  const std::string auth = request.header("authorization");
  const std::string amz_date = request.header("x-amz-date");
  std::smatch m;
  if (!std::regex_match(auth, m, kAuth)) {
    problems.push_back(fmt::format("Authorization '{}' is not a SigV4 header", auth));
  } else {
    if (m[3] != region_)
      problems.push_back(fmt::format("signed for region {}, not {}", m[3].str(), region_));
    if (m[4] != "ecs")
      problems.push_back(fmt::format("signed for service {}, not ecs", m[4].str()));
    if (!amz_date.starts_with(m[2].str())) {
      problems.push_back(
          fmt::format("credential date {} is not the date of X-Amz-Date {}", m[2].str(), amz_date));
    }
    const std::string signed_headers = ";" + m[5].str() + ";";
    for (const char* h : {"content-type", "host", "x-amz-date", "x-amz-target"}) {
      if (signed_headers.find(fmt::format(";{};", h)) == std::string::npos) {
        problems.push_back(
            fmt::format("header {} is not signed (SignedHeaders={})", h, m[5].str()));
      }
    }
  }
  static const std::regex kAmzDate(R"(^\d{8}T\d{6}Z$)");
  if (!std::regex_match(amz_date, kAmzDate)) {
    problems.push_back(fmt::format("X-Amz-Date '{}' is not yyyymmddThhmmssZ", amz_date));
  }

  json body = json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    problems.push_back(fmt::format("body is not JSON: {}", request.body));
  } else if (body != pair.request_body) {
    problems.push_back(body_diff(pair.request_body, body));
  }

  std::string out;
  for (const std::string& p : problems) out += "\n    " + p;
  return out;
}

HttpServerResponse EcsReplayServer::handle(const HttpServerRequest& request) {
  std::lock_guard lock(mutex_);
  const std::size_t index = next_++;
  std::string problem;
  if (index >= pairs_.size()) {
    problem = fmt::format("request {} ({}) after the {} recorded pairs, body {}", index,
                          request.header("x-amz-target"), pairs_.size(), request.body);
  } else if (std::string diff = check(request, pairs_[index]); !diff.empty()) {
    problem = fmt::format("request {} (expected {}):{}", index, pairs_[index].target, diff);
  }
  if (!problem.empty()) {
    mismatches_.push_back(problem);
    return HttpServerResponse::json(json{{"__type", "ReplayMismatch"}, {"message", problem}}.dump(),
                                    400);
  }
  const RecordedPair& pair = pairs_[index];
  HttpServerResponse response = HttpServerResponse::json(pair.response_body.dump(), pair.status);
  response.headers = {{"Content-Type", std::string(kContentType)}};
  for (const auto& h : pair.response_headers) response.headers.push_back(h);
  return response;
}

}  // namespace opfleet::testing

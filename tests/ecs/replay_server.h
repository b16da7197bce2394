// Serves recorded ECS request/response pairs, in order, from a local HTTP server, and
// checks that each request the client sends is the one recorded: the only ECS test double
// allowed here (ECS cannot run on this machine).
//
// A scenario file, tests/ecs/recorded/<scenario>.json, is an ordered list of
//   {"comment": "where the shapes come from",
//    "request":  {"target": "UpdateService", "body": {...the exact JSON expected...}},
//    "response": {"status": 200, "body": {...}, "headers": {"name": "value"}}}
// ("headers" optional, "status" 200 when absent).
//
// For request n the server asserts:
//   - POST to "/";
//   - Content-Type: application/x-amz-json-1.1;
//   - X-Amz-Target: AmazonEC2ContainerServiceV20141113.<target>;
//   - a SigV4 Authorization header of the right shape: AWS4-HMAC-SHA256,
//     Credential=<key id>/<yyyymmdd>/<region>/ecs/aws4_request with the date of
//     X-Amz-Date, SignedHeaders covering content-type, host, x-amz-date and x-amz-target,
//     and a 64-hex-digit signature (the signature itself is proven against the AWS SigV4
//     test suite in tests/aws);
//   - the JSON body equal to the recorded one: same fields, same values, nothing extra.
// A request that does not match is answered 400 {"__type":"ReplayMismatch"} (so the
// client fails at once rather than carrying on with a wrong answer) and recorded with a
// diff; verify() then fails the test with every mismatch and every pair left unserved.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/http_server.h"

namespace opfleet::testing {

struct RecordedPair {
  std::string comment;
  std::string target;  // the action: "DescribeServices"
  nlohmann::json request_body;
  int status = 200;
  nlohmann::json response_body;
  HttpHeaderList response_headers;
};

// Parses a scenario's JSON text; throws std::runtime_error naming the pair and field.
std::vector<RecordedPair> parse_recorded_pairs(const std::string& text, std::string_view origin);
// Reads tests/ecs/recorded/<scenario>.json from the source tree.
std::vector<RecordedPair> load_recorded_pairs(std::string_view scenario);

class EcsReplayServer {
 public:
  // Serves the pairs of tests/ecs/recorded/<scenario>.json.
  explicit EcsReplayServer(std::string_view scenario, std::string region = "us-east-1");
  EcsReplayServer(std::vector<RecordedPair> pairs, std::string region);
  ~EcsReplayServer();
  EcsReplayServer(const EcsReplayServer&) = delete;
  EcsReplayServer& operator=(const EcsReplayServer&) = delete;

  // "http://127.0.0.1:PORT": the client's endpoint.
  std::string endpoint() const;

  // Every pair served, every request as recorded.
  ::testing::AssertionResult verify() const;
  // Requests answered so far (matching or not), and the mismatches found.
  std::size_t served() const;
  std::vector<std::string> mismatches() const;
  const std::vector<RecordedPair>& pairs() const { return pairs_; }

 private:
  HttpServerResponse handle(const HttpServerRequest& request);
  // Empty when `request` is what `pair` expects; otherwise what differs.
  std::string check(const HttpServerRequest& request, const RecordedPair& pair) const;

  std::vector<RecordedPair> pairs_;
  std::string region_;
  mutable std::mutex mutex_;
  std::size_t next_ = 0;
  std::vector<std::string> mismatches_;
  HttpServer server_;  // last: stopped (destroyed) before the state its handler uses
};

}  // namespace opfleet::testing

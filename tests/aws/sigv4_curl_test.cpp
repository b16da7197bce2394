// Cross-check of our SigV4 signer with an independent implementation: the system curl's
// --aws-sigv4. curl signs and sends a request to the local test server; we sign the same
// request at curl's X-Amz-Date and must produce the identical Authorization header.
#include <spawn.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "aws/sigv4.h"
#include "tests/support/http_server.h"

extern char** environ;

namespace opfleet::aws {
namespace {

using testing::HttpServer;
using testing::HttpServerRequest;
using testing::HttpServerResponse;

constexpr const char* kAccessKey = "AKIDEXAMPLE";
constexpr const char* kSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

// Runs the system curl (no shell); returns its exit status.
int run_curl(const std::vector<std::string>& args) {
  std::vector<std::string> argv_storage = {
      "curl", "--silent", "--show-error", "--output", "/dev/null", "--max-time", "10"};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawnp(&pid, "curl", nullptr, nullptr, argv.data(), environ) != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

HttpServer recording_server() {
  return HttpServer([](const HttpServerRequest&) { return HttpServerResponse::json("{}"); });
}

// What curl sent, re-signed by us at curl's timestamp.
struct Comparison {
  std::string curl_authorization;
  std::string ours;
};

Comparison sign_like_curl(const HttpServer& server, const std::string& method,
                          const std::string& target, const Headers& our_headers,
                          const Credentials& creds) {
  auto log = server.requests();
  EXPECT_EQ(log.size(), 1u);
  if (log.empty()) return {};
  const HttpServerRequest& sent = log[0];
  EXPECT_EQ(sent.method, method);
  EXPECT_EQ(sent.target, target);
  std::string date = sent.header("x-amz-date");
  EXPECT_EQ(date.size(), 16u) << "curl sent no X-Amz-Date";
  // "20150830T123600Z" -> time point.
  std::string iso = date.substr(0, 4) + "-" + date.substr(4, 2) + "-" + date.substr(6, 2) + "T" +
                    date.substr(9, 2) + ":" + date.substr(11, 2) + ":" + date.substr(13, 2) + "Z";
  auto when = parse_iso8601(iso);
  EXPECT_TRUE(when) << iso;
  if (!when) return {};

  HttpRequest ours;
  ours.method = method;
  ours.url = server.url(target);
  ours.headers = our_headers;
  ours.body = sent.body;
  auto status = sign_request(ours, creds, {"us-east-1", "sqs"}, *when);
  EXPECT_TRUE(status) << status.error().describe();
  std::string authorization;
  for (const auto& [k, v] : ours.headers) {
    if (k == "Authorization") authorization = v;
  }
  return {sent.header("authorization"), authorization};
}

TEST(Sigv4Curl, SqsJsonPostMatchesCurl) {
  HttpServer server = recording_server();
  std::string body =
      R"({"QueueUrl":"http://127.0.0.1/000000000000/jobs.fifo","MessageBody":"{\"v\":1}",)"
      R"("MessageGroupId":"run-1#step","MessageDeduplicationId":"run-1#step#1"})";
  ASSERT_EQ(
      run_curl({"--aws-sigv4", "aws:amz:us-east-1:sqs", "--user",
                std::string(kAccessKey) + ":" + kSecret, "--header",
                "Content-Type: application/x-amz-json-1.0", "--header",
                "X-Amz-Target: AmazonSQS.SendMessage", "--data-binary", body, server.url("/")}),
      0);
  Credentials creds{kAccessKey, kSecret, "", std::nullopt, "test"};
  Comparison c = sign_like_curl(
      server, "POST", "/",
      {{"Content-Type", "application/x-amz-json-1.0"}, {"X-Amz-Target", "AmazonSQS.SendMessage"}},
      creds);
  ASSERT_EQ(server.requests().at(0).body, body);
  // Both sides signed the body-describing headers, not just host and date.
  EXPECT_NE(c.curl_authorization.find("SignedHeaders=content-type;host;x-amz-date;x-amz-target,"),
            std::string::npos)
      << c.curl_authorization;
  EXPECT_EQ(c.ours, c.curl_authorization);
}

TEST(Sigv4Curl, SessionTokenHeaderMatchesCurl) {
  // curl has no session-token option: the token goes in as a header, which curl signs
  // like any header given to it, just as our signer signs the token it adds.
  HttpServer server = recording_server();
  std::string token = "FwoGZXIvYXdzEJr//////////wEaDEXAMPLETOKEN+/=";
  ASSERT_EQ(run_curl({"--aws-sigv4", "aws:amz:us-east-1:sqs", "--user",
                      std::string(kAccessKey) + ":" + kSecret, "--header",
                      "Content-Type: application/x-amz-json-1.0", "--header",
                      "X-Amz-Target: AmazonSQS.ReceiveMessage", "--header",
                      "X-Amz-Security-Token: " + token, "--data-binary",
                      R"({"QueueUrl":"q","WaitTimeSeconds":20})", server.url("/")}),
            0);
  Credentials creds{kAccessKey, kSecret, token, std::nullopt, "test"};
  Comparison c = sign_like_curl(server, "POST", "/",
                                {{"Content-Type", "application/x-amz-json-1.0"},
                                 {"X-Amz-Target", "AmazonSQS.ReceiveMessage"}},
                                creds);
  EXPECT_EQ(server.requests().at(0).header("x-amz-security-token"), token);
  EXPECT_NE(c.curl_authorization.find(
                "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target,"),
            std::string::npos)
      << c.curl_authorization;
  EXPECT_EQ(c.ours, c.curl_authorization);
}

TEST(Sigv4Curl, PathAndQueryMatchCurl) {
  HttpServer server = recording_server();
  // Parameters already in canonical order: curl 7.88 signs the query as written instead
  // of sorting it (curl issue #9717); the suite's query cases prove our sorting.
  std::string target =
      "/000000000000/my-queue?Action=GetQueueAttributes&AttributeName.1=All&Version=2012-11-05";
  ASSERT_EQ(run_curl({"--aws-sigv4", "aws:amz:us-east-1:sqs", "--user",
                      std::string(kAccessKey) + ":" + kSecret, server.url(target)}),
            0);
  Credentials creds{kAccessKey, kSecret, "", std::nullopt, "test"};
  Comparison c = sign_like_curl(server, "GET", target, {}, creds);
  EXPECT_FALSE(c.curl_authorization.empty());
  EXPECT_EQ(c.ours, c.curl_authorization);
}

}  // namespace
}  // namespace opfleet::aws

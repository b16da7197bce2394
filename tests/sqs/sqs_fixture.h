// Shared by the SQS integration tests: a client on the stack's emulator
// (OPFLEET_SQS_ENDPOINT) and queues with unique names that are deleted at the end.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "aws/credentials.h"
#include "sqs/client.h"
#include "tests/support/stack_env.h"

namespace opfleet::sqs::testing {

inline ClientConfig stack_client_config() {
  ClientConfig c;
  c.endpoint = opfleet::testing::stack_env("OPFLEET_SQS_ENDPOINT");
  c.region = "us-east-1";
  c.credentials = aws::static_credentials({"test", "test", "", std::nullopt, "test"});
  // Short waits: a test that hits a retry should not stall for seconds.
  c.backoff = BackoffPolicy{Millis(50), Millis(400), 4};
  return c;
}

class SqsFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = Client::make(stack_client_config());
    ASSERT_TRUE(c) << c.error().describe();
    client_.emplace(std::move(*c));
  }

  void TearDown() override {
    for (const auto& url : created_) {
      auto r = client_->delete_queue(url);
      if (!r && r.error().kind != ErrorKind::kNotFound) ADD_FAILURE() << r.error().describe();
    }
  }

  Client& client() { return *client_; }

  // A new queue "<prefix>-<unique>[.fifo]", deleted in TearDown.
  std::string make_queue(std::string_view prefix, bool fifo, const Attributes& attributes = {}) {
    std::string name = opfleet::testing::unique_name(prefix) + (fifo ? ".fifo" : "");
    auto url = client_->create_queue(name, attributes);
    EXPECT_TRUE(url) << url.error().describe();
    if (!url) return {};
    created_.push_back(*url);
    return *url;
  }
  void forget_queue(const std::string& url) { std::erase(created_, url); }

  // One long poll of up to `wait_s` seconds.
  std::vector<Message> receive(const std::string& url, int max, int wait_s,
                               std::optional<int> visibility_s = std::nullopt) {
    ReceiveOptions o;
    o.max_messages = max;
    o.wait_seconds = wait_s;
    o.visibility_timeout_s = visibility_s;
    auto r = client_->receive_messages(url, o);
    EXPECT_TRUE(r) << r.error().describe();
    return r ? std::move(*r) : std::vector<Message>{};
  }

  // Long-polls until `want` messages have arrived (or `deadline` passes); deletes none.
  std::vector<Message> receive_n(const std::string& url, std::size_t want,
                                 std::chrono::seconds deadline = std::chrono::seconds(10)) {
    std::vector<Message> got;
    const auto end = std::chrono::steady_clock::now() + deadline;
    while (got.size() < want && std::chrono::steady_clock::now() < end) {
      auto batch = receive(url, 10, 1);
      got.insert(got.end(), batch.begin(), batch.end());
    }
    return got;
  }

  std::optional<Client> client_;
  std::vector<std::string> created_;
};

}  // namespace opfleet::sqs::testing

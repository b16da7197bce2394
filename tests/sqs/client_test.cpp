// Every client call against the stack's SQS emulator. Assertions hold for AWS SQS too:
// none relies on what the emulator does differently (no signature check, garbage receipt
// handles accepted on delete, one message per FIFO group per receive).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "sqs/errors.h"
#include "tests/sqs/sqs_fixture.h"

namespace opfleet::sqs {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;
using testing::SqsFixture;

std::int64_t now_ms() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int approximate_count(Client& client, const std::string& url) {
  const std::vector<std::string> names = {attr::kApproximateNumberOfMessages,
                                          attr::kApproximateNumberOfMessagesNotVisible};
  auto a = client.get_queue_attributes(url, names);
  EXPECT_TRUE(a) << a.error().describe();
  if (!a) return -1;
  return std::stoi(a->at(attr::kApproximateNumberOfMessages)) +
         std::stoi(a->at(attr::kApproximateNumberOfMessagesNotVisible));
}

class SqsClientTest : public SqsFixture {};

TEST_F(SqsClientTest, QueueLifecycle) {
  const std::string name = opfleet::testing::unique_name("sqs-life");
  const Attributes attrs = {{attr::kVisibilityTimeout, "45"},
                            {attr::kReceiveMessageWaitTimeSeconds, "2"},
                            {attr::kMessageRetentionPeriod, "3600"}};
  auto url = client().create_queue(name, attrs);
  ASSERT_TRUE(url) << url.error().describe();
  created_.push_back(*url);
  EXPECT_TRUE(url->ends_with("/" + name)) << *url;

  EXPECT_EQ(client().get_queue_url(name).value(), *url);
  auto got = client().get_queue_attributes(*url);
  ASSERT_TRUE(got) << got.error().describe();
  EXPECT_EQ(got->at(attr::kVisibilityTimeout), "45");
  EXPECT_EQ(got->at(attr::kReceiveMessageWaitTimeSeconds), "2");
  EXPECT_EQ(got->at(attr::kMessageRetentionPeriod), "3600");
  EXPECT_TRUE(got->at(attr::kQueueArn).ends_with(":" + name)) << got->at(attr::kQueueArn);
  EXPECT_FALSE(got->contains(attr::kFifoQueue) && got->at(attr::kFifoQueue) == "true");

  auto listed = client().list_queues(name);
  ASSERT_TRUE(listed) << listed.error().describe();
  EXPECT_EQ(*listed, std::vector<std::string>{*url});

  // CreateQueue is idempotent with the same attributes, a conflict with others.
  EXPECT_EQ(client().create_queue(name, attrs).value(), *url);
  auto conflict = client().create_queue(name, {{attr::kVisibilityTimeout, "46"}});
  ASSERT_FALSE(conflict);
  EXPECT_EQ(conflict.error().kind, ErrorKind::kConflict) << conflict.error().describe();

  ASSERT_TRUE(client().delete_queue(*url));
  forget_queue(*url);
  auto gone = client().get_queue_url(name);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().kind, ErrorKind::kNotFound);
}

TEST_F(SqsClientTest, SendReceiveDeleteWithAttributes) {
  const std::string url = make_queue("sqs-srd", false);
  OutgoingMessage m;
  m.body = R"({"v":1,"step":"ü"})";
  m.attributes["kind"] = {"String", "step", ""};
  m.attributes["attempt"] = {"Number", "2", ""};
  m.attributes["raw"] = {"Binary", "", "AAECAw=="};
  const std::int64_t before = now_ms();
  auto sent = client().send_message(url, m);
  ASSERT_TRUE(sent) << sent.error().describe();
  EXPECT_FALSE(sent->message_id.empty());

  auto got = receive(url, 10, 5);
  const std::int64_t after = now_ms();
  ASSERT_EQ(got.size(), 1u);
  const Message& r = got[0];
  EXPECT_EQ(r.message_id, sent->message_id);
  EXPECT_EQ(r.body, m.body);
  EXPECT_EQ(r.md5_of_body, sent->md5_of_body);
  EXPECT_EQ(r.message_attributes, m.attributes);
  EXPECT_EQ(r.receive_count(), 1);
  EXPECT_GE(r.sent_timestamp_ms(), before - 1000);  // another clock: a little slack
  EXPECT_LE(r.sent_timestamp_ms(), after + 1000);

  ASSERT_TRUE(client().delete_message(url, r.receipt_handle));
  EXPECT_EQ(approximate_count(client(), url), 0);
  EXPECT_TRUE(receive(url, 10, 0).empty());
}

TEST_F(SqsClientTest, BatchSendAndBatchDelete) {
  const std::string url = make_queue("sqs-batch", false);
  std::vector<OutgoingMessage> batch;
  for (int i = 0; i < 10; ++i)
    batch.push_back({.id = "e" + std::to_string(i), .body = "b" + std::to_string(i)});
  auto sent = client().send_message_batch(url, batch);
  ASSERT_TRUE(sent) << sent.error().describe();
  EXPECT_TRUE(sent->failed.empty());
  ASSERT_EQ(sent->successful.size(), 10u);
  std::set<std::string> ids;
  for (const auto& e : sent->successful) ids.insert(e.result.message_id);
  EXPECT_EQ(ids.size(), 10u);

  auto got = receive_n(url, 10);
  ASSERT_EQ(got.size(), 10u);
  std::set<std::string> bodies;
  std::vector<DeleteEntry> deletes;
  for (std::size_t i = 0; i < got.size(); ++i) {
    bodies.insert(got[i].body);
    deletes.push_back({"d" + std::to_string(i), got[i].receipt_handle});
  }
  EXPECT_EQ(bodies.size(), 10u);
  EXPECT_TRUE(bodies.contains("b0") && bodies.contains("b9"));
  auto deleted = client().delete_message_batch(url, deletes);
  ASSERT_TRUE(deleted) << deleted.error().describe();
  EXPECT_EQ(deleted->successful.size(), 10u);
  EXPECT_TRUE(deleted->failed.empty());
  EXPECT_EQ(approximate_count(client(), url), 0);
}

TEST_F(SqsClientTest, BatchFailuresAreReportedPerEntry) {
  const std::string url = make_queue("sqs-batchfail", true);
  std::vector<OutgoingMessage> batch = {
      {.id = "ok1", .body = "1", .group_id = "g1", .deduplication_id = "d1"},
      {.id = "nogroup", .body = "2", .deduplication_id = "d2"},
      {.id = "ok2", .body = "3", .group_id = "g2", .deduplication_id = "d3"}};
  auto sent = client().send_message_batch(url, batch);
  ASSERT_TRUE(sent) << sent.error().describe();
  ASSERT_EQ(sent->successful.size(), 2u);
  for (const auto& e : sent->successful) EXPECT_FALSE(e.result.sequence_number.empty());
  ASSERT_EQ(sent->failed.size(), 1u);
  EXPECT_EQ(sent->failed[0].id, "nogroup");
  EXPECT_EQ(sent->failed[0].code, "MissingParameter");
  EXPECT_TRUE(sent->failed[0].sender_fault);
  EXPECT_EQ(sent->failed[0].to_error().kind, ErrorKind::kInvalid);

  auto got = receive_n(url, 1);
  ASSERT_FALSE(got.empty());
  std::vector<VisibilityEntry> changes = {{"good", got[0].receipt_handle, 5},
                                          {"bogus", "not-a-receipt-handle", 5}};
  auto changed = client().change_message_visibility_batch(url, changes);
  ASSERT_TRUE(changed) << changed.error().describe();
  EXPECT_EQ(changed->successful, std::vector<std::string>{"good"});
  ASSERT_EQ(changed->failed.size(), 1u);
  EXPECT_EQ(changed->failed[0].id, "bogus");
  EXPECT_EQ(changed->failed[0].code, "ReceiptHandleIsInvalid");
  const Error e = changed->failed[0].to_error();
  EXPECT_EQ(e.kind, ErrorKind::kInvalid);
  EXPECT_EQ(e.code, "ReceiptHandleIsInvalid");
}

TEST_F(SqsClientTest, FifoDropsARepeatedDeduplicationId) {
  const std::string url = make_queue("sqs-dedup", true);
  auto first =
      client().send_message(url, {.body = "a", .group_id = "g", .deduplication_id = "k#0"});
  ASSERT_TRUE(first) << first.error().describe();
  // Same id within the 5-minute window: accepted, never delivered.
  auto repeat =
      client().send_message(url, {.body = "a-again", .group_id = "g", .deduplication_id = "k#0"});
  ASSERT_TRUE(repeat) << repeat.error().describe();
  // A new id (the next attempt) is a new message.
  auto next = client().send_message(url, {.body = "b", .group_id = "g", .deduplication_id = "k#1"});
  ASSERT_TRUE(next) << next.error().describe();

  std::vector<std::string> delivered;
  const auto end = steady_clock::now() + std::chrono::seconds(10);
  while (delivered.size() < 2 && steady_clock::now() < end) {
    for (const Message& m : receive(url, 10, 1)) {
      delivered.push_back(m.body);
      ASSERT_TRUE(client().delete_message(url, m.receipt_handle));
    }
  }
  EXPECT_EQ(delivered, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(receive(url, 10, 1).empty());
  EXPECT_EQ(approximate_count(client(), url), 0);
}

TEST_F(SqsClientTest, FifoContentBasedDeduplication) {
  const std::string url = make_queue("sqs-cbd", true, {{attr::kContentBasedDeduplication, "true"}});
  ASSERT_TRUE(client().send_message(url, {.body = "same", .group_id = "g"}));
  ASSERT_TRUE(client().send_message(url, {.body = "same", .group_id = "g"}));
  ASSERT_TRUE(client().send_message(url, {.body = "other", .group_id = "g"}));
  std::vector<std::string> delivered;
  const auto end = steady_clock::now() + std::chrono::seconds(10);
  while (delivered.size() < 2 && steady_clock::now() < end) {
    for (const Message& m : receive(url, 10, 1)) {
      delivered.push_back(m.body);
      ASSERT_TRUE(client().delete_message(url, m.receipt_handle));
    }
  }
  EXPECT_EQ(delivered, (std::vector<std::string>{"same", "other"}));
  EXPECT_TRUE(receive(url, 10, 1).empty());
}

TEST_F(SqsClientTest, FifoGroupsRunInParallelButInOrderWithinAGroup) {
  const std::string url = make_queue("sqs-groups", true);
  int seq = 0;
  for (const auto& [group, body] : std::vector<std::pair<std::string, std::string>>{
           {"A", "a1"}, {"B", "b1"}, {"A", "a2"}, {"A", "a3"}, {"B", "b2"}}) {
    ASSERT_TRUE(client().send_message(
        url, {.body = body, .group_id = group, .deduplication_id = "d" + std::to_string(seq++)}));
  }
  // The first receive hands out the head of some group.
  auto first = receive(url, 1, 5);
  ASSERT_EQ(first.size(), 1u);
  const std::string g = first[0].group_id();
  ASSERT_TRUE(g == "A" || g == "B") << g;
  EXPECT_EQ(first[0].body, g == "A" ? "a1" : "b1");

  // While it is in flight its group is locked, but the other group is served.
  auto second = receive(url, 10, 5);
  ASSERT_FALSE(second.empty());
  for (const Message& m : second) EXPECT_NE(m.group_id(), g) << m.body;
  EXPECT_EQ(second[0].body, g == "A" ? "b1" : "a1");

  // Deleting as we go, each group comes out in send order.
  std::map<std::string, std::vector<std::string>> by_group;
  auto take = [&](const std::vector<Message>& ms) {
    for (const Message& m : ms) {
      by_group[m.group_id()].push_back(m.body);
      ASSERT_TRUE(client().delete_message(url, m.receipt_handle));
    }
  };
  take(first);
  take(second);
  const auto end = steady_clock::now() + std::chrono::seconds(10);
  while (by_group["A"].size() + by_group["B"].size() < 5 && steady_clock::now() < end) {
    take(receive(url, 10, 1));
  }
  EXPECT_EQ(by_group["A"], (std::vector<std::string>{"a1", "a2", "a3"}));
  EXPECT_EQ(by_group["B"], (std::vector<std::string>{"b1", "b2"}));
}

TEST_F(SqsClientTest, ExpiredVisibilityRedeliversWithAHigherReceiveCount) {
  const std::string url = make_queue("sqs-vis", false, {{attr::kVisibilityTimeout, "30"}});
  ASSERT_TRUE(client().send_message(url, {.body = "x"}));
  // Per-call visibility of 1 s overrides the queue's 30 s.
  auto first = receive(url, 1, 5, 1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].receive_count(), 1);
  const auto t0 = steady_clock::now();
  // Not deleted: it comes back once the second has passed (the long poll waits for it).
  auto again = receive(url, 1, 10);
  const auto waited = std::chrono::duration_cast<milliseconds>(steady_clock::now() - t0);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].message_id, first[0].message_id);
  EXPECT_EQ(again[0].receive_count(), 2);
  EXPECT_NE(again[0].receipt_handle, first[0].receipt_handle);
  EXPECT_GE(waited.count(), 500) << "redelivered before its visibility timeout ended";
  EXPECT_LT(waited.count(), 9000);
}

TEST_F(SqsClientTest, ChangeVisibilityExtendsOrReleasesAMessage) {
  const std::string url = make_queue("sqs-chvis", false, {{attr::kVisibilityTimeout, "60"}});
  ASSERT_TRUE(client().send_message(url, {.body = "x"}));
  auto first = receive(url, 1, 5, 1);
  ASSERT_EQ(first.size(), 1u);
  // A heartbeat: extended to 30 s, it does not come back after its original 1 s.
  ASSERT_TRUE(client().change_message_visibility(url, first[0].receipt_handle, 30));
  EXPECT_TRUE(receive(url, 1, 2).empty());

  // Visibility 0 hands it back at once (what a supervisor does for a dead worker's claims).
  const auto t0 = steady_clock::now();
  ASSERT_TRUE(client().change_message_visibility(url, first[0].receipt_handle, 0));
  auto again = receive(url, 1, 10);
  const auto waited = std::chrono::duration_cast<milliseconds>(steady_clock::now() - t0);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].message_id, first[0].message_id);
  EXPECT_EQ(again[0].receive_count(), 2);
  EXPECT_LT(waited.count(), 5000);
}

TEST_F(SqsClientTest, MessageMovesToTheDlqAfterMaxReceiveCount) {
  const std::string dlq = make_queue("sqs-dlq", false);
  const std::string dlq_arn = client().get_queue_attributes(dlq).value().at(attr::kQueueArn);
  QueueSpec spec{.name = opfleet::testing::unique_name("sqs-src"),
                 .visibility_timeout_s = 30,
                 .redrive = RedrivePolicy{dlq_arn, 2}};
  auto src = client().create_queue(spec);
  ASSERT_TRUE(src) << src.error().describe();
  created_.push_back(*src);
  auto attrs = client().get_queue_attributes(*src).value();
  EXPECT_EQ(RedrivePolicy::parse(attrs.at(attr::kRedrivePolicy)).value(),
            (RedrivePolicy{dlq_arn, 2}));

  ASSERT_TRUE(client().send_message(*src, {.body = "poison"}));
  for (int n = 1; n <= 2; ++n) {
    auto got = receive(*src, 1, 5);
    ASSERT_EQ(got.size(), 1u) << "receive " << n;
    EXPECT_EQ(got[0].receive_count(), n);
    // The op "failed": hand it back at once instead of waiting out the visibility timeout.
    ASSERT_TRUE(client().change_message_visibility(*src, got[0].receipt_handle, 0));
  }
  // The third receive would exceed maxReceiveCount: SQS moves it to the DLQ instead.
  EXPECT_TRUE(receive(*src, 1, 1).empty());
  auto dead = receive(dlq, 1, 10);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].body, "poison");
  EXPECT_EQ(approximate_count(client(), *src), 0);
}

TEST_F(SqsClientTest, PurgeEmptiesTheQueue) {
  const std::string url = make_queue("sqs-purge", false);
  std::vector<OutgoingMessage> batch = {{.id = "a", .body = "1"}, {.id = "b", .body = "2"}};
  ASSERT_TRUE(client().send_message_batch(url, batch));
  ASSERT_EQ(approximate_count(client(), url), 2);
  ASSERT_TRUE(client().purge_queue(url));
  EXPECT_EQ(approximate_count(client(), url), 0);
  EXPECT_TRUE(receive(url, 10, 1).empty());
}

TEST_F(SqsClientTest, ErrorsAreTyped) {
  const auto attempts_before = client().stats().attempts;
  auto missing = client().get_queue_url(opfleet::testing::unique_name("sqs-missing"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::kNotFound) << missing.error().describe();
  EXPECT_EQ(missing.error().code, "QueueDoesNotExist");
  EXPECT_FALSE(missing.error().retryable);
  EXPECT_EQ(client().stats().attempts, attempts_before + 1) << "a non-retryable error was retried";

  // A queue that was deleted.
  const std::string url = make_queue("sqs-deleted", false);
  ASSERT_TRUE(client().delete_queue(url));
  forget_queue(url);
  auto to_deleted = client().send_message(url, {.body = "x"});
  ASSERT_FALSE(to_deleted);
  EXPECT_EQ(to_deleted.error().kind, ErrorKind::kNotFound);

  // Parameters SQS rejects.
  auto bad_attr = client().create_queue(opfleet::testing::unique_name("sqs-bad"),
                                        {{attr::kVisibilityTimeout, "999999"}});
  ASSERT_FALSE(bad_attr);
  EXPECT_EQ(bad_attr.error().kind, ErrorKind::kInvalid) << bad_attr.error().describe();
  EXPECT_FALSE(bad_attr.error().code.empty());
  auto fifo_attr_on_standard =
      client().create_queue(opfleet::testing::unique_name("sqs-bad"), {{attr::kFifoQueue, "true"}});
  ASSERT_FALSE(fifo_attr_on_standard);
  EXPECT_EQ(fifo_attr_on_standard.error().kind, ErrorKind::kInvalid);
  const std::string fifo = make_queue("sqs-nogroup", true);
  auto no_group = client().send_message(fifo, {.body = "x", .deduplication_id = "d"});
  ASSERT_FALSE(no_group);
  EXPECT_EQ(no_group.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(no_group.error().code, "MissingParameter");

  // And what the client refuses before asking.
  ReceiveOptions too_many;
  too_many.max_messages = 11;
  EXPECT_EQ(client().receive_messages(fifo, too_many).error().kind, ErrorKind::kInvalid);
}

}  // namespace
}  // namespace opfleet::sqs

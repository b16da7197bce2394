// Request building and answer parsing of the SQS JSON protocol, without a server.
#include "sqs/wire.h"

#include <gtest/gtest.h>

#include "aws/json_wire.h"
#include "sqs/queue_spec.h"

namespace opfleet::sqs::wire {
namespace {

using nlohmann::json;

constexpr const char* kUrl = "http://sqs.us-east-1.localhost.localstack.cloud:4566/000000000000/q";

TEST(SqsWire, SendMessageBodyCarriesEveryField) {
  OutgoingMessage m;
  m.body = "hello";
  m.group_id = "g1";
  m.deduplication_id = "d1";
  m.attributes["kind"] = {"String", "step", ""};
  m.attributes["n"] = {"Number", "42", ""};
  m.attributes["raw"] = {"Binary", "", "AAEC"};
  json body = send_message_body(kUrl, m).value();
  EXPECT_EQ(body["QueueUrl"], kUrl);
  EXPECT_EQ(body["MessageBody"], "hello");
  EXPECT_EQ(body["MessageGroupId"], "g1");
  EXPECT_EQ(body["MessageDeduplicationId"], "d1");
  EXPECT_FALSE(body.contains("DelaySeconds"));
  EXPECT_EQ(body["MessageAttributes"]["kind"],
            json({{"DataType", "String"}, {"StringValue", "step"}}));
  EXPECT_EQ(body["MessageAttributes"]["n"], json({{"DataType", "Number"}, {"StringValue", "42"}}));
  EXPECT_EQ(body["MessageAttributes"]["raw"],
            json({{"DataType", "Binary"}, {"BinaryValue", "AAEC"}}));
}

TEST(SqsWire, SendMessageRejectsWhatSqsWould) {
  OutgoingMessage empty;
  EXPECT_EQ(send_message_body(kUrl, empty).error().kind, ErrorKind::kInvalid);
  OutgoingMessage delayed{.body = "x", .delay_seconds = 901};
  auto e = send_message_body(kUrl, delayed).error();
  EXPECT_EQ(e.kind, ErrorKind::kInvalid);
  EXPECT_NE(e.message.find("DelaySeconds"), std::string::npos);
  OutgoingMessage bad_type{.body = "x"};
  bad_type.attributes["a"] = {"Blob", "v", ""};
  EXPECT_EQ(send_message_body(kUrl, bad_type).error().kind, ErrorKind::kInvalid);
  OutgoingMessage long_group{.body = "x", .group_id = std::string(129, 'g')};
  EXPECT_EQ(send_message_body(kUrl, long_group).error().kind, ErrorKind::kInvalid);
}

TEST(SqsWire, BatchBodiesCheckIdsAndSize) {
  std::vector<OutgoingMessage> ok_entries;
  for (int i = 0; i < 10; ++i) ok_entries.push_back({.id = "m" + std::to_string(i), .body = "b"});
  json body = send_message_batch_body(kUrl, ok_entries).value();
  ASSERT_EQ(body["Entries"].size(), 10u);
  EXPECT_EQ(body["Entries"][3]["Id"], "m3");
  EXPECT_EQ(body["Entries"][3]["MessageBody"], "b");

  auto eleven = ok_entries;
  eleven.push_back({.id = "m10", .body = "b"});
  EXPECT_EQ(send_message_batch_body(kUrl, eleven).error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(send_message_batch_body(kUrl, {}).error().kind, ErrorKind::kInvalid);

  std::vector<OutgoingMessage> repeated = {{.id = "a", .body = "1"}, {.id = "a", .body = "2"}};
  EXPECT_NE(send_message_batch_body(kUrl, repeated).error().message.find("repeated"),
            std::string::npos);
  std::vector<OutgoingMessage> bad_id = {{.id = "a b", .body = "1"}};
  EXPECT_EQ(send_message_batch_body(kUrl, bad_id).error().kind, ErrorKind::kInvalid);
  std::vector<OutgoingMessage> bad_entry = {{.id = "a", .body = "1"}, {.id = "b", .body = ""}};
  EXPECT_NE(send_message_batch_body(kUrl, bad_entry).error().message.find("entry 'b'"),
            std::string::npos);

  std::vector<DeleteEntry> deletes = {{"d1", "rh1"}, {"d2", "rh2"}};
  json del = delete_message_batch_body(kUrl, deletes).value();
  EXPECT_EQ(del["Entries"][1], json({{"Id", "d2"}, {"ReceiptHandle", "rh2"}}));
  std::vector<DeleteEntry> no_handle = {{"d1", ""}};
  EXPECT_EQ(delete_message_batch_body(kUrl, no_handle).error().kind, ErrorKind::kInvalid);

  std::vector<VisibilityEntry> vis = {{"v1", "rh1", 0}, {"v2", "rh2", 30}};
  json cv = change_visibility_batch_body(kUrl, vis).value();
  EXPECT_EQ(cv["Entries"][1],
            json({{"Id", "v2"}, {"ReceiptHandle", "rh2"}, {"VisibilityTimeout", 30}}));
  std::vector<VisibilityEntry> too_long = {{"v1", "rh1", 43201}};
  EXPECT_EQ(change_visibility_batch_body(kUrl, too_long).error().kind, ErrorKind::kInvalid);
}

TEST(SqsWire, ReceiveBodyAsksForWhatAWorkerNeeds) {
  ReceiveOptions o;
  o.wait_seconds = 20;
  o.visibility_timeout_s = 45;
  json body = receive_message_body(kUrl, o).value();
  EXPECT_EQ(body["QueueUrl"], kUrl);
  EXPECT_EQ(body["MaxNumberOfMessages"], 10);
  EXPECT_EQ(body["WaitTimeSeconds"], 20);
  EXPECT_EQ(body["VisibilityTimeout"], 45);
  EXPECT_EQ(body["MessageAttributeNames"], json::array({"All"}));
  const auto& names = body["MessageSystemAttributeNames"];
  for (const char* want : {"ApproximateReceiveCount", "SentTimestamp", "MessageGroupId"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
  }
  EXPECT_FALSE(body.contains("ReceiveRequestAttemptId"));

  ReceiveOptions queue_defaults;
  json plain = receive_message_body(kUrl, queue_defaults).value();
  EXPECT_FALSE(plain.contains("WaitTimeSeconds"));
  EXPECT_FALSE(plain.contains("VisibilityTimeout"));

  for (int bad : {0, 11}) {
    ReceiveOptions b;
    b.max_messages = bad;
    EXPECT_EQ(receive_message_body(kUrl, b).error().kind, ErrorKind::kInvalid) << bad;
  }
  ReceiveOptions long_wait;
  long_wait.wait_seconds = 21;
  EXPECT_NE(receive_message_body(kUrl, long_wait).error().message.find("WaitTimeSeconds"),
            std::string::npos);
}

TEST(SqsWire, SingleCallBodies) {
  EXPECT_EQ(change_visibility_body(kUrl, "rh", 0).value(),
            json({{"QueueUrl", kUrl}, {"ReceiptHandle", "rh"}, {"VisibilityTimeout", 0}}));
  EXPECT_EQ(change_visibility_body(kUrl, "rh", -1).error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(delete_message_body(kUrl, "").error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(get_queue_attributes_body(kUrl, {}),
            json({{"QueueUrl", kUrl}, {"AttributeNames", {"All"}}}));
  EXPECT_EQ(list_queues_body("pre", "", 1000),
            json({{"QueueNamePrefix", "pre"}, {"MaxResults", 1000}}));
  json create = create_queue_body("jobs.fifo", {{"FifoQueue", "true"}}).value();
  EXPECT_EQ(create, json({{"QueueName", "jobs.fifo"}, {"Attributes", {{"FifoQueue", "true"}}}}));
  EXPECT_EQ(create_queue_body("has space", {}).error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(create_queue_body(".fifo", {}).error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(create_queue_body(std::string(81, 'q'), {}).error().kind, ErrorKind::kInvalid);
}

TEST(SqsWire, InvalidUtf8IsRefusedBeforeSending) {
  OutgoingMessage m{.body = std::string("bad \xff byte")};
  json body = send_message_body(kUrl, m).value();
  auto text = aws::serialize(body);
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().kind, ErrorKind::kInvalid);
}

TEST(SqsWire, ParsesReceivedMessages) {
  json answer = json::parse(R"({"Messages":[
    {"MessageId":"id-1","ReceiptHandle":"rh-1","MD5OfBody":"5d41402abc4b2a76b9719d911017c592",
     "Body":"hello",
     "Attributes":{"ApproximateReceiveCount":"3","SentTimestamp":"1700000000123",
                   "MessageGroupId":"g"},
     "MessageAttributes":{"kind":{"DataType":"String","StringValue":"step"},
                          "raw":{"DataType":"Binary","BinaryValue":"AAEC"}}},
    {"MessageId":"id-2","ReceiptHandle":"rh-2","Body":"x"}]})");
  auto messages = parse_messages(answer).value();
  ASSERT_EQ(messages.size(), 2u);
  const Message& m = messages[0];
  EXPECT_EQ(m.message_id, "id-1");
  EXPECT_EQ(m.receipt_handle, "rh-1");
  EXPECT_EQ(m.body, "hello");
  EXPECT_EQ(m.receive_count(), 3);
  EXPECT_EQ(m.sent_timestamp_ms(), 1700000000123);
  EXPECT_EQ(m.group_id(), "g");
  EXPECT_EQ(m.message_attributes.at("kind"), (MessageAttributeValue{"String", "step", ""}));
  EXPECT_EQ(m.message_attributes.at("raw"), (MessageAttributeValue{"Binary", "", "AAEC"}));
  EXPECT_EQ(messages[1].receive_count(), 0);
  EXPECT_EQ(messages[1].group_id(), "");

  EXPECT_TRUE(parse_messages(json::object()).value().empty());
  EXPECT_TRUE(parse_messages(json{{"Messages", nullptr}}).value().empty());
}

TEST(SqsWire, MalformedAnswersAreInternalErrors) {
  EXPECT_EQ(parse_messages(json{{"Messages", "x"}}).error().kind, ErrorKind::kInternal);
  EXPECT_EQ(parse_messages(json::parse(R"({"Messages":[{"ReceiptHandle":"r"}]})")).error().kind,
            ErrorKind::kInternal);
  EXPECT_EQ(parse_queue_url(json::object(), "GetQueueUrl").error().kind, ErrorKind::kInternal);
  EXPECT_EQ(parse_attributes(json::parse(R"({"Attributes":{"A":1}})")).error().kind,
            ErrorKind::kInternal);
}

TEST(SqsWire, ParsesBatchOutcomesPerEntry) {
  json send = json::parse(R"({
    "Successful":[{"Id":"a","MessageId":"m-a","MD5OfMessageBody":"x","SequenceNumber":"7"}],
    "Failed":[{"Id":"b","Code":"MissingParameter","Message":"no group","SenderFault":true},
              {"Id":"c","Code":"InternalError","Message":"oops","SenderFault":false}]})");
  auto r = parse_send_batch_result(send).value();
  ASSERT_EQ(r.successful.size(), 1u);
  EXPECT_EQ(r.successful[0].id, "a");
  EXPECT_EQ(r.successful[0].result.message_id, "m-a");
  EXPECT_EQ(r.successful[0].result.sequence_number, "7");
  ASSERT_EQ(r.failed.size(), 2u);
  EXPECT_EQ(r.failed[0].id, "b");
  EXPECT_EQ(r.failed[0].code, "MissingParameter");
  EXPECT_TRUE(r.failed[0].sender_fault);
  EXPECT_FALSE(r.failed[1].sender_fault);

  json del = json::parse(R"({"Successful":[{"Id":"1"},{"Id":"2"}]})");
  auto d = parse_batch_result(del, "DeleteMessageBatch").value();
  EXPECT_EQ(d.successful, (std::vector<std::string>{"1", "2"}));
  EXPECT_TRUE(d.failed.empty());
}

TEST(SqsWire, Md5MatchesTheSqsChecksum) {
  EXPECT_EQ(md5_hex("hello"), "5d41402abc4b2a76b9719d911017c592");
  EXPECT_EQ(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
}

TEST(SqsQueueSpec, AttributesAreValidatedAndFifoFollowsTheName) {
  QueueSpec fifo{.name = "jobs.fifo",
                 .visibility_timeout_s = 60,
                 .receive_wait_s = 20,
                 .content_based_deduplication = false,
                 .redrive = RedrivePolicy{"arn:aws:sqs:us-east-1:1:jobs-dlq.fifo", 5}};
  auto a = fifo.attributes().value();
  EXPECT_EQ(a.at("FifoQueue"), "true");
  EXPECT_EQ(a.at("VisibilityTimeout"), "60");
  EXPECT_EQ(a.at("ReceiveMessageWaitTimeSeconds"), "20");
  EXPECT_EQ(a.at("ContentBasedDeduplication"), "false");
  EXPECT_EQ(
      a.at("RedrivePolicy"),
      R"({"deadLetterTargetArn":"arn:aws:sqs:us-east-1:1:jobs-dlq.fifo","maxReceiveCount":5})");

  QueueSpec standard{.name = "jobs", .content_based_deduplication = true};
  EXPECT_EQ(standard.attributes().error().kind, ErrorKind::kInvalid);
  QueueSpec bad_wait{.name = "jobs", .receive_wait_s = 21};
  EXPECT_NE(bad_wait.attributes().error().message.find("ReceiveMessageWaitTimeSeconds"),
            std::string::npos);
  QueueSpec bad_count{.name = "jobs", .redrive = RedrivePolicy{"arn", 0}};
  EXPECT_EQ(bad_count.attributes().error().kind, ErrorKind::kInvalid);
  EXPECT_FALSE(QueueSpec{.name = "jobs"}.attributes().value().contains("FifoQueue"));
}

TEST(SqsQueueSpec, RedrivePolicyParsesNumberOrString) {
  auto a = RedrivePolicy::parse(R"({"deadLetterTargetArn":"arn:x","maxReceiveCount":"7"})");
  auto b = RedrivePolicy::parse(R"({"maxReceiveCount":7,"deadLetterTargetArn":"arn:x"})");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(a->max_receive_count, 7);
  EXPECT_FALSE(RedrivePolicy::parse("not json"));
  EXPECT_FALSE(RedrivePolicy::parse(R"({"maxReceiveCount":7})"));
  EXPECT_FALSE(RedrivePolicy::parse(R"({"deadLetterTargetArn":"a","maxReceiveCount":"x"})"));
}

}  // namespace
}  // namespace opfleet::sqs::wire

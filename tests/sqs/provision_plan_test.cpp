// Provisioning decisions that need no server: names, validation, attribute comparison.
#include <gtest/gtest.h>

#include "sqs/provision.h"

namespace opfleet::sqs {
namespace {

TEST(SqsProvision, DlqNameKeepsTheQueueType) {
  EXPECT_EQ(default_dlq_name("opfleet-tasks.fifo"), "opfleet-tasks-dlq.fifo");
  EXPECT_EQ(default_dlq_name("opfleet-tasks"), "opfleet-tasks-dlq");
}

TEST(SqsProvision, ValidateRejectsMixedTypesAndShortDlqRetention) {
  ProvisionSpec ok_spec;
  EXPECT_TRUE(validate(ok_spec));

  ProvisionSpec mixed;
  mixed.dlq_name = "standard-dlq";
  auto e = validate(mixed).error();
  EXPECT_EQ(e.kind, ErrorKind::kInvalid);
  EXPECT_NE(e.message.find("FIFO"), std::string::npos) << e.message;

  ProvisionSpec same;
  same.dlq_name = same.queue_name;
  EXPECT_FALSE(validate(same));

  ProvisionSpec retention;
  retention.dlq_retention_s = retention.retention_s - 1;
  EXPECT_FALSE(validate(retention));

  ProvisionSpec bad_name;
  bad_name.queue_name = "bad name.fifo";
  EXPECT_FALSE(validate(bad_name));

  ProvisionSpec bad_count;
  bad_count.max_receive_count = 0;
  EXPECT_FALSE(validate(bad_count));
}

TEST(SqsProvision, ConflictsNameEachDifferingAttribute) {
  const Attributes wanted = {
      {"FifoQueue", "true"},
      {"VisibilityTimeout", "60"},
      {"MessageRetentionPeriod", "345600"},
      {"RedrivePolicy", R"({"deadLetterTargetArn":"arn:aws:sqs:r:1:d.fifo","maxReceiveCount":5})"}};
  Attributes same = {{"QueueArn", "arn:aws:sqs:r:1:q.fifo"},
                     {"FifoQueue", "TRUE"},
                     {"VisibilityTimeout", "60"},
                     {"MessageRetentionPeriod", "345600"},
                     {"DelaySeconds", "0"},  // not wanted: not compared
                     // Same policy, other spelling: SQS may answer with the count as a string.
                     {"RedrivePolicy",
                      R"({"maxReceiveCount":"5","deadLetterTargetArn":"arn:aws:sqs:r:1:d.fifo"})"}};
  EXPECT_TRUE(attribute_conflicts(wanted, same).empty());

  Attributes differ = same;
  differ["VisibilityTimeout"] = "30";
  differ["RedrivePolicy"] =
      R"({"deadLetterTargetArn":"arn:aws:sqs:r:1:d.fifo","maxReceiveCount":3})";
  differ.erase("MessageRetentionPeriod");
  auto c = attribute_conflicts(wanted, differ);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].attribute, "MessageRetentionPeriod");
  EXPECT_EQ(c[0].actual, "(not set)");
  EXPECT_EQ(c[1].attribute, "RedrivePolicy.maxReceiveCount");
  EXPECT_EQ(c[1].wanted, "5");
  EXPECT_EQ(c[1].actual, "3");
  EXPECT_EQ(c[2].attribute, "VisibilityTimeout");
  EXPECT_EQ(c[2].wanted, "60");
  EXPECT_EQ(c[2].actual, "30");

  // Another DLQ, and a policy that is not JSON at all.
  Attributes other_dlq = same;
  other_dlq["RedrivePolicy"] =
      R"({"deadLetterTargetArn":"arn:aws:sqs:r:1:x.fifo","maxReceiveCount":5})";
  auto c2 = attribute_conflicts(wanted, other_dlq);
  ASSERT_EQ(c2.size(), 1u);
  EXPECT_EQ(c2[0].attribute, "RedrivePolicy.deadLetterTargetArn");
  EXPECT_EQ(c2[0].actual, "arn:aws:sqs:r:1:x.fifo");
  Attributes garbage = same;
  garbage["RedrivePolicy"] = "{";
  auto c3 = attribute_conflicts(wanted, garbage);
  ASSERT_EQ(c3.size(), 1u);
  EXPECT_EQ(c3[0].attribute, "RedrivePolicy");

  // A standard queue has no FifoQueue attribute at all: absent means false.
  EXPECT_TRUE(attribute_conflicts({{"FifoQueue", "false"}}, {}).empty());
  EXPECT_EQ(attribute_conflicts({{"FifoQueue", "true"}}, {}).size(), 1u);
}

}  // namespace
}  // namespace opfleet::sqs

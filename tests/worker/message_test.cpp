#include "worker/message.h"

#include "jobs/job.h"

#include <gtest/gtest.h>

namespace opfleet::worker {
namespace {

StepMessage sample() {
  StepMessage m;
  m.run_id = "0b5d0e9e-1f0e-4c1e-9d59-2c7d0f3f8a11";
  m.step_key = "fast";
  m.idempotency_key = idempotency_key(m.run_id, m.step_key);
  m.attempt = 1;
  m.job = "fast_job";
  m.op = {{"kind", "sleep"}, {"mean_s", 20}, {"jitter_s", 10}};
  m.time_scale = 0.01;
  m.enqueued_at = "2026-11-23T11:30:00.000Z";
  return m;
}

TEST(Message, RoundTrips) {
  auto m = sample();
  auto d = decode(encode(m));
  ASSERT_TRUE(d) << d.error().describe();
  EXPECT_EQ(d->run_id, m.run_id);
  EXPECT_EQ(d->step_key, "fast");
  EXPECT_EQ(d->idempotency_key, m.run_id + "#fast");
  EXPECT_EQ(d->attempt, 1);
  EXPECT_EQ(d->op["kind"], "sleep");
  EXPECT_DOUBLE_EQ(d->time_scale, 0.01);
}

TEST(Message, DedupIdChangesWithAttemptAndFitsSqsLimit) {
  std::string key = idempotency_key(std::string(36, 'a'), std::string(64, 'b'));
  EXPECT_NE(deduplication_id(key, 0), deduplication_id(key, 1));
  EXPECT_LE(deduplication_id(key, 999).size(), 128u);
}

struct PoisonCase {
  const char* name;
  std::string body;
  const char* reason;
};

TEST(Message, PoisonBodiesAreRejectedWithAReason) {
  std::string good = encode(sample());
  nlohmann::json j = nlohmann::json::parse(good);
  auto with = [&](const char* field, nlohmann::json v) {
    auto c = j;
    c[field] = v;
    return c.dump();
  };
  auto without = [&](const char* field) {
    auto c = j;
    c.erase(field);
    return c.dump();
  };
  const PoisonCase cases[] = {
      {"not json", "{oops", "not valid JSON"},
      {"array", "[1,2]", "not a JSON object"},
      {"oversize", std::string(kMaxMessageBytes + 1, ' '), "exceeds"},
      {"future version", with("v", 2), "unknown message version 2"},
      {"no version", without("v"), "version"},
      {"no run id", without("run_id"), "run_id"},
      {"bad step key", with("step_key", "a b"), "invalid step key"},
      {"key mismatch", with("idempotency_key", "x#y"), "does not match"},
      {"negative attempt", with("attempt", -1), "attempt"},
      {"op not object", with("op", "sleep"), "op"},
      {"zero time scale", with("time_scale", 0), "time_scale"},
  };
  for (const auto& c : cases) {
    auto d = decode(c.body);
    ASSERT_FALSE(d) << c.name;
    EXPECT_EQ(d.error().kind, ErrorKind::kInvalid) << c.name;
    EXPECT_NE(d.error().message.find(c.reason), std::string::npos)
        << c.name << ": " << d.error().message;
  }
}

TEST(Message, StepKeysFollowTheJobModelsRule) {
  EXPECT_TRUE(jobs::valid_key("fast_1.a-b"));
  EXPECT_FALSE(jobs::valid_key(""));
  EXPECT_FALSE(jobs::valid_key(std::string(65, 'a')));
  EXPECT_FALSE(jobs::valid_key("a#b"));
}

}  // namespace
}  // namespace opfleet::worker

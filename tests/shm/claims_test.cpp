#include "shm/claims.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "shm/seqlock.h"
#include "shm/segment.h"
#include "tests/support/stack_env.h"

namespace opfleet::shm {
namespace {

class ClaimsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    name_ = testing::unique_name("claims");
    auto seg = SegmentHandle::create(name_, getpid());
    ASSERT_TRUE(seg) << seg.error().describe();
    seg_.emplace(std::move(*seg));
  }
  void TearDown() override {
    if (seg_) seg_->remove();
  }
  Segment& segment() { return *seg_->get(); }
  std::string name_;
  std::optional<SegmentHandle> seg_;
};

TEST_F(ClaimsTest, ClaimPublishesKeyReceiptAndToken) {
  WorkerClaims w(segment(), 2);
  auto r = w.claim("run-1#fast", "receipt-abc");
  ASSERT_EQ(r.outcome, ClaimOutcome::kClaimed);
  w.set_fencing_token(r.slot, 17);
  auto claims = read_claims(segment().workers[2]);
  ASSERT_EQ(claims.size(), 1u);
  EXPECT_EQ(claims[0].key, "run-1#fast");
  EXPECT_EQ(claims[0].receipt_handle, "receipt-abc");
  EXPECT_EQ(claims[0].fencing_token, 17);
  EXPECT_GT(claims[0].claimed_at_ns, 0u);
  w.release(r.slot);
  EXPECT_TRUE(read_claims(segment().workers[2]).empty());
}

TEST_F(ClaimsTest, SecondDeliveryOnTheHostIsADuplicate) {
  WorkerClaims a(segment(), 0);
  WorkerClaims b(segment(), 5);
  ASSERT_EQ(a.claim("run-1#x", "r1").outcome, ClaimOutcome::kClaimed);
  auto again_same_worker = a.claim("run-1#x", "r2");
  EXPECT_EQ(again_same_worker.outcome, ClaimOutcome::kDuplicate);
  auto other_worker = b.claim("run-1#x", "r3");
  EXPECT_EQ(other_worker.outcome, ClaimOutcome::kDuplicate);
  EXPECT_EQ(other_worker.holder_worker, 0);
  EXPECT_TRUE(read_claims(segment().workers[5]).empty());
  // A different key is fine.
  EXPECT_EQ(b.claim("run-1#y", "r4").outcome, ClaimOutcome::kClaimed);
}

TEST_F(ClaimsTest, OlderClaimWinsEvenAgainstALowerIndex) {
  WorkerClaims high(segment(), 9);
  WorkerClaims low(segment(), 1);
  ASSERT_EQ(high.claim("k#1", "r").outcome, ClaimOutcome::kClaimed);
  EXPECT_EQ(low.claim("k#1", "r").outcome, ClaimOutcome::kDuplicate);
}

TEST_F(ClaimsTest, SlotsFillUp) {
  WorkerClaims w(segment(), 0);
  for (std::uint32_t i = 0; i < kMaxClaimsPerWorker; ++i) {
    ASSERT_EQ(w.claim("k#" + std::to_string(i), "r").outcome, ClaimOutcome::kClaimed);
  }
  EXPECT_EQ(w.claim("k#over", "r").outcome, ClaimOutcome::kFull);
}

TEST_F(ClaimsTest, LongValuesAreTruncatedNotOverflowed) {
  WorkerClaims w(segment(), 0);
  std::string receipt(5000, 'x');
  auto r = w.claim("k#long", receipt);
  ASSERT_EQ(r.outcome, ClaimOutcome::kClaimed);
  auto claims = read_claims(segment().workers[0]);
  ASSERT_EQ(claims.size(), 1u);
  EXPECT_EQ(claims[0].receipt_handle.size(), AtomicText<kReceiptWords>::kCapacity);
}

TEST_F(ClaimsTest, ClaimsOfAKilledProcessAreReadableAndRecoverable) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto seg = SegmentHandle::attach(name_);
    if (!seg) _exit(1);
    WorkerClaims w(*seg->get(), 4);
    auto r = w.claim("run-9#slow", "rh-9");
    w.set_fencing_token(r.slot, 3);
    // Simulate a writer killed in the middle of an update: the sequence stays odd.
    seq_write_begin(seg->get()->workers[4].claims[r.slot].seq);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_EQ(WEXITSTATUS(status), 0);
  auto claims = read_claims(segment().workers[4]);
  ASSERT_EQ(claims.size(), 1u);
  EXPECT_EQ(claims[0].key, "run-9#slow");
  EXPECT_EQ(claims[0].fencing_token, 3);
  WorkerClaims recovery(segment(), 4);
  recovery.release_all();
  EXPECT_TRUE(read_claims(segment().workers[4]).empty());
  EXPECT_EQ(segment().workers[4].claims[0].seq.load() % 2, 0u);
}

TEST_F(ClaimsTest, ConcurrentClaimsOfOneKeyNeverBothDropAndRarelyBothPass) {
  // Many rounds of two threads (acting as two workers) racing for the same key.
  int both_claimed = 0;
  int none_claimed = 0;
  for (int round = 0; round < 500; ++round) {
    WorkerClaims a(segment(), 10);
    WorkerClaims b(segment(), 11);
    std::string key = "race#" + std::to_string(round);
    std::atomic<int> go{0};
    ClaimResult ra, rb;
    std::thread ta([&] { while (go.load() == 0) {} ra = a.claim(key, "r"); });
    std::thread tb([&] { while (go.load() == 0) {} rb = b.claim(key, "r"); });
    go.store(1);
    ta.join();
    tb.join();
    bool ca = ra.outcome == ClaimOutcome::kClaimed;
    bool cb = rb.outcome == ClaimOutcome::kClaimed;
    if (ca && cb) ++both_claimed;
    if (!ca && !cb) ++none_claimed;
    if (ca) a.release(ra.slot);
    if (cb) b.release(rb.slot);
  }
  EXPECT_EQ(none_claimed, 0);
  // Both passing is allowed (PostgreSQL decides) but must stay the exception.
  EXPECT_LT(both_claimed, 250);
}

}  // namespace
}  // namespace opfleet::shm

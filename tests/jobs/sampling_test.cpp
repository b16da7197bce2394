// Duration sampling: uniform in [mean - jitter, mean + jitter] seconds x time scale.
#include "jobs/sampling.h"

#include <cmath>

#include <gtest/gtest.h>

#include "jobs/builtin.h"

namespace opfleet::jobs {
namespace {

using std::chrono::duration;
using std::chrono::nanoseconds;

double seconds(nanoseconds d) {
  return duration<double>(d).count();
}

struct Spread {
  double min = INFINITY;
  double max = -INFINITY;
  double mean = 0;
};

Spread sample(const SleepParams& p, double scale, int n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Spread s;
  double sum = 0;
  for (int i = 0; i < n; ++i) {
    const double v = seconds(sample_duration(p, scale, rng));
    s.min = std::min(s.min, v);
    s.max = std::max(s.max, v);
    sum += v;
  }
  s.mean = sum / n;
  return s;
}

TEST(Sampling, FastOpAtTimeScaleOneHundredthStaysInRange) {
  // --time-scale 0.01: 20±10 s becomes 0.2±0.1 s.
  const Spread s = sample(kFastOp, 0.01, 20000, 1);
  EXPECT_GE(s.min, 0.1 - 1e-9);
  EXPECT_LE(s.max, 0.3 + 1e-9);
  // Uniform: the samples reach both ends and centre on the mean.
  EXPECT_LT(s.min, 0.101);
  EXPECT_GT(s.max, 0.299);
  EXPECT_NEAR(s.mean, 0.2, 0.002);
}

TEST(Sampling, SlowOpAtFullScale) {
  const Spread s = sample(kSlowOp, 1.0, 20000, 2);
  EXPECT_GE(s.min, 180.0);
  EXPECT_LE(s.max, 420.0);
  EXPECT_LT(s.min, 181.0);
  EXPECT_GT(s.max, 419.0);
  EXPECT_NEAR(s.mean, 300.0, 3.0);
}

TEST(Sampling, UniformNotBellShaped) {
  // A quarter of a uniform distribution lies in each quarter of the range.
  std::mt19937_64 rng(3);
  int buckets[4] = {0, 0, 0, 0};
  const int n = 40000;
  for (int i = 0; i < n; ++i) {
    const double v = seconds(sample_duration(kFastOp, 1.0, rng));
    buckets[std::min(3, static_cast<int>((v - 10.0) / 5.0))]++;
  }
  for (int b : buckets) EXPECT_NEAR(b, n / 4, n / 40) << "bucket counts are not uniform";
}

TEST(Sampling, NoJitterIsExactAndScaleZeroIsInstant) {
  std::mt19937_64 rng(4);
  EXPECT_EQ(sample_duration(SleepParams{1.5, 0}, 1.0, rng), nanoseconds(1'500'000'000));
  EXPECT_EQ(sample_duration(SleepParams{20, 0}, 0.01, rng), nanoseconds(200'000'000));
  EXPECT_EQ(sample_duration(kSlowOp, 0.0, rng), nanoseconds(0));
}

TEST(Sampling, SameSeedSameDurations) {
  std::mt19937_64 a(7);
  std::mt19937_64 b(7);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(sample_duration(kFastOp, 1.0, a), sample_duration(kFastOp, 1.0, b));
  }
}

TEST(Sampling, TimeScaleMustBeFiniteAndNonNegative) {
  EXPECT_TRUE(check_time_scale(1.0));
  EXPECT_TRUE(check_time_scale(0.01));
  EXPECT_TRUE(check_time_scale(0.0));
  for (double bad : {-0.5, std::nan(""), static_cast<double>(INFINITY)}) {
    auto st = check_time_scale(bad);
    ASSERT_FALSE(st) << bad;
    EXPECT_EQ(st.error().kind, ErrorKind::kInvalid);
  }
}

}  // namespace
}  // namespace opfleet::jobs

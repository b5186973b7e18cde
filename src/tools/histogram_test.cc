#include "tools/histogram.h"

#include <gtest/gtest.h>

#include <random>

namespace flin::bench {
namespace {

TEST(LatencyHistogramTest, BucketsAreContiguousAndPrecise) {
  // Every value maps to a bucket whose upper edge is >= the value and within 1/128 of it.
  uint64_t prev_edge = 0;
  for (int b = 0; b < 3000; ++b) {
    uint64_t edge = LatencyHistogram::BucketUpperEdge(b);
    if (b > 0) {
      EXPECT_EQ(LatencyHistogram::BucketOf(prev_edge + 1), b);
    }
    EXPECT_EQ(LatencyHistogram::BucketOf(edge), b);
    prev_edge = edge;
  }
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100000; ++i) {
    uint64_t v = rng() >> (24 + rng() % 40);
    uint64_t edge = LatencyHistogram::BucketUpperEdge(LatencyHistogram::BucketOf(v));
    ASSERT_GE(edge, v);
    ASSERT_LE(edge - v, v / 128 + 1);
  }
}

TEST(LatencyHistogramTest, Percentiles) {
  LatencyHistogram h;
  EXPECT_EQ(h.Percentile(50), 0u);
  for (uint64_t v = 1; v <= 1000; ++v) h.Record(v * 1000);  // 1..1000 us
  EXPECT_EQ(h.count(), 1000u);
  EXPECT_EQ(h.max(), 1000000u);
  EXPECT_EQ(h.min(), 1000u);
  auto near = [](uint64_t got, uint64_t want) {
    return got >= want && got - want <= want / 128 + 1;
  };
  EXPECT_TRUE(near(h.Percentile(50), 500000)) << h.Percentile(50);
  EXPECT_TRUE(near(h.Percentile(99), 990000)) << h.Percentile(99);
  EXPECT_EQ(h.Percentile(100), 1000000u);
  LatencyHistogram other;
  other.Record(5000000);
  h.Merge(other);
  EXPECT_EQ(h.max(), 5000000u);
  EXPECT_EQ(h.Percentile(100), 5000000u);
  h.Reset();
  EXPECT_EQ(h.count(), 0u);
}

TEST(LatencyHistogramTest, HugeValuesAreClamped) {
  LatencyHistogram h;
  h.Record(UINT64_MAX / 2);
  EXPECT_EQ(h.count(), 1u);
  EXPECT_EQ(h.Percentile(50), UINT64_MAX / 2);  // capped by the exact max
}

}  // namespace
}  // namespace flin::bench

#include "tools/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace flin::bench {
namespace {

constexpr int kSubBits = 7;                  // 128 buckets per power of two
constexpr int kSub = 1 << kSubBits;
constexpr int kLinear = 2 * kSub;            // [0, 256) counted exactly
constexpr int kMaxExponent = 40;             // 2^40 ns ~ 1100 s
constexpr int kBuckets = kLinear + (kMaxExponent - kSubBits) * kSub;

}  // namespace

LatencyHistogram::LatencyHistogram() : counts_(kBuckets, 0) {}

int LatencyHistogram::BucketOf(uint64_t v) {
  if (v < static_cast<uint64_t>(kLinear)) return static_cast<int>(v);
  int msb = 63 - std::countl_zero(v);  // >= kSubBits + 1
  int shift = msb - kSubBits;          // >= 1
  int index = kLinear + (shift - 1) * kSub + static_cast<int>((v >> shift) - kSub);
  return std::min(index, kBuckets - 1);
}

uint64_t LatencyHistogram::BucketUpperEdge(int b) {
  if (b < kLinear) return static_cast<uint64_t>(b);
  int shift = (b - kLinear) / kSub + 1;
  uint64_t sub = static_cast<uint64_t>((b - kLinear) % kSub + kSub);
  return ((sub + 1) << shift) - 1;
}

void LatencyHistogram::Record(uint64_t nanos) {
  ++counts_[BucketOf(nanos)];
  ++count_;
  sum_ += nanos;
  min_ = std::min(min_, nanos);
  max_ = std::max(max_, nanos);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void LatencyHistogram::Reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = sum_ = max_ = 0;
  min_ = UINT64_MAX;
}

uint64_t LatencyHistogram::Percentile(double p) const {
  if (count_ == 0) return 0;
  uint64_t rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t b = 0; b < counts_.size(); ++b) {
    seen += counts_[b];
    if (seen >= rank) {
      if (b + 1 == counts_.size()) return max_;  // the clamped overflow bucket
      return std::min(BucketUpperEdge(static_cast<int>(b)), max_);
    }
  }
  return max_;
}

}  // namespace flin::bench

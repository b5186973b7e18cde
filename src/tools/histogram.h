#pragma once
// LatencyHistogram: an HdrHistogram-style log-linear histogram of latencies in nanoseconds.
//
// Values below 256 ns are counted exactly; above, each power-of-two range [2^k, 2^(k+1)) is
// cut into 128 equal buckets, so a reported percentile is within 1/128 (< 0.8 %) of the true
// value — microsecond resolution or better for every latency a network round trip can take.
// Values above ~1100 s are clamped into the last bucket. Fixed size (~35 KiB), no allocation
// while recording.
//
// Thread-safety: none; each thread records into its own and the results are Merge()d.

#include <cstdint>
#include <vector>

namespace flin::bench {

class LatencyHistogram {
 public:
  LatencyHistogram();

  void Record(uint64_t nanos);
  void Merge(const LatencyHistogram& other);
  void Reset();

  uint64_t count() const { return count_; }
  uint64_t max() const { return max_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  double mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0; }
  // The value at percentile p (0 < p <= 100): the upper edge of the bucket holding the
  // ceil(p/100 * count)-th smallest value, capped by the exact max. 0 when empty.
  uint64_t Percentile(double p) const;

  // Bucket index of a value, and the highest value a bucket holds (exposed for tests).
  static int BucketOf(uint64_t nanos);
  static uint64_t BucketUpperEdge(int bucket);

 private:
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace flin::bench

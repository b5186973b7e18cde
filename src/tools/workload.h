#pragma once
// Workload: the stream of requests one bench thread sends — which operation, which keys.
//
// Keys are "key:" + a 12-digit index (as redis-benchmark names them with -r), counters for
// INCR are "counter:" + index, so INCR never meets a SET's non-numeric value. The index is
// drawn uniformly, from a scrambled Zipf distribution (YCSB's: hot keys spread over the
// keyspace), or sequentially (each thread walks its own stride).
//
// Thread-safety: a Workload belongs to one thread. ZipfParams is immutable and shared.

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "tools/bench_options.h"

namespace flin::bench {

// The constants of YCSB's Zipfian generator for n items; O(min(n, 10^7)) to compute.
struct ZipfParams {
  ZipfParams(uint64_t n, double theta);
  uint64_t n;
  double theta, alpha, zetan, eta, half_pow_theta;
};

class Workload {
 public:
  Workload(const BenchOptions& options, const ZipfParams* zipf, int thread_index,
           int thread_count);

  // The next request. The views in *argv stay valid until the next call. *key_index (if
  // given) receives the index of its first key, so that Rebuild() can make it again.
  Op Next(std::vector<std::string_view>* argv, uint64_t* key_index = nullptr);
  // The same request again (for a resend after a redirection): a GET, SET, INCR or PING of
  // the key Next() named by key_index. Not for MSET/MGET, whose other keys are not kept.
  void Rebuild(Op op, uint64_t key_index, std::vector<std::string_view>* argv);

 private:
  uint64_t NextIndex();
  std::string_view Key(size_t slot, std::string_view prefix, uint64_t index);

  const BenchOptions& options_;
  const ZipfParams* zipf_;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> unit_{0.0, 1.0};
  std::vector<std::pair<Op, int>> cumulative_;  // op and cumulative weight
  int total_weight_ = 0;
  uint64_t sequence_;
  uint64_t stride_;
  std::string value_;
  std::vector<std::string> keys_;  // scratch, one per key of the current request
};

}  // namespace flin::bench

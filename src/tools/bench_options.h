#pragma once
// flin-bench's command line: what to run, against what, for how long.

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "flin/cluster.h"

namespace flin::bench {

enum class Op { kGet, kSet, kIncr, kMset, kMget, kPing };
inline constexpr int kOpCount = 6;
const char* OpName(Op op);

enum class KeyDist { kUniform, kZipf, kSequential };

struct BenchOptions {
  std::string host = "127.0.0.1";
  int port = 6380;
  std::vector<NodeAddress> cluster;  // non-empty: cluster mode, route by slot
  int connections = 50;
  int pipeline = 1;
  double duration_s = 10;
  int64_t requests = 0;  // > 0: run this many requests instead of a duration
  double warmup_s = 0;
  int64_t keyspace = 100000;
  KeyDist key_dist = KeyDist::kUniform;
  double zipf_theta = 0.99;
  int value_size = 100;
  std::vector<std::pair<Op, int>> mix = {{Op::kGet, 90}, {Op::kSet, 10}};
  int batch = 10;  // keys per MSET / MGET
  int threads = 1;
  bool json = false;
  bool quiet = false;
  int connect_timeout_ms = 2000;
  uint64_t seed = 1;

  std::string MixString() const;
};

// Parses argv. Returns InvalidArgument with a message naming the bad flag. Sets *help when
// --help was given (the caller prints Usage()).
Result<BenchOptions> ParseOptions(int argc, char** argv, bool* help);
std::string Usage();

}  // namespace flin::bench

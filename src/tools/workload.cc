#include "tools/workload.h"

#include <cmath>

namespace flin::bench {
namespace {

constexpr int kIndexDigits = 12;
constexpr uint64_t kExactZetaLimit = 10'000'000;

double Zeta(uint64_t n, double theta) {
  const uint64_t exact = std::min(n, kExactZetaLimit);
  double sum = 0;
  for (uint64_t i = 1; i <= exact; ++i) sum += 1.0 / std::pow(static_cast<double>(i), theta);
  if (n > exact) {
    // The tail by its integral: the terms vary slowly this far out.
    sum += (std::pow(static_cast<double>(n), 1 - theta) -
            std::pow(static_cast<double>(exact), 1 - theta)) / (1 - theta);
  }
  return sum;
}

uint64_t Fnv1a(uint64_t v) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (int i = 0; i < 8; ++i) {
    h ^= (v >> (i * 8)) & 0xff;
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace

ZipfParams::ZipfParams(uint64_t items, double t) : n(items), theta(t) {
  alpha = 1.0 / (1.0 - theta);
  zetan = Zeta(n, theta);
  const double zeta2 = Zeta(2, theta);
  eta = (1 - std::pow(2.0 / static_cast<double>(n), 1 - theta)) / (1 - zeta2 / zetan);
  half_pow_theta = 1 + std::pow(0.5, theta);
}

Workload::Workload(const BenchOptions& options, const ZipfParams* zipf, int thread_index,
                   int thread_count)
    : options_(options),
      zipf_(zipf),
      rng_(options.seed * 1000003 + thread_index),
      sequence_(static_cast<uint64_t>(thread_index)),
      stride_(static_cast<uint64_t>(thread_count)),
      value_(static_cast<size_t>(options.value_size), 'x') {
  for (const auto& [op, weight] : options.mix) {
    total_weight_ += weight;
    cumulative_.emplace_back(op, total_weight_);
  }
  keys_.resize(static_cast<size_t>(options.batch));
}

uint64_t Workload::NextIndex() {
  const uint64_t n = static_cast<uint64_t>(options_.keyspace);
  switch (options_.key_dist) {
    case KeyDist::kUniform:
      return rng_() % n;
    case KeyDist::kSequential: {
      uint64_t i = sequence_ % n;
      sequence_ += stride_;
      return i;
    }
    case KeyDist::kZipf: {
      const double u = unit_(rng_);
      const double uz = u * zipf_->zetan;
      uint64_t rank;
      if (uz < 1.0) {
        rank = 0;
      } else if (uz < zipf_->half_pow_theta) {
        rank = 1;
      } else {
        rank = static_cast<uint64_t>(static_cast<double>(n) *
                                     std::pow(zipf_->eta * u - zipf_->eta + 1, zipf_->alpha));
      }
      return Fnv1a(std::min(rank, n - 1)) % n;  // scrambled: hot keys spread out
    }
  }
  return 0;
}

std::string_view Workload::Key(size_t slot, std::string_view prefix, uint64_t index) {
  std::string& k = keys_[slot];
  k.assign(prefix);
  const size_t at = k.size();
  k.resize(at + kIndexDigits, '0');
  for (int d = kIndexDigits - 1; d >= 0 && index > 0; --d) {
    k[at + d] = static_cast<char>('0' + index % 10);
    index /= 10;
  }
  return k;
}

Op Workload::Next(std::vector<std::string_view>* argv, uint64_t* key_index) {
  Op op = cumulative_.front().first;
  if (cumulative_.size() > 1) {
    const int pick = static_cast<int>(rng_() % static_cast<uint64_t>(total_weight_));
    for (const auto& [o, upto] : cumulative_) {
      if (pick < upto) {
        op = o;
        break;
      }
    }
  }
  argv->clear();
  uint64_t first = 0;
  switch (op) {
    case Op::kGet:
    case Op::kSet:
    case Op::kIncr:
      first = NextIndex();
      Rebuild(op, first, argv);
      break;
    case Op::kMset:
      argv->push_back("MSET");
      for (size_t i = 0; i < keys_.size(); ++i) {
        const uint64_t index = NextIndex();
        if (i == 0) first = index;
        argv->push_back(Key(i, "key:", index));
        argv->push_back(value_);
      }
      break;
    case Op::kMget:
      argv->push_back("MGET");
      for (size_t i = 0; i < keys_.size(); ++i) {
        const uint64_t index = NextIndex();
        if (i == 0) first = index;
        argv->push_back(Key(i, "key:", index));
      }
      break;
    case Op::kPing:
      argv->push_back("PING");
      break;
  }
  if (key_index) *key_index = first;
  return op;
}

void Workload::Rebuild(Op op, uint64_t key_index, std::vector<std::string_view>* argv) {
  switch (op) {
    case Op::kGet:
      *argv = {"GET", Key(0, "key:", key_index)};
      break;
    case Op::kSet:
      *argv = {"SET", Key(0, "key:", key_index), value_};
      break;
    case Op::kIncr:
      *argv = {"INCR", Key(0, "counter:", key_index)};
      break;
    case Op::kPing:
    case Op::kMset:  // not rebuilt (see the header): a PING stands in
    case Op::kMget:
      *argv = {"PING"};
      break;
  }
}

}  // namespace flin::bench

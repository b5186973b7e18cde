#include "server/hyperloglog.h"

#include <bit>
#include <cmath>
#include <cstring>

namespace flin::server::hll {
namespace {

constexpr uint64_t kSeed = 0xadc83b19ULL;
constexpr int kIndexBits = 14;
constexpr int kQ = 64 - kIndexBits;  // bits left for the run of zeros: values 1..kQ+1
constexpr uint8_t kDense = 0, kSparse = 1;
constexpr size_t kEncodingAt = 4, kCardAt = 8;
constexpr int kSparseValMax = 32, kSparseValRunMax = 4, kSparseZeroRunMax = 64;

// ---- dense registers: 6 bits each, least significant bits first ----

int DenseGet(const uint8_t* regs, int i) {
  const size_t bit = static_cast<size_t>(i) * 6;
  const size_t b = bit / 8;
  const unsigned shift = bit % 8;
  unsigned v = regs[b] >> shift;
  if (shift > 2) v |= static_cast<unsigned>(regs[b + 1]) << (8 - shift);  // spills over
  return static_cast<int>(v & 63);
}

void DenseSetRaw(uint8_t* regs, int i, int value) {
  const size_t bit = static_cast<size_t>(i) * 6;
  const size_t b = bit / 8;
  const unsigned shift = bit % 8;
  regs[b] = static_cast<uint8_t>((regs[b] & ~(63u << shift)) | (value << shift));
  if (shift > 2) {
    const unsigned rest = 8 - shift;
    regs[b + 1] = static_cast<uint8_t>((regs[b + 1] & ~(63u >> rest)) | (value >> rest));
  }
}

// Sets register i if `value` is higher; true if it was.
bool DenseSet(uint8_t* regs, int i, int value) {
  if (value <= DenseGet(regs, i)) return false;
  DenseSetRaw(regs, i, value);
  return true;
}

uint8_t* DenseRegs(std::string* s) { return reinterpret_cast<uint8_t*>(s->data()) + kHeaderBytes; }
const uint8_t* DenseRegs(std::string_view s) {
  return reinterpret_cast<const uint8_t*>(s.data()) + kHeaderBytes;
}

// ---- sparse opcodes ----

bool IsZero(uint8_t b) { return (b & 0xc0) == 0; }
bool IsXZero(uint8_t b) { return (b & 0xc0) == 0x40; }
int ValValue(uint8_t b) { return ((b >> 2) & 0x1f) + 1; }
int ValLen(uint8_t b) { return (b & 3) + 1; }
uint8_t ValOp(int value, int len) { return static_cast<uint8_t>(0x80 | (value - 1) << 2 | (len - 1)); }

// Byte i of the value, or 0 past its end: Redis reads its string's NUL terminator there.
uint8_t ByteAt(std::string_view s, size_t i) {
  return i < s.size() ? static_cast<uint8_t>(s[i]) : 0;
}

// The opcode at p: its run length, its value (0 for zeros) and its size in bytes.
struct Op {
  int64_t len;
  int value;
  size_t bytes;
};
Op ReadOp(std::string_view s, size_t p) {
  const uint8_t b = ByteAt(s, p);
  if (IsZero(b)) return {(b & 0x3f) + 1, 0, 1};
  if (IsXZero(b)) return {(static_cast<int64_t>(b & 0x3f) << 8 | ByteAt(s, p + 1)) + 1, 0, 2};
  return {ValLen(b), ValValue(b), 1};
}

// Appends a run of `len` zeros (ZERO or XZERO) to `out`.
void PutZeros(int64_t len, std::string* out) {
  if (len > kSparseZeroRunMax) {
    out->push_back(static_cast<char>(0x40 | (len - 1) >> 8));
    out->push_back(static_cast<char>((len - 1) & 0xff));
  } else {
    out->push_back(static_cast<char>(len - 1));
  }
}

// Walks sparse runs: `fn(first, len, value)` for each VAL run, none of which may pass the last
// register. Returns the registers covered, or -1 when a VAL run passes the last one: the data
// is sound if that is kRegisters.
template <typename Fn>
int64_t WalkSparse(std::string_view s, Fn fn) {
  int64_t idx = 0;
  for (size_t p = kHeaderBytes; p < s.size();) {
    const Op op = ReadOp(s, p);
    if (op.value != 0) {
      if (idx + op.len > kRegisters) return -1;
      fn(idx, op.len, op.value);
    }
    idx += op.len;
    p += op.bytes;
  }
  return idx;
}

// Makes a sparse value dense (the header, unused bytes and cache included, is kept); false,
// leaving it unchanged, if its data is corrupt.
bool ToDense(std::string* s) {
  if (static_cast<uint8_t>((*s)[kEncodingAt]) == kDense) return true;
  std::string dense(kDenseBytes, '\0');
  std::memcpy(dense.data(), s->data(), kHeaderBytes);
  dense[kEncodingAt] = static_cast<char>(kDense);
  uint8_t* regs = DenseRegs(&dense);
  const int64_t covered = WalkSparse(*s, [regs](int64_t first, int64_t len, int value) {
    for (int64_t i = first; i < first + len; ++i) DenseSetRaw(regs, static_cast<int>(i), value);
  });
  if (covered != kRegisters) return false;
  *s = std::move(dense);
  return true;
}

// Sets a register of a sparse value to `count` if higher: 1 if it did, 0 if not, -1 if the
// data is corrupt. Becomes dense when `count` is beyond what VAL holds or the value would grow
// past kSparseMaxBytes. Splitting a run, then merging equal VAL runs next to it, gives the
// same bytes as Redis.
int SparseSet(std::string* s, int index, int count) {
  auto promote = [&]() {
    if (!ToDense(s)) return -1;
    return DenseSet(DenseRegs(s), index, count) ? 1 : 0;
  };
  if (count > kSparseValMax) return promote();

  // The run that holds `index`, and the opcode before it.
  size_t p = kHeaderBytes, prev = 0;
  int64_t first = 0;
  Op op{};
  const size_t end = s->size();
  for (; p < end; p += op.bytes) {
    op = ReadOp(*s, p);
    if (index <= first + op.len - 1) break;
    prev = p;
    first += op.len;
  }
  if (p >= end) return -1;

  const uint8_t b = static_cast<uint8_t>((*s)[p]);
  bool done = false;
  if (op.value != 0) {
    if (op.value >= count) return 0;
    done = op.len == 1;
  } else {
    done = !IsXZero(b) && op.len == 1;
  }
  if (done) {
    (*s)[p] = static_cast<char>(ValOp(count, 1));
  } else {
    // Split the run in up to three: before, the register, after.
    const int64_t last = first + op.len - 1;
    std::string seq;
    if (index != first) {
      if (op.value == 0) PutZeros(index - first, &seq);
      else seq.push_back(static_cast<char>(ValOp(op.value, static_cast<int>(index - first))));
    }
    seq.push_back(static_cast<char>(ValOp(count, 1)));
    if (index != last) {
      if (op.value == 0) PutZeros(last - index, &seq);
      else seq.push_back(static_cast<char>(ValOp(op.value, static_cast<int>(last - index))));
    }
    const int64_t delta = static_cast<int64_t>(seq.size()) - static_cast<int64_t>(op.bytes);
    if (delta > 0 && end + delta > kSparseMaxBytes) return promote();
    // (An XZERO cut at the last byte ends past `end`: the length then drops what Redis wrote
    // over its NUL terminator.)
    std::string rebuilt = s->substr(0, p);
    rebuilt += seq;
    rebuilt.append(*s, std::min(p + op.bytes, end));
    rebuilt.resize(static_cast<size_t>(static_cast<int64_t>(end) + delta));
    *s = std::move(rebuilt);
  }

  // Merge equal VAL runs next to each other, looking at up to 5 opcodes from `prev`.
  size_t q = prev != 0 ? prev : kHeaderBytes;
  for (int scan = 5; q < s->size() && scan > 0; --scan) {
    const uint8_t c = static_cast<uint8_t>((*s)[q]);
    if (IsXZero(c)) {
      q += 2;
      continue;
    }
    if (IsZero(c)) {
      ++q;
      continue;
    }
    if (q + 1 < s->size()) {
      const uint8_t n = static_cast<uint8_t>((*s)[q + 1]);
      if (!IsZero(n) && !IsXZero(n) && ValValue(c) == ValValue(n) &&
          ValLen(c) + ValLen(n) <= kSparseValRunMax) {
        (*s)[q + 1] = static_cast<char>(ValOp(ValValue(c), ValLen(c) + ValLen(n)));
        s->erase(q, 1);
        continue;  // the merged run may merge with the next one
      }
    }
    ++q;
  }
  return 1;
}

// ---- the estimator ----

double Sigma(double x) {
  if (x == 1.0) return INFINITY;
  double y = 1.0, z = x, previous;
  do {
    x *= x;
    previous = z;
    z += x * y;
    y += y;
  } while (previous != z);
  return z;
}

double Tau(double x) {
  if (x == 0.0 || x == 1.0) return 0.0;
  double y = 1.0, z = 1 - x, previous;
  do {
    x = std::sqrt(x);
    previous = z;
    y *= 0.5;
    z -= (1 - x) * (1 - x) * y;
  } while (previous != z);
  return z / 3;
}

using Histogram = std::array<int64_t, 64>;  // registers by value

uint64_t Estimate(const Histogram& h) {
  constexpr double kAlphaInf = 0.721347520444481703680;  // 1 / (2 ln 2)
  const double m = kRegisters;
  double z = m * Tau((m - static_cast<double>(h[kQ + 1])) / m);
  for (int j = kQ; j >= 1; --j) {
    z += static_cast<double>(h[j]);
    z *= 0.5;
  }
  z += m * Sigma(static_cast<double>(h[0]) / m);
  return static_cast<uint64_t>(static_cast<double>(std::llroundl(kAlphaInf * m * m / z)));
}

}  // namespace

uint64_t MurmurHash64A(std::string_view data, uint64_t seed) {
  constexpr uint64_t m = 0xc6a4a7935bd1e995ULL;
  constexpr int r = 47;
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  const size_t len = data.size();
  uint64_t h = seed ^ (len * m);
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t k = 0;
    for (int j = 7; j >= 0; --j) k = k << 8 | p[i + j];  // little endian on any host
    k *= m;
    k ^= k >> r;
    k *= m;
    h ^= k;
    h *= m;
  }
  if (const size_t tail = len & 7; tail != 0) {
    for (size_t j = tail; j-- > 0;) h ^= static_cast<uint64_t>(p[i + j]) << (8 * j);
    h *= m;
  }
  h ^= h >> r;
  h *= m;
  h ^= h >> r;
  return h;
}

bool IsHll(std::string_view v) {
  if (v.size() < kHeaderBytes || v.substr(0, 4) != "HYLL") return false;
  const auto enc = static_cast<uint8_t>(v[kEncodingAt]);
  if (enc > kSparse) return false;
  return enc != kDense || v.size() == kDenseBytes;
}

std::string NewSparse() {
  std::string s(kHeaderBytes, '\0');
  std::memcpy(s.data(), "HYLL", 4);
  s[kEncodingAt] = static_cast<char>(kSparse);
  PutZeros(kRegisters, &s);
  return s;
}

AddResult Add(std::string* hll, std::string_view element) {
  uint64_t h = MurmurHash64A(element, kSeed);
  const int index = static_cast<int>(h & (kRegisters - 1));
  h >>= kIndexBits;
  h |= uint64_t{1} << kQ;  // bounds the run: at most kQ + 1
  const int count = std::countr_zero(h) + 1;
  int changed;
  if (static_cast<uint8_t>((*hll)[kEncodingAt]) == kDense) {
    changed = DenseSet(DenseRegs(hll), index, count) ? 1 : 0;
  } else {
    changed = SparseSet(hll, index, count);
  }
  if (changed < 0) return AddResult::kCorrupt;
  if (changed == 0) return AddResult::kUnchanged;
  InvalidateCache(hll);
  return AddResult::kChanged;
}

bool CachedCardinality(std::string_view hll, uint64_t* card) {
  if (static_cast<uint8_t>(hll[kCardAt + 7]) & 0x80) return false;
  uint64_t c = 0;
  for (int j = 7; j >= 0; --j) c = c << 8 | static_cast<uint8_t>(hll[kCardAt + j]);
  *card = c;
  return true;
}

void SetCachedCardinality(std::string* hll, uint64_t card) {
  for (int j = 0; j < 8; ++j) (*hll)[kCardAt + j] = static_cast<char>(card >> (8 * j));
}

void InvalidateCache(std::string* hll) {
  (*hll)[kCardAt + 7] = static_cast<char>(static_cast<uint8_t>((*hll)[kCardAt + 7]) | 0x80);
}

bool Count(std::string_view hll, uint64_t* card) {
  Histogram h{};
  if (static_cast<uint8_t>(hll[kEncodingAt]) == kDense) {
    const uint8_t* regs = DenseRegs(hll);
    for (int i = 0; i < kRegisters; ++i) ++h[DenseGet(regs, i)];
  } else {
    int64_t nonzero = 0;
    const int64_t covered =
        WalkSparse(hll, [&h](int64_t, int64_t len, int value) { h[value] += len; });
    if (covered != kRegisters) return false;
    for (int v = 1; v < 64; ++v) nonzero += h[v];
    h[0] = kRegisters - nonzero;
  }
  *card = Estimate(h);
  return true;
}

uint64_t Count(const Registers& max) {
  Histogram h{};
  for (uint8_t v : max) ++h[v & 63];
  return Estimate(h);
}

bool MergeInto(std::string_view hll, Registers* max) {
  if (static_cast<uint8_t>(hll[kEncodingAt]) == kDense) {
    const uint8_t* regs = DenseRegs(hll);
    for (int i = 0; i < kRegisters; ++i) {
      (*max)[i] = std::max<uint8_t>((*max)[i], static_cast<uint8_t>(DenseGet(regs, i)));
    }
    return true;
  }
  const int64_t covered = WalkSparse(hll, [max](int64_t first, int64_t len, int value) {
    for (int64_t i = first; i < first + len; ++i) {
      (*max)[i] = std::max<uint8_t>((*max)[i], static_cast<uint8_t>(value));
    }
  });
  return covered == kRegisters;
}

bool StoreMax(std::string* dest, const Registers& max, bool to_dense) {
  if (to_dense && !ToDense(dest)) return false;
  for (int i = 0; i < kRegisters; ++i) {
    if (max[i] == 0) continue;
    // A sparse value may become dense along the way; Redis ignores a corrupt one here.
    if (static_cast<uint8_t>((*dest)[kEncodingAt]) == kDense) {
      DenseSet(DenseRegs(dest), i, max[i]);
    } else {
      SparseSet(dest, i, max[i]);
    }
  }
  InvalidateCache(dest);
  return true;
}

}  // namespace flin::server::hll

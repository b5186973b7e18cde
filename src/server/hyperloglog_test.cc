#include "server/hyperloglog.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>

namespace flin::server::hll {
namespace {

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : s) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::string Filled(const std::string& prefix, int n) {
  std::string v = NewSparse();
  for (int i = 0; i < n; ++i) Add(&v, prefix + std::to_string(i));
  return v;
}

uint64_t Card(std::string_view v) {
  uint64_t c = 0;
  EXPECT_TRUE(Count(v, &c));
  return c;
}

// From redis-server 7.0.15: PFADD h e0 .. e{n-1}, then GET (cache invalid), PFCOUNT, GET.
struct Known {
  int n;
  uint64_t card;
  size_t bytes;
  uint64_t fnv_before, fnv_after;
};
constexpr Known kKnown[] = {
    {1, 1, 21, 0xfffb6faeff77f7cdULL, 0x546d16fdfd2c805aULL},
    {10, 10, 48, 0x4afcb65d27f7d346ULL, 0xd06c25fbeaa23420ULL},
    {100, 100, 285, 0xb8de76dab4a4065eULL, 0x40dec5e3b1513cfaULL},
    {1000, 1008, 1906, 0x5935de0232806824ULL, 0x4ded8ea0046b668dULL},
    {2000, 2000, 12304, 0x1b5576fa1f6b8092ULL, 0xdd4d26f186b57d33ULL},
    {5000, 4968, 12304, 0x805246753a1cdadaULL, 0x9219c5a2921db657ULL},
    {20000, 19901, 12304, 0x75d26396862b2bfULL, 0x5b776629ffcdd575ULL},
    {100000, 100853, 12304, 0xafbf1713dc5ba3c8ULL, 0xfd1fc23694773e63ULL},
};

TEST(HyperLogLog, EmptyIsRedisBytes) {
  const std::string v = NewSparse();
  EXPECT_EQ(v, std::string("HYLL\x01\0\0\0\0\0\0\0\0\0\0\0\x7f\xff", 18));
  EXPECT_TRUE(IsHll(v));
  EXPECT_EQ(Card(v), 0u);
  uint64_t cached = 99;
  EXPECT_TRUE(CachedCardinality(v, &cached));
  EXPECT_EQ(cached, 0u);
}

TEST(HyperLogLog, SameBytesAndCountsAsRedis) {
  for (const Known& k : kKnown) {
    SCOPED_TRACE(k.n);
    std::string v = Filled("e", k.n);
    EXPECT_EQ(v.size(), k.bytes);
    EXPECT_EQ(Fnv1a(v), k.fnv_before);
    uint64_t cached;
    EXPECT_FALSE(CachedCardinality(v, &cached));
    EXPECT_EQ(Card(v), k.card);
    SetCachedCardinality(&v, k.card);
    EXPECT_EQ(Fnv1a(v), k.fnv_after);
  }
}

TEST(HyperLogLog, SmallSetBytes) {
  // PFADD x a b c in Redis 7.0, GET x.
  constexpr char kWant[] =
      "HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80\x60\xf3\x80\x50\xb1\x84\x4b\xfb\x80\x42\x5a";
  std::string v = NewSparse();
  EXPECT_EQ(Add(&v, "a"), AddResult::kChanged);
  EXPECT_EQ(Add(&v, "b"), AddResult::kChanged);
  EXPECT_EQ(Add(&v, "c"), AddResult::kChanged);
  EXPECT_EQ(Add(&v, "c"), AddResult::kUnchanged);
  EXPECT_EQ(v, std::string(kWant, sizeof(kWant) - 1));
  EXPECT_EQ(Card(v), 3u);
}

TEST(HyperLogLog, MergeAsRedis) {
  const std::string a = Filled("a", 300), b = Filled("b", 300), d = Filled("e", 5000);
  Registers max{};
  bool dense = false;
  std::string m = NewSparse();
  ASSERT_TRUE(MergeInto(a, &max));
  ASSERT_TRUE(MergeInto(b, &max));
  ASSERT_TRUE(StoreMax(&m, max, dense));
  EXPECT_EQ(m.size(), 1218u);
  EXPECT_EQ(Fnv1a(m), 0x4eb3d9419ba0c43fULL);
  EXPECT_EQ(Card(m), 603u);
  EXPECT_EQ(Count(max), 603u);

  max = {};
  ASSERT_TRUE(MergeInto(a, &max));
  ASSERT_TRUE(MergeInto(d, &max));
  dense = true;
  m = NewSparse();
  ASSERT_TRUE(StoreMax(&m, max, dense));
  EXPECT_EQ(m.size(), kDenseBytes);
  EXPECT_EQ(Fnv1a(m), 0xa2fac9be64cb544dULL);
  EXPECT_EQ(Card(m), 5270u);
}

TEST(HyperLogLog, UnionOfSeveral) {
  Registers max{};
  for (int n : {100, 1000, 20000}) ASSERT_TRUE(MergeInto(Filled("e", n), &max));
  EXPECT_EQ(Count(max), 19901u);  // Redis: PFCOUNT h100 h1000 h20000
}

TEST(HyperLogLog, IsHllChecks) {
  EXPECT_FALSE(IsHll(""));
  EXPECT_FALSE(IsHll("HYLL"));
  std::string v = NewSparse();
  v[0] = 'h';
  EXPECT_FALSE(IsHll(v));
  v = NewSparse();
  v[4] = 2;
  EXPECT_FALSE(IsHll(v));
  v[4] = 0;  // dense of the wrong length
  EXPECT_FALSE(IsHll(v));
  EXPECT_TRUE(IsHll(std::string("HYLL\x01", 5) + std::string(11, '\0')));  // sparse, no data
}

// Sparse data that does not cover 16384 registers is corrupt for every operation; none reads
// or writes out of bounds (run under ASan to check the latter).
TEST(HyperLogLog, CorruptSparse) {
  std::string v = std::string("HYLL\x01", 5) + std::string(11, '\0');
  uint64_t c;
  EXPECT_FALSE(Count(v, &c));
  EXPECT_EQ(Add(&v, "x"), AddResult::kCorrupt);
  Registers max{};
  EXPECT_FALSE(MergeInto(v, &max));
  v += '\x40';  // an XZERO cut short: read with a zero second byte, as Redis
  EXPECT_FALSE(Count(v, &c));
  std::string over = NewSparse() + '\x00';  // one register too many
  EXPECT_FALSE(Count(over, &c));
  EXPECT_FALSE(MergeInto(over, &max));
  std::string val_past_end = NewSparse() + '\x80';  // a VAL past the last register (Redis 7.0.15)
  EXPECT_FALSE(Count(val_past_end, &c));
  EXPECT_FALSE(MergeInto(val_past_end, &max));
  val_past_end.resize(kSparseMaxBytes - 1, '\x80');  // PFADD then needs it dense: corrupt
  std::string w = val_past_end;
  EXPECT_EQ(Add(&w, "zzz"), AddResult::kCorrupt);
  EXPECT_EQ(w, val_past_end);
}

TEST(HyperLogLog, RandomBytesNeverCrash) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 3000; ++round) {
    std::string v = std::string("HYLL\x01", 5) + std::string(11, '\0');
    const int len = static_cast<int>(rng() % 64);
    for (int i = 0; i < len; ++i) {
      // Mostly zero runs (so that some values cover 16384 registers), some VALs.
      const uint64_t r = rng();
      v += static_cast<char>(r % 3 == 0 ? 0x80 | (r >> 8) % 128 : 0x40 | (r >> 8) % 64);
      if (r % 5 == 0) v += static_cast<char>(r >> 16);
    }
    uint64_t c;
    const bool ok = Count(v, &c);
    Registers max{};
    const bool merged = MergeInto(v, &max);
    if (ok) {
      EXPECT_TRUE(merged);
    }
    std::string w = v;
    for (int i = 0; i < 20; ++i) {
      if (Add(&w, std::to_string(rng())) == AddResult::kCorrupt) break;
      ASSERT_TRUE(IsHll(w));
    }
    w = v;
    StoreMax(&w, max, rng() % 2 == 0);
    ASSERT_TRUE(IsHll(w));
  }
}

TEST(HyperLogLog, DenseKeepsHighRegisters) {
  // A dense value SET with every register 63: registers above 51 are left out of the estimate
  // as Redis leaves them, and merge as they are.
  std::string v(kDenseBytes, '\xff');
  std::memcpy(v.data(), "HYLL\0\0\0\0", 8);
  uint64_t c;
  ASSERT_TRUE(Count(v, &c));
  Registers max{};
  ASSERT_TRUE(MergeInto(v, &max));
  EXPECT_EQ(max[0], 63);
  EXPECT_EQ(max[kRegisters - 1], 63);
  EXPECT_EQ(Add(&v, "x"), AddResult::kUnchanged);
}

TEST(HyperLogLog, BecomesDensePastSparseMaxBytes) {
  std::string v = NewSparse();
  int n = 0;
  while (v.size() != kDenseBytes) {
    ASSERT_LE(v.size(), kSparseMaxBytes);
    Add(&v, "e" + std::to_string(n++));
  }
  EXPECT_GT(n, 1000);
  EXPECT_EQ(v[4], 0);
}

}  // namespace
}  // namespace flin::server::hll

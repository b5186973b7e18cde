#include "storage/row_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "storage/encoding.h"
#include "storage/store.h"
#include "storage/temp_store.h"
#include "storage/write_txn.h"

namespace flin::storage {
namespace {

using Hit = RowCache::Hit;

// A write putting "new" at each key.
RowCache::WriteSet Puts(std::initializer_list<std::string_view> keys) {
  RowCache::WriteSet w;
  for (auto k : keys) w.Put(k, "new");
  return w;
}

TEST(RowCacheTest, MissThenFillThenHitForValuesAndAbsence) {
  RowCache c(1 << 20);
  std::string raw;
  RowCache::Ticket t;
  ASSERT_EQ(c.Lookup("a", &raw, &t), Hit::kMiss);
  EXPECT_TRUE(t.may_fill);
  const std::string v = "value-a";
  c.Fill("a", &v, t);
  ASSERT_EQ(c.Lookup("a", &raw, &t), Hit::kValue);
  EXPECT_EQ(raw, "value-a");

  ASSERT_EQ(c.Lookup("b", &raw, &t), Hit::kMiss);
  c.Fill("b", nullptr, t);
  EXPECT_EQ(c.Lookup("b", &raw, &t), Hit::kAbsent);

  const RowCache::Stats st = c.GetStats();
  EXPECT_EQ(st.entries, 2u);
  EXPECT_EQ(st.hits, 2u);
  EXPECT_EQ(st.misses, 2u);
}

TEST(RowCacheTest, AWriteHidesItsKeysThenLeavesTheirNewValues) {
  RowCache c(1 << 20);
  std::string raw, v = "old";
  RowCache::Ticket t;
  for (const char* k : {"a", "b", "d"}) {
    c.Lookup(k, &raw, &t);
    c.Fill(k, &v, t);
  }
  RowCache::WriteSet w;
  w.Put("a", "first");
  w.Put("c", "c1");
  w.Put("c", "c2");  // not cached before: added (there is room), with its last value
  w.Delete("d");
  w.Put("a", "second");  // the batch's last write of a key is the one that stays
  c.BeginWrite(w);
  EXPECT_EQ(c.Lookup("a", &raw, &t), Hit::kMiss) << "hidden while the write is in flight";
  EXPECT_FALSE(t.may_fill) << "a stripe with a write in flight must not be filled";
  EXPECT_EQ(c.Lookup("b", &raw, &t), Hit::kValue);
  c.EndWrite(w, /*written=*/true);
  ASSERT_EQ(c.Lookup("a", &raw, &t), Hit::kValue);
  EXPECT_EQ(raw, "second");
  EXPECT_EQ(c.Lookup("d", &raw, &t), Hit::kAbsent);
  ASSERT_EQ(c.Lookup("c", &raw, &t), Hit::kValue);
  EXPECT_EQ(raw, "c2");
}

TEST(RowCacheTest, AWriteAddsKeysOnlyWhileThereIsRoom) {
  const size_t cap = RowCache::kStripes * 400;  // one ~270-byte entry per stripe
  RowCache c(cap);
  const std::string v(100, 'v');
  RowCache::WriteSet w;
  std::vector<std::string> keys;
  for (int i = 0; i < 2000; ++i) keys.push_back("k" + std::to_string(i));
  for (const auto& k : keys) w.Put(k, v);
  c.BeginWrite(w);
  std::string raw;
  RowCache::Ticket t;
  EXPECT_EQ(c.Lookup("k0", &raw, &t), Hit::kMiss) << "hidden until the write is done";
  c.EndWrite(w, true);
  const RowCache::Stats st = c.GetStats();
  EXPECT_LE(st.bytes, cap);
  EXPECT_GT(st.entries, 0u);
  EXPECT_LE(st.entries, static_cast<uint64_t>(RowCache::kStripes));
  // The first key of each stripe stayed; nothing was evicted for the later ones.
  EXPECT_EQ(c.Lookup("k0", &raw, &t), Hit::kValue);
}

TEST(RowCacheTest, APutNotAdmittedUpdatesItsEntryButAddsNone) {
  RowCache c(1 << 20);
  std::string raw, v = "old";
  RowCache::Ticket t;
  c.Lookup("cached", &raw, &t);
  c.Fill("cached", &v, t);
  RowCache::WriteSet w;
  w.Put("cached", "new", /*admit=*/false);
  w.Put("other", "new", /*admit=*/false);
  c.BeginWrite(w);
  EXPECT_EQ(c.Lookup("cached", &raw, &t), Hit::kMiss) << "hidden while the write is in flight";
  c.EndWrite(w, true);
  ASSERT_EQ(c.Lookup("cached", &raw, &t), Hit::kValue);
  EXPECT_EQ(raw, "new");
  EXPECT_EQ(c.Lookup("other", &raw, &t), Hit::kMiss);
  EXPECT_EQ(c.GetStats().entries, 1u);
}

TEST(RowCacheTest, AFailedWriteDropsItsKeys) {
  RowCache c(1 << 20);
  std::string raw, v = "old";
  RowCache::Ticket t;
  c.Lookup("a", &raw, &t);
  c.Fill("a", &v, t);
  auto w = Puts({"a"});
  c.BeginWrite(w);
  c.EndWrite(w, /*written=*/false);
  EXPECT_EQ(c.Lookup("a", &raw, &t), Hit::kMiss);
}

// The race the versions exist for: a reader misses, reads the old value from RocksDB, and only
// then offers it — after a write began (or began and ended). Its fill must be dropped.
TEST(RowCacheTest, AFillFromBeforeAWriteIsDropped) {
  RowCache c(1 << 20);
  std::string raw, old_value = "old";
  RowCache::Ticket t;
  // Deletions: a write that leaves no entry of its own behind.
  RowCache::WriteSet w;
  w.Delete("k");

  ASSERT_EQ(c.Lookup("k", &raw, &t), Hit::kMiss);
  c.BeginWrite(w);
  c.Fill("k", &old_value, t);  // the write is in flight
  c.EndWrite(w, true);
  EXPECT_EQ(c.Lookup("k", &raw, &t), Hit::kMiss);

  ASSERT_EQ(c.Lookup("k", &raw, &t), Hit::kMiss);
  c.BeginWrite(w);
  c.EndWrite(w, true);
  c.Fill("k", &old_value, t);  // the write is done: RocksDB now holds the new value
  EXPECT_EQ(c.Lookup("k", &raw, &t), Hit::kMiss);

  // A put that leaves its own value: the stale fill does not replace it.
  auto put = Puts({"p"});
  ASSERT_EQ(c.Lookup("p", &raw, &t), Hit::kMiss);
  c.BeginWrite(put);
  c.EndWrite(put, true);
  c.Fill("p", &old_value, t);
  ASSERT_EQ(c.Lookup("p", &raw, &t), Hit::kValue);
  EXPECT_EQ(raw, "new");
}

TEST(RowCacheTest, ARangeWriteClearsEverythingAndBlocksEveryFill) {
  RowCache c(1 << 20);
  std::string raw, v = "x";
  RowCache::Ticket t;
  for (int i = 0; i < 100; ++i) {
    const std::string k = "k" + std::to_string(i);
    c.Lookup(k, &raw, &t);
    c.Fill(k, &v, t);
  }
  EXPECT_EQ(c.GetStats().entries, 100u);
  RowCache::WriteSet all;
  all.AddAll();
  ASSERT_EQ(c.Lookup("other", &raw, &t), Hit::kMiss);
  c.BeginWrite(all);
  EXPECT_EQ(c.GetStats().entries, 0u);
  c.Fill("other", &v, t);
  RowCache::Ticket during;
  EXPECT_EQ(c.Lookup("k1", &raw, &during), Hit::kMiss);
  EXPECT_FALSE(during.may_fill);
  c.EndWrite(all, true);
  EXPECT_EQ(c.GetStats().entries, 0u);
}

TEST(RowCacheTest, StaysWithinItsCapacity) {
  const size_t cap = 1 << 20;  // 4 KiB per stripe: ~15 of these entries
  RowCache c(cap);
  std::string raw, v(100, 'v');
  RowCache::Ticket t;
  for (int i = 0; i < 10000; ++i) {
    const std::string k = "key:" + std::to_string(i);
    c.Lookup(k, &raw, &t);
    c.Fill(k, &v, t);
  }
  const RowCache::Stats st = c.GetStats();
  EXPECT_LE(st.bytes, cap);
  EXPECT_GT(st.entries, 0u);
  // The most recently filled key is still there; an early one was evicted.
  EXPECT_EQ(c.Lookup("key:9999", &raw, &t), Hit::kValue);
  EXPECT_EQ(c.Lookup("key:0", &raw, &t), Hit::kMiss);
  // A value larger than a stripe's share is never cached.
  std::string huge(cap, 'h');
  c.Lookup("huge", &raw, &t);
  c.Fill("huge", &huge, t);
  EXPECT_EQ(c.Lookup("huge", &raw, &t), Hit::kMiss);
}

// Eviction gives a key read since it was cached a second chance: a hot key survives a stream
// of keys read once (it would be evicted in fill order otherwise).
TEST(RowCacheTest, AKeyReadAgainOutlivesKeysReadOnce) {
  RowCache c(1 << 20);  // 4 KiB per stripe: ~15 of these entries
  std::string raw, v(100, 'v');
  RowCache::Ticket t;
  ASSERT_EQ(c.Lookup("hot", &raw, &t), Hit::kMiss);
  c.Fill("hot", &v, t);
  int evicted = 0;
  for (int i = 0; i < 20000; ++i) {
    ASSERT_EQ(c.Lookup("hot", &raw, &t), Hit::kValue) << "after " << i << " other keys";
    const std::string k = "cold:" + std::to_string(i);
    c.Lookup(k, &raw, &t);
    c.Fill(k, &v, t);
    if (i >= 100 && c.Lookup("cold:" + std::to_string(i - 100), &raw, &t) == Hit::kMiss) {
      ++evicted;
    }
  }
  EXPECT_GT(evicted, 0);  // the stripe of "hot" did fill up and evict
}

TEST(RowCacheTest, ZeroCapacityCachesNothing) {
  RowCache c(0);
  std::string raw, v = "v";
  RowCache::Ticket t;
  ASSERT_EQ(c.Lookup("a", &raw, &t), Hit::kMiss);
  c.Fill("a", &v, t);
  EXPECT_EQ(c.Lookup("a", &raw, &t), Hit::kMiss);
  EXPECT_EQ(c.GetStats().entries, 0u);
}

// Through the Store: readers racing the apply path never see a value older than one already
// acknowledged, nor older than one they saw before (the cache must not go back in time). The
// keys start absent, so cached absences must give way to writes too.
class RowCacheStoreTest : public TempStoreTest {};

TEST_F(RowCacheStoreTest, RangeDeletionsOfDataEmptyItButOthersDoNot) {
  std::string raw;
  auto put = [&](int partition, const std::string& k) {
    WriteTxn txn(store_.get());
    EncodeValue(ValueType::kString, 0, "v", &raw);
    txn.Put(partition, k, raw);
    ASSERT_TRUE(txn.Commit(false).ok());
    ASSERT_TRUE(store_->Get(partition, k, 0, &raw).ok());  // now cached
  };
  put(1, "a");
  put(2, "b");
  const uint64_t cached = store_->RowCacheStats().entries;
  ASSERT_GE(cached, 2u);
  // A Raft log truncation ('l' keys) is not a data range: the cache stays.
  ASSERT_TRUE(store_->DeleteRange("l", "m").ok());
  EXPECT_EQ(store_->RowCacheStats().entries, cached);
  // One partition's range: its keys are gone through the cache too.
  ASSERT_TRUE(WriteTxn(store_.get()).DeletePartition(1).ok());
  EXPECT_TRUE(store_->Get(1, "a", 0, &raw).IsNotFound());
  EXPECT_TRUE(store_->Get(2, "b", 0, &raw).ok());
  // FLUSHALL.
  ASSERT_TRUE(store_->DeleteAllData().ok());
  EXPECT_TRUE(store_->Get(2, "b", 0, &raw).IsNotFound());
}

// A cluster node's followed partitions: their writes keep cached keys current but add none.
TEST_F(RowCacheStoreTest, APartitionNotAdmittingWritesIsCachedOnlyByReads) {
  std::string raw;
  auto put = [&](int partition, const std::string& k, const std::string& v) {
    WriteTxn txn(store_.get());
    EncodeValue(ValueType::kString, 0, v, &raw);
    txn.Put(partition, k, raw);
    ASSERT_TRUE(txn.Commit(false).ok());
  };
  auto get = [&](int partition, const std::string& k) {
    EXPECT_TRUE(store_->Get(partition, k, 0, &raw).ok());
    return std::string(DecodeValue(raw)->payload);
  };
  store_->SetRowCacheAdmitsWrites(1, false);
  put(1, "followed", "v1");
  put(2, "led", "v1");
  EXPECT_EQ(store_->RowCacheStats().entries, 1u) << "only the admitted partition's write";
  EXPECT_EQ(get(1, "followed"), "v1");  // a miss, which fills
  EXPECT_EQ(store_->RowCacheStats().entries, 2u);
  const uint64_t hits = store_->RowCacheStats().hits;
  put(1, "followed", "v2");  // updates the entry the read made
  EXPECT_EQ(get(1, "followed"), "v2");
  EXPECT_EQ(store_->RowCacheStats().hits, hits + 1);
  store_->SetRowCacheAdmitsWrites(1, true);
  put(1, "new", "v1");
  EXPECT_EQ(store_->RowCacheStats().entries, 3u);
}

TEST_F(RowCacheStoreTest, ConcurrentReadersNeverSeeAnOlderValue) {
  constexpr int kKeys = 4;
  constexpr int64_t kWrites = 20000;
  std::atomic<int64_t> acked[kKeys];
  for (auto& a : acked) a.store(0);
  std::atomic<bool> done{false};
  std::atomic<int64_t> violations{0}, reads{0};
  auto key = [](int i) { return "k" + std::to_string(i); };

  auto reader = [&] {
    int64_t seen[kKeys] = {};
    std::string raw;
    while (!done.load(std::memory_order_acquire)) {
      for (int i = 0; i < kKeys; ++i) {
        const int64_t floor = acked[i].load(std::memory_order_acquire);
        int64_t v = 0;
        if (store_->Get(0, key(i), 0, &raw).ok()) v = std::stoll(std::string(DecodeValue(raw)->payload));
        if (v < floor || v < seen[i]) violations.fetch_add(1);
        seen[i] = std::max(seen[i], v);
        reads.fetch_add(1, std::memory_order_relaxed);
      }
    }
  };
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) readers.emplace_back(reader);

  // The writer is an INCR: it reads each key through the transaction (so through the cache),
  // and must always find exactly what it wrote last.
  std::string raw;
  int64_t last[kKeys] = {};
  for (int64_t n = 1; n <= kWrites; ++n) {
    WriteTxn txn(store_.get());
    const int i = static_cast<int>(n % kKeys);
    int64_t current = 0;
    if (txn.Get(0, key(i), 0, &raw).ok()) current = std::stoll(std::string(DecodeValue(raw)->payload));
    ASSERT_EQ(current, last[i]) << "the apply side read a stale value";
    last[i] = current + 1;
    EncodeValue(ValueType::kString, 0, std::to_string(last[i]), &raw);
    txn.Put(0, key(i), raw);
    ASSERT_TRUE(txn.Commit(false).ok());
    acked[i].store(last[i], std::memory_order_release);
  }
  done.store(true, std::memory_order_release);
  for (auto& t : readers) t.join();
  EXPECT_EQ(violations.load(), 0) << "of " << reads.load() << " reads";
  EXPECT_GT(store_->RowCacheStats().hits, 0u);
}

}  // namespace
}  // namespace flin::storage

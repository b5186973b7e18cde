#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <map>
#include <thread>

#include "storage/encoding.h"
#include "storage/store.h"
#include "storage/temp_store.h"
#include "storage/write_txn.h"

namespace flin::storage {
namespace {

class StoreTest : public TempStoreTest {
 protected:
  std::string Value(std::string_view payload, int64_t expire = 0) {
    std::string raw;
    EncodeValue(ValueType::kString, expire, payload, &raw);
    return raw;
  }
};

TEST(EncodingTest, KeysSortByPartitionThenKey) {
  std::string a, b, c;
  EncodeDataKey(1, "zzz", &a);
  EncodeDataKey(2, "aaa", &b);
  EncodeDataKey(256, "", &c);
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  int p;
  std::string_view k;
  ASSERT_TRUE(DecodeDataKey(c, &p, &k));
  EXPECT_EQ(p, 256);
  EXPECT_EQ(k, "");
  EXPECT_FALSE(DecodeDataKey("m", &p, &k));
}

TEST(EncodingTest, ValueRoundTripAndCorruption) {
  std::string raw;
  EncodeValue(ValueType::kString, 1234567890123, std::string("x\0y", 3), &raw);
  auto v = DecodeValue(raw);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->expire_at_ms, 1234567890123);
  EXPECT_EQ(v->payload, std::string("x\0y", 3));
  EXPECT_FALSE(v->Expired(1234567890122));
  EXPECT_TRUE(v->Expired(1234567890123));
  EXPECT_FALSE(DecodeValue(""));
  EXPECT_FALSE(DecodeValue(std::string("\x00\x01\x05", 3)));  // truncated expiry
  EXPECT_FALSE(DecodeValue(std::string("\x07\x00", 2)));      // unknown type
}

// A count taken while applying a batch (INFO's expired_keys) must not count a batch that was
// not stored: under --fsync everysec a batch RocksDB would stall is refused and applied again.
TEST_F(StoreTest, TxnCountsOnlyWhatItStores) {
  std::atomic<uint64_t> counter{0};
  WriteTxn txn(store_.get());
  txn.Put(1, "k", Value("v"));
  txn.CountOnCommit(&counter, 2);
  EXPECT_EQ(counter.load(), 0u);
  ASSERT_TRUE(txn.Commit(false).ok());
  EXPECT_EQ(counter.load(), 2u);
  ASSERT_TRUE(txn.Commit(false).ok());  // a count goes with one commit only
  EXPECT_EQ(counter.load(), 2u);

  ASSERT_TRUE(store_->db()->PauseBackgroundWork().ok());  // no flush: memtables fill, then stop
  const std::string big = Value(std::string(1 << 20, 'x'));
  Status s = Status::Ok();
  for (int i = 0; i < 256 && s.ok(); ++i) {  // beyond two full memtables
    txn.Put(1, "big" + std::to_string(i), big);
    txn.CountOnCommit(&counter, 1);
    s = txn.Commit(false, /*no_stall=*/true);
    if (s.ok()) counter.fetch_sub(1);  // keep the count at 2 while commits are stored
  }
  ASSERT_TRUE(store_->db()->ContinueBackgroundWork().ok());
  ASSERT_EQ(s.code(), Status::Code::kBusy) << s.ToString();  // the store stopped taking writes
  EXPECT_EQ(counter.load(), 2u);  // the refused commit counted nothing
  txn.CountOnCommit(&counter, 1);  // a refused commit's counts are dropped with it
  ASSERT_TRUE(txn.Commit(false).ok());
  EXPECT_EQ(counter.load(), 3u);
}

// A memtable is switched at write_buffer_entries as well as at its bytes' bound, so that
// small values keep the skiplist shallow and large ones make few, large L0 files; but not
// while a flush is pending (switching then would pile memtables up without bound).
TEST_F(StoreTest, AMemtableIsSwitchedAtItsEntriesBoundUnlessAFlushIsPending) {
  write_buffer_entries_ = 800;
  Reopen();
  uint64_t active = 0, immutable = 0;
  auto look = [&] {
    ASSERT_TRUE(store_->db()->GetIntProperty("rocksdb.num-entries-active-mem-table", &active));
    ASSERT_TRUE(store_->db()->GetIntProperty("rocksdb.num-immutable-mem-table", &immutable));
  };
  auto write = [&](int from, int n) {
    for (int i = from; i < from + n; i += 10) {
      rocksdb::WriteBatch wb;
      for (int j = i; j < i + 10; ++j) wb.Put("k" + std::to_string(j), "v");
      ASSERT_TRUE(store_->Write(&wb, false).ok());
    }
  };
  write(0, 1000);  // looked at every 100 entries: switched at 800
  look();
  EXPECT_EQ(active, 200u);
  // Its flush done (waited for, at most 30 s), the next switch comes at 800 again.
  for (int i = 0; i < 3000 && immutable > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    look();
  }
  ASSERT_EQ(immutable, 0u);
  write(1000, 700);
  look();
  EXPECT_EQ(active, 100u);

  ASSERT_TRUE(store_->db()->PauseBackgroundWork().ok());  // the next switch's flush waits
  write(1700, 1000);  // one switch (none was pending), whose flush cannot run
  write(2700, 3000);  // none now: that flush is pending
  look();
  EXPECT_EQ(immutable, 1u);
  EXPECT_GE(active, 3000u);
  ASSERT_TRUE(store_->db()->ContinueBackgroundWork().ok());
  std::string raw;
  EXPECT_TRUE(store_->db()->Get(rocksdb::ReadOptions(), "k5699", &raw).ok());
}

// The apply loops keep one transaction for every batch. A FLUSHALL makes its own batch's
// commit wait out a stall (part of it is written already), but not every later batch's.
TEST_F(StoreTest, AReusedTxnForgetsThatAnEarlierBatchWrotePartOfItself) {
  WriteTxn txn(store_.get());
  txn.Put(1, "a", Value("v"));
  ASSERT_TRUE(txn.DeletePartition(1).ok());
  txn.Put(1, "b", Value("v"));
  ASSERT_TRUE(txn.Commit(false, /*no_stall=*/true).ok());
  std::string raw;
  EXPECT_TRUE(store_->Get(1, "a", 0, &raw).IsNotFound());
  EXPECT_TRUE(store_->Get(1, "b", 0, &raw).ok());

  ASSERT_TRUE(store_->db()->PauseBackgroundWork().ok());  // no flush: memtables fill, then stop
  const std::string big = Value(std::string(1 << 20, 'x'));
  Status s = Status::Ok();
  for (int i = 0; i < 256 && s.ok(); ++i) {  // beyond two full memtables
    rocksdb::WriteBatch wb;
    wb.Put("fill" + std::to_string(i), big);
    s = store_->Write(&wb, false, /*no_stall=*/true);
  }
  ASSERT_EQ(s.code(), Status::Code::kBusy) << s.ToString();
  // Bounded: a commit that waits out the stall fails the test instead of hanging it.
  txn.Put(2, "c", Value("v"));
  auto commit = std::async(std::launch::async, [&] { return txn.Commit(false, true); });
  const bool returned = commit.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
  ASSERT_TRUE(store_->db()->ContinueBackgroundWork().ok());
  ASSERT_TRUE(returned) << "the commit waited out the stall";
  EXPECT_EQ(commit.get().code(), Status::Code::kBusy);
}

TEST_F(StoreTest, TxnReadsItsOwnWritesAndCommitPersists) {
  WriteTxn txn(store_.get());
  std::string raw;
  txn.Put(3, "k", Value("v1"));
  ASSERT_TRUE(txn.Get(3, "k", 0, &raw).ok());
  EXPECT_EQ(DecodeValue(raw)->payload, "v1");
  EXPECT_TRUE(store_->Get(3, "k", 0, &raw).IsNotFound());  // not yet committed
  ASSERT_TRUE(txn.Commit(true).ok());
  txn.Delete(3, "k");
  EXPECT_TRUE(txn.Get(3, "k", 0, &raw).IsNotFound());
  ASSERT_TRUE(store_->Get(3, "k", 0, &raw).ok());
  Reopen();
  ASSERT_TRUE(store_->Get(3, "k", 0, &raw).ok());
  EXPECT_TRUE(store_->Get(4, "k", 0, &raw).IsNotFound());  // other partition
}

// The transaction finds its own latest write of each key inside its batch, across overwrites of
// other sizes, deletions and the batch's buffer growing; keys it has not written come from the
// store.
TEST_F(StoreTest, TxnSeesItsLatestWriteOfEachKey) {
  {
    WriteTxn base(store_.get());
    base.Put(0, "stored", Value("from-store"));
    ASSERT_TRUE(base.Commit(false).ok());
  }
  WriteTxn txn(store_.get());
  std::string raw;
  ASSERT_TRUE(txn.Get(0, "stored", 0, &raw).ok());
  EXPECT_EQ(DecodeValue(raw)->payload, "from-store");
  txn.Put(0, "a", Value("a1"));
  txn.Put(0, "b", Value(std::string(100000, 'b')));  // the batch's buffer grows
  txn.Put(0, "a", Value("a-second-and-longer"));
  txn.Delete(0, "stored");
  for (int i = 0; i < 1000; ++i) txn.Put(1, "filler" + std::to_string(i), Value("f"));
  ASSERT_TRUE(txn.Get(0, "a", 0, &raw).ok());
  EXPECT_EQ(DecodeValue(raw)->payload, "a-second-and-longer");
  ASSERT_TRUE(txn.Get(0, "b", 0, &raw).ok());
  EXPECT_EQ(DecodeValue(raw)->payload, std::string(100000, 'b'));
  EXPECT_TRUE(txn.Get(0, "stored", 0, &raw).IsNotFound());
  txn.Put(0, "stored", Value("again"));
  ASSERT_TRUE(txn.Get(0, "stored", 0, &raw).ok());
  EXPECT_EQ(DecodeValue(raw)->payload, "again");
  ASSERT_TRUE(txn.Get(1, "filler999", 0, &raw).ok());
  ASSERT_TRUE(txn.Commit(false).ok());
  // After the commit the batch is gone; the same answers come from the store.
  ASSERT_TRUE(txn.Get(0, "a", 0, &raw).ok());
  EXPECT_EQ(DecodeValue(raw)->payload, "a-second-and-longer");
  ASSERT_TRUE(store_->Get(0, "stored", 0, &raw).ok());
  EXPECT_EQ(DecodeValue(raw)->payload, "again");
}

// The transaction's index keeps copies of its keys in blocks: keys spanning many blocks, one
// longer than a block, and a second batch after a commit reuse them correctly.
TEST_F(StoreTest, TxnFindsEveryKeyOfALargeBatch) {
  WriteTxn txn(store_.get());
  const std::string long_key(40000, 'k');
  for (int round = 0; round < 2; ++round) {
    const std::string tag = "r" + std::to_string(round) + ":";
    for (int i = 0; i < 5000; ++i) txn.Put(i % 3, tag + std::to_string(i), Value(std::to_string(i)));
    txn.Put(0, long_key, Value(tag));
    std::string raw;
    for (int i = 0; i < 5000; ++i) {
      ASSERT_TRUE(txn.Get(i % 3, tag + std::to_string(i), 0, &raw).ok()) << i;
      EXPECT_EQ(DecodeValue(raw)->payload, std::to_string(i));
      EXPECT_TRUE(txn.Get((i + 1) % 3, tag + std::to_string(i), 0, &raw).IsNotFound());
    }
    ASSERT_TRUE(txn.Get(0, long_key, 0, &raw).ok());
    EXPECT_EQ(DecodeValue(raw)->payload, tag);
    ASSERT_TRUE(txn.Commit(false).ok());
  }
}

// Commit writes each key's last write only (in key order): what the store holds afterwards is
// what the transaction's reads saw last, whatever the order of the writes.
TEST_F(StoreTest, CommitKeepsEachKeysLastWrite) {
  {
    WriteTxn base(store_.get());
    base.Put(0, "deleted-then-put", Value("old"));
    base.Put(0, "put-then-deleted", Value("old"));
    ASSERT_TRUE(base.Commit(false).ok());
  }
  WriteTxn txn(store_.get());
  txn.Put(0, "zz", Value("z1"));
  txn.Delete(0, "deleted-then-put");
  txn.Put(0, "deleted-then-put", Value("new"));
  txn.Put(0, "put-then-deleted", Value("new"));
  txn.Delete(0, "put-then-deleted");
  txn.Put(0, "aa", Value("a1"));
  txn.Put(0, "zz", Value("z2"));
  txn.PutRaw("m-raw", "raw-value");
  ASSERT_TRUE(txn.Commit(false).ok());
  std::string raw;
  ASSERT_TRUE(store_->Get(0, "deleted-then-put", 0, &raw).ok());
  EXPECT_EQ(DecodeValue(raw)->payload, "new");
  EXPECT_TRUE(store_->Get(0, "put-then-deleted", 0, &raw).IsNotFound());
  ASSERT_TRUE(store_->Get(0, "zz", 0, &raw).ok());
  EXPECT_EQ(DecodeValue(raw)->payload, "z2");
  ASSERT_TRUE(store_->Get(0, "aa", 0, &raw).ok());
  EXPECT_EQ(DecodeValue(raw)->payload, "a1");
  std::string v;
  ASSERT_TRUE(store_->db()->Get(rocksdb::ReadOptions(), "m-raw", &v).ok());
  EXPECT_EQ(v, "raw-value");
  EXPECT_TRUE(txn.empty());
}

// Data keys go into the memtable with insert hints (one per partition). A range deletion may
// not start at a hinted key (RocksDB shares the hint between its point and range-deletion
// skiplists, and the skiplist breaks): Store::Write refuses such a batch, and the range
// deletions Flin makes (a partition, all data) start outside the domain. Writes in and out of
// order, deletions of partitions and of everything interleave; every key reads back.
TEST_F(StoreTest, HintedDataKeysAndRangeDeletionsInterleave) {
  store_.reset();
  StoreOptions o;
  o.dir = dir_;
  o.block_cache_bytes = 8 << 20;
  o.insert_hint_prefix = DataKeyInsertHint();
  auto opened = Store::Open(o);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  store_ = std::move(opened).value();

  std::string k;
  EncodeDataKey(1, "k", &k);
  rocksdb::WriteBatch bad;
  bad.Put(k, Value("v"));
  bad.DeleteRange(k, PartitionPrefix(2));
  EXPECT_EQ(store_->Write(&bad, false).code(), Status::Code::kInvalidArgument);
  std::string raw;
  EXPECT_TRUE(store_->Get(1, "k", 0, &raw).IsNotFound());  // nothing of it was written

  std::map<std::pair<int, std::string>, std::string> model;
  for (int round = 0; round < 60; ++round) {
    WriteTxn txn(store_.get());
    for (int i = 0; i < 200; ++i) {
      const int p = (i * 7 + round) % 4;
      const std::string key = "k" + std::to_string((i * 7919 + round * 31) % 500);
      const std::string v = std::to_string(round) + "." + std::to_string(i);
      txn.Put(p, key, Value(v));
      model[{p, key}] = v;
    }
    ASSERT_TRUE(txn.Commit(false).ok());
    if (round % 9 == 4) {
      WriteTxn del(store_.get());
      ASSERT_TRUE(del.DeletePartition(round % 4).ok());
      for (auto it = model.begin(); it != model.end();) {
        it = it->first.first == round % 4 ? model.erase(it) : std::next(it);
      }
    }
    if (round == 40) {
      ASSERT_TRUE(store_->DeleteAllData().ok());
      model.clear();
    }
  }
  for (const auto& [pk, v] : model) {
    ASSERT_TRUE(store_->Get(pk.first, pk.second, 0, &raw).ok()) << pk.second;
    EXPECT_EQ(DecodeValue(raw)->payload, v);
  }
  int live = 0;
  auto it = store_->NewIterator();
  for (it->Seek(std::string(1, kDataPrefix)); it->Valid() && it->key()[0] == kDataPrefix;
       it->Next()) {
    ++live;
  }
  EXPECT_EQ(live, static_cast<int>(model.size()));
}

// Active expiry sleeps while this counter stands still, so every way a value with an expiry
// reaches the store must move it, and nothing else should.
TEST_F(StoreTest, CountsWritesThatStoreAnExpiry) {
  std::string key;
  EncodeDataKey(0, "k", &key);
  const uint64_t before = store_->volatile_writes();
  rocksdb::WriteBatch plain;
  plain.Put(key, Value("v"));
  plain.Put("a-meta", "x");  // not data, whatever its bytes
  ASSERT_TRUE(store_->Write(&plain, false).ok());
  ASSERT_TRUE(store_->DeleteAllData().ok());
  EXPECT_EQ(store_->volatile_writes(), before);

  rocksdb::WriteBatch with_expiry;
  with_expiry.Put(key, Value("v"));
  with_expiry.Put(key, Value("v", 5000));
  ASSERT_TRUE(store_->Write(&with_expiry, false).ok());
  EXPECT_EQ(store_->volatile_writes(), before + 1);  // one per write, not per value

  rocksdb::WriteBatch undecodable;  // counted: its expiry cannot be ruled out
  undecodable.Put(key, "\x07");
  ASSERT_TRUE(store_->Write(&undecodable, false).ok());
  EXPECT_EQ(store_->volatile_writes(), before + 2);
}

TEST_F(StoreTest, ExpiredValuesAreAbsent) {
  WriteTxn txn(store_.get());
  txn.Put(0, "e", Value("v", 1000));
  ASSERT_TRUE(txn.Commit(false).ok());
  std::string raw;
  EXPECT_TRUE(store_->Get(0, "e", 999, &raw).ok());
  EXPECT_TRUE(store_->Get(0, "e", 1000, &raw).IsNotFound());
}

TEST_F(StoreTest, CompactionDropsOnlyValuesExpiredByTheApplyClock) {
  WriteTxn txn(store_.get());
  txn.Put(0, "old", Value("v", 1000));
  txn.Put(0, "new", Value("v", 5000));
  txn.Put(0, "forever", Value("v"));
  ASSERT_TRUE(txn.Commit(false).ok());
  store_->AdvanceApplyClock(-1, 2000);
  ASSERT_TRUE(store_->db()->CompactRange(rocksdb::CompactRangeOptions(), nullptr, nullptr).ok());
  std::string raw, k;
  // Straight from RocksDB: only the compaction filter can have removed "old".
  EncodeDataKey(0, "old", &k);
  EXPECT_TRUE(store_->db()->Get(rocksdb::ReadOptions(), k, &raw).IsNotFound());
  EXPECT_TRUE(store_->Get(0, "new", 0, &raw).ok());
  EXPECT_TRUE(store_->Get(0, "forever", 0, &raw).ok());
}

TEST_F(StoreTest, EachPartitionIsJudgedByItsOwnLogsClock) {
  WriteTxn txn(store_.get());
  txn.Put(1, "k", Value("v", 1000));
  txn.Put(2, "k", Value("v", 1000));
  ASSERT_TRUE(txn.Commit(false).ok());
  // Partition 1's log has reached 2000; partition 2's leader is behind (its entries say 500),
  // so a later entry of partition 2 may still see its key alive: it must not be dropped.
  store_->AdvanceApplyClock(1, 2000);
  store_->AdvanceApplyClock(2, 500);
  ASSERT_TRUE(store_->db()->CompactRange(rocksdb::CompactRangeOptions(), nullptr, nullptr).ok());
  std::string raw;
  EXPECT_TRUE(store_->Get(1, "k", 0, &raw).IsNotFound());
  EXPECT_TRUE(store_->Get(2, "k", 0, &raw).ok());
}

TEST_F(StoreTest, ReadsNeverSeeTimeBeforeTheLogsClock) {
  WriteTxn txn(store_.get());
  txn.Put(3, "k", Value("v", 1000));
  txn.Put(4, "k", Value("v", 1000));
  ASSERT_TRUE(txn.Commit(false).ok());
  // Partition 3's log says time is 1500: the key expired there. A reader whose wall clock
  // says 900 (it jumped back, or runs behind the leader that wrote the log) must not bring
  // it back; partition 4's log has not got that far.
  store_->AdvanceApplyClock(3, 1500);
  std::string raw;
  EXPECT_TRUE(store_->Get(3, "k", 900, &raw).IsNotFound());
  EXPECT_TRUE(store_->Get(4, "k", 900, &raw).ok());
}

TEST_F(StoreTest, DeleteAllDataKeepsLaterWrites) {
  WriteTxn txn(store_.get());
  txn.Put(1, "a", Value("1"));
  ASSERT_TRUE(txn.DeleteAllData().ok());
  txn.Put(2, "b", Value("2"));
  ASSERT_TRUE(txn.Commit(true).ok());
  std::string raw;
  EXPECT_TRUE(store_->Get(1, "a", 0, &raw).IsNotFound());
  EXPECT_TRUE(store_->Get(2, "b", 0, &raw).ok());
}

}  // namespace
}  // namespace flin::storage

// libFuzzer target: the data of a snapshot a peer streamed to us, as GroupStorage installs it.
// Whatever the bytes, installing must not crash, must either refuse before writing anything
// or write only inside the group's own keyspace (its data range, its snapshot meta and
// applied index, its log), and every value it installs must be a well-formed stored value.
//
// Input: bytes 0-1 the group (u16 BE, modulo the partition limit); the rest is the snapshot
// data. Nothing is written to RocksDB: the write batch is inspected instead.

#include <cstddef>
#include <cstdint>
#include <string>

#include "cluster/group_storage.h"
#include "rocksdb/write_batch.h"
#include "storage/encoding.h"
#include "storage/fuzz_store.h"

namespace {

flin::storage::Store* g_store;

// Traps on any write outside group `g`'s keyspace.
class Checker : public rocksdb::WriteBatch::Handler {
 public:
  explicit Checker(int g) : g_(g) {}
  rocksdb::Status PutCF(uint32_t, const rocksdb::Slice& key, const rocksdb::Slice& value) override {
    const std::string_view k = key.ToStringView();
    if (k == flin::cluster::GroupMetaKey('s', g_) || k == flin::cluster::GroupMetaKey('a', g_)) {
      return rocksdb::Status::OK();
    }
    int partition;
    std::string_view user_key;
    if (!flin::storage::DecodeDataKey(k, &partition, &user_key) || partition != g_) __builtin_trap();
    if (!flin::storage::DecodeValue(value.ToStringView())) __builtin_trap();
    return rocksdb::Status::OK();
  }
  rocksdb::Status DeleteRangeCF(uint32_t, const rocksdb::Slice& begin, const rocksdb::Slice& end) override {
    const std::string_view b = begin.ToStringView(), e = end.ToStringView();
    if (!(b < e)) __builtin_trap();
    const bool data = b == flin::storage::PartitionPrefix(g_) && e == flin::storage::PartitionPrefix(g_ + 1);
    // The group's whole log: from its 3-byte prefix (a range deletion may not start at a log
    // key, GroupKeyInsertHint) to its last possible key.
    const bool log = b == flin::cluster::LogKey(g_, 0).substr(0, 3) &&
                     e == flin::cluster::LogKey(g_, UINT64_MAX);
    if (!data && !log) __builtin_trap();
    return rocksdb::Status::OK();
  }
  rocksdb::Status DeleteCF(uint32_t, const rocksdb::Slice&) override { __builtin_trap(); }
  rocksdb::Status SingleDeleteCF(uint32_t, const rocksdb::Slice&) override { __builtin_trap(); }
  rocksdb::Status MergeCF(uint32_t, const rocksdb::Slice&, const rocksdb::Slice&) override {
    __builtin_trap();
  }

 private:
  int g_;
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_store = flin::storage::OpenFuzzStore("flin_snapshot_install_fuzz");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace flin;
  if (size < 2) return 0;
  const int group = ((data[0] << 8) | data[1]) % storage::Store::kMaxPartitions;
  raft::ConfState voters;
  voters.voters = {1, 2, 3};
  auto gs = cluster::GroupStorage::Open(g_store, group, voters, g_store->dir() + "/snapshots");
  if (!gs.ok()) abort();
  raft::Snapshot snap;
  snap.meta.index = 100;
  snap.meta.term = 3;
  snap.meta.conf_state = voters;
  snap.data.assign(reinterpret_cast<const char*>(data) + 2, size - 2);
  rocksdb::WriteBatch wb;
  Status s = gs.value()->InstallSnapshot(snap, &wb);
  if (!s.ok()) {
    if (wb.Count() != 0) __builtin_trap();  // refused after writing
    return 0;
  }
  Checker checker(group);
  if (!wb.Iterate(&checker).ok()) __builtin_trap();
  if (gs.value()->LastIndex() != 100 || gs.value()->applied() != 100) __builtin_trap();
  return 0;
}

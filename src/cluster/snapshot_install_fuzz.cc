// libFuzzer target: the data of a snapshot a peer streamed to us, as GroupStorage installs it.
// Whatever the bytes, installing must not crash, must either refuse before changing anything
// or change only the group's own keyspace (its data range, its metadata, its log), and every
// value it installs must be a well-formed stored value.
//
// Input: bytes 0-1 the group (u16 BE, modulo the partition limit); the rest is the snapshot
// data. The install writes the fuzz store (the batch it fills, or an SST file it ingests); the
// group's keyspace and its neighbours' are read back to check it.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "cluster/group_storage.h"
#include "rocksdb/write_batch.h"
#include "storage/encoding.h"
#include "storage/fuzz_store.h"

namespace {

flin::storage::Store* g_store;
flin::cluster::LogStore* g_log;

// Everything stored in [begin, end), keys and values.
std::string Range(const std::string& begin, const std::string& end) {
  std::unique_ptr<rocksdb::Iterator> it = g_store->NewIterator();
  std::string out;
  for (it->Seek(begin); it->Valid() && it->key().ToStringView() < end; it->Next()) {
    out.append(it->key().data(), it->key().size()).push_back('=');
    out.append(it->value().data(), it->value().size()).push_back(';');
  }
  return out;
}

// What an install may change: the group's data and metadata; and what it must not: the
// neighbouring partitions' data and groups' metadata.
std::string Keyspace(int g) {
  using flin::cluster::GroupMetaKey;
  using flin::storage::PartitionPrefix;
  std::string all;
  for (char kind : {'a', 'h', 's', 'g', 'l'}) {
    all += Range(GroupMetaKey(kind, g), GroupMetaKey(kind, g + 1)) + "|";
  }
  return all + Range(PartitionPrefix(g), PartitionPrefix(g + 1));
}
std::string Neighbours(int g) {
  return (g > 0 ? Keyspace(g - 1) : std::string()) + "#" + Keyspace(g + 1);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_store = flin::storage::OpenFuzzStore("flin_snapshot_install_fuzz");
  flin::cluster::LogStoreOptions lo;
  lo.dir = g_store->dir() + "/raft-log";
  auto log = flin::cluster::LogStore::Open(lo);
  if (!log.ok()) abort();
  g_log = std::move(log).value().release();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace flin;
  if (size < 2) return 0;
  const int group = ((data[0] << 8) | data[1]) % (storage::Store::kMaxPartitions - 1);
  raft::ConfState voters;
  voters.voters = {1, 2, 3};
  auto gs = cluster::GroupStorage::Open(g_store, g_log, group, voters, g_store->dir() + "/snapshots");
  if (!gs.ok()) abort();
  raft::Snapshot snap;
  snap.meta.index = 100;
  snap.meta.term = 3;
  snap.meta.conf_state = voters;
  snap.data.assign(reinterpret_cast<const char*>(data) + 2, size - 2);
  const std::string before = Keyspace(group), around = Neighbours(group);
  // Both ways of installing: through the round's batch (written here as the round would), and
  // by ingesting a file; the low bit of the first byte picks, and its top six bits the size
  // from which a partition is ingested (0-1008 bytes: the SST is started at some chunk). The
  // next bit stages the data as a follower receives it, in chunks (of 1-97 bytes, by the
  // second byte), checked and, for ingestion, written into the SST as they come.
  gs.value()->set_ingest_bytes((data[0] & 1) ? (data[0] >> 2) * 16u : UINT64_MAX);
  if (data[0] & 2) {
    const size_t chunk = 1 + data[1] % 97;
    size_t off = 0;
    do {
      const std::string_view piece = std::string_view(snap.data).substr(off, chunk);
      auto kept = gs.value()->StageSnapshotChunk(snap.meta, off, piece);
      if (!kept.ok() || !kept.value()) abort();
      off += piece.size();
    } while (off < snap.data.size());
    snap.data.clear();
    snap.staged = true;
  }
  const bool valid = gs.value()->ValidateSnapshot(snap).ok();
  rocksdb::WriteBatch wb;
  Status s = gs.value()->InstallSnapshot(snap, nullptr, &wb);
  if (!s.ok() && wb.Count() != 0) __builtin_trap();  // refused after adding to the batch
  if (s.ok() && wb.Count() > 0 && !g_store->Write(&wb, false).ok()) abort();
  if (s.ok() != valid) __builtin_trap();  // the check before adopting it must be the install's
  if (Neighbours(group) != around) __builtin_trap();  // wrote outside its keyspace
  if (!s.ok()) {
    if (Keyspace(group) != before) __builtin_trap();  // refused after writing
    return 0;
  }
  std::unique_ptr<rocksdb::Iterator> it = g_store->NewIterator();
  const std::string prefix = storage::PartitionPrefix(group), next = storage::PartitionPrefix(group + 1);
  for (it->Seek(prefix); it->Valid() && it->key().ToStringView() < next; it->Next()) {
    if (!storage::DecodeValue(it->value().ToStringView())) __builtin_trap();
  }
  if (!Range(cluster::LogKey(group, 0), cluster::LogKey(group + 1, 0)).empty()) __builtin_trap();
  if (g_log->LastIndex(group) != 100 || g_log->FirstIndex(group) != 101) __builtin_trap();
  if (gs.value()->LastIndex() != 100 || gs.value()->applied() != 100) __builtin_trap();
  return 0;
}

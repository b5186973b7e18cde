#include "storage/write_txn.h"

#include <algorithm>
#include <cstring>

#include "storage/encoding.h"

namespace flin::storage {

WriteTxn::WriteTxn(Store* store) : store_(store) {}

Status WriteTxn::Get(int partition, std::string_view key, int64_t now_ms, std::string* raw) {
  EncodeDataKey(partition, key, &key_buf_);
  auto it = pending_.find(key_buf_);
  if (it == pending_.end()) {
    Status s = store_->GetRaw(key_buf_, raw);
    if (!s.ok()) return s;
  } else if (it->second.deleted) {
    return Status::NotFound();
  } else {
    raw->assign(it->second.value);
  }
  auto v = DecodeValue(*raw);
  if (!v) return Status::Corruption("bad value encoding");
  if (v->Expired(now_ms)) return Status::NotFound();
  return Status::Ok();
}

void WriteTxn::Put(int partition, std::string_view key, std::string_view raw) {
  EncodeDataKey(partition, key, &key_buf_);
  Note(key_buf_, Pending{Keep(raw), false});
}

void WriteTxn::Delete(int partition, std::string_view key) {
  EncodeDataKey(partition, key, &key_buf_);
  Note(key_buf_, Pending{{}, true});
}

void WriteTxn::Note(std::string_view storage_key, Pending p) {
  auto it = pending_.lazy_emplace(storage_key, [&](const auto& construct) {
    construct(Keep(storage_key), p);
  });
  it->second = p;
}

std::string_view WriteTxn::Keep(std::string_view bytes) {
  constexpr size_t kBlock = 64 << 10;
  if (blocks_.empty() || block_size_ - block_used_ < bytes.size()) {
    block_size_ = std::max(kBlock, bytes.size());
    blocks_.push_back(std::make_unique<char[]>(block_size_));
    block_used_ = 0;
  }
  char* at = blocks_.back().get() + block_used_;
  if (!bytes.empty()) memcpy(at, bytes.data(), bytes.size());
  block_used_ += bytes.size();
  return {at, bytes.size()};
}

Status WriteTxn::DeleteAllData() {
  Status s = Commit(sync_parts_);
  wrote_part_ = true;  // after that Commit, which starts afresh
  if (!s.ok()) return s;
  return store_->DeleteAllData(sync_parts_);
}

Status WriteTxn::DeletePartition(int partition) {
  Status s = Commit(sync_parts_);
  wrote_part_ = true;
  if (!s.ok()) return s;
  return store_->DeleteRange(PartitionPrefix(partition), PartitionPrefix(partition + 1),
                             sync_parts_);
}

void WriteTxn::PutRaw(std::string_view key, std::string_view value) {
  raw_.emplace_back(Keep(key), Keep(value));
}

void WriteTxn::CountOnCommit(std::atomic<uint64_t>* counter, uint64_t n) {
  if (n > 0) counts_.emplace_back(counter, n);
}

Status WriteTxn::Commit(bool sync, bool no_stall) {
  Status s = Status::Ok();
  if (!empty()) {
    // Each key's last write only, in key order: the memtable's skiplist then inserts each key
    // from near where the previous one went instead of searching from its top (perf: the
    // search was a third of the I/O thread under pipelined SET, cache misses all the way).
    // The transaction's outcome is the same: a batch is applied whole, and for each key only
    // its last write counts.
    order_.clear();
    order_.reserve(pending_.size());
    for (const auto& kv : pending_) order_.push_back(&kv);
    std::sort(order_.begin(), order_.end(),
              [](const auto* a, const auto* b) { return a->first < b->first; });
    batch_.Clear();
    for (const auto* kv : order_) {
      const rocksdb::Slice key(kv->first.data(), kv->first.size());
      if (kv->second.deleted) {
        batch_.Delete(key).PermitUncheckedError();
      } else {
        const rocksdb::Slice value(kv->second.value.data(), kv->second.value.size());
        batch_.Put(key, value).PermitUncheckedError();
      }
    }
    for (const auto& [key, value] : raw_) {
      batch_.Put(rocksdb::Slice(key.data(), key.size()), rocksdb::Slice(value.data(), value.size()))
          .PermitUncheckedError();
    }
    s = store_->Write(&batch_, sync, no_stall && !wrote_part_);
  } else if (sync) {
    s = store_->SyncWal();
  }
  if (s.ok()) {
    for (auto [counter, n] : counts_) counter->fetch_add(n, std::memory_order_relaxed);
  }
  counts_.clear();
  batch_.Clear();
  pending_.clear();
  raw_.clear();
  if (blocks_.size() > 1) blocks_.erase(blocks_.begin(), blocks_.end() - 1);  // keep one
  block_used_ = 0;
  wrote_part_ = false;
  return s;
}

}  // namespace flin::storage

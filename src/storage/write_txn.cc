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
    raw->assign(batch_.Data(), it->second.offset, it->second.size);
  }
  auto v = DecodeValue(*raw);
  if (!v) return Status::Corruption("bad value encoding");
  if (v->Expired(now_ms)) return Status::NotFound();
  return Status::Ok();
}

void WriteTxn::Put(int partition, std::string_view key, std::string_view raw) {
  EncodeDataKey(partition, key, &key_buf_);
  batch_.Put(key_buf_, rocksdb::Slice(raw.data(), raw.size())).PermitUncheckedError();
  // A Put's record ends with the value's bytes (RocksDB's batch format: tag, key, value, each
  // length-prefixed); write_txn tests read values back from there.
  Note(key_buf_, Pending{batch_.Data().size() - raw.size(), raw.size(), false});
}

void WriteTxn::Delete(int partition, std::string_view key) {
  EncodeDataKey(partition, key, &key_buf_);
  batch_.Delete(key_buf_).PermitUncheckedError();
  Note(key_buf_, Pending{0, 0, true});
}

void WriteTxn::Note(std::string_view storage_key, Pending p) {
  auto it = pending_.lazy_emplace(storage_key, [&](const auto& construct) {
    construct(Intern(storage_key), p);
  });
  it->second = p;
}

std::string_view WriteTxn::Intern(std::string_view key) {
  constexpr size_t kBlock = 16 << 10;
  if (blocks_.empty() || block_size_ - block_used_ < key.size()) {
    block_size_ = std::max(kBlock, key.size());
    blocks_.push_back(std::make_unique<char[]>(block_size_));
    block_used_ = 0;
  }
  char* at = blocks_.back().get() + block_used_;
  if (!key.empty()) memcpy(at, key.data(), key.size());
  block_used_ += key.size();
  return {at, key.size()};
}

Status WriteTxn::DeleteAllData() {
  Status s = Commit(false);
  if (!s.ok()) return s;
  return store_->DeleteAllData();
}

Status WriteTxn::DeletePartition(int partition) {
  Status s = Commit(false);
  if (!s.ok()) return s;
  return store_->DeleteRange(PartitionPrefix(partition), PartitionPrefix(partition + 1));
}

void WriteTxn::PutRaw(std::string_view key, std::string_view value) {
  batch_.Put(rocksdb::Slice(key.data(), key.size()), rocksdb::Slice(value.data(), value.size()))
      .PermitUncheckedError();
}

Status WriteTxn::Commit(bool sync) {
  Status s = Status::Ok();
  if (!empty()) {
    s = store_->Write(&batch_, sync);
  } else if (sync) {
    s = store_->SyncWal();
  }
  batch_.Clear();
  pending_.clear();
  if (blocks_.size() > 1) blocks_.erase(blocks_.begin(), blocks_.end() - 1);  // keep one
  block_used_ = 0;
  return s;
}

}  // namespace flin::storage

#include "storage/write_txn.h"

#include "storage/encoding.h"

namespace flin::storage {

WriteTxn::WriteTxn(Store* store)
    : store_(store), batch_(rocksdb::BytewiseComparator(), 0, /*overwrite_key=*/true) {}

Status WriteTxn::Get(int partition, std::string_view key, int64_t now_ms, std::string* raw) {
  EncodeDataKey(partition, key, &key_buf_);
  rocksdb::Status s =
      batch_.GetFromBatchAndDB(store_->db(), rocksdb::ReadOptions(), key_buf_, raw);
  if (s.IsNotFound()) return Status::NotFound();
  if (!s.ok()) return Status::IOError(s.ToString());
  auto v = DecodeValue(*raw);
  if (!v) return Status::Corruption("bad value encoding");
  if (v->Expired(now_ms)) return Status::NotFound();
  return Status::Ok();
}

void WriteTxn::Put(int partition, std::string_view key, std::string_view raw) {
  EncodeDataKey(partition, key, &key_buf_);
  batch_.Put(key_buf_, rocksdb::Slice(raw.data(), raw.size())).PermitUncheckedError();
}

void WriteTxn::Delete(int partition, std::string_view key) {
  EncodeDataKey(partition, key, &key_buf_);
  batch_.Delete(key_buf_).PermitUncheckedError();
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
    s = store_->Write(batch_.GetWriteBatch(), sync);
  } else if (sync) {
    s = store_->SyncWal();
  }
  batch_.Clear();
  return s;
}

}  // namespace flin::storage

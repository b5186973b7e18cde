#include "raft/storage.h"

#include <algorithm>

namespace flin::raft {

bool IsCompacted(const Status& s) { return s.code() == Status::Code::kNotFound; }
Status CompactedError() { return Status::NotFound("compacted"); }

MemoryStorage::MemoryStorage() : ents_(1) {}

MemoryStorage MemoryStorage::WithSnapshot(uint64_t index, uint64_t term, const ConfState& cs) {
  MemoryStorage ms;
  Snapshot s;
  s.meta.index = index;
  s.meta.term = term;
  s.meta.conf_state = cs;
  (void)ms.ApplySnapshot(s);
  ms.hard_state_.term = term;
  ms.hard_state_.commit = index;
  return ms;
}

Result<InitialState> MemoryStorage::GetInitialState() const {
  return InitialState{hard_state_, snapshot_.meta.conf_state};
}

uint64_t MemoryStorage::FirstIndex() const { return ents_[0].index + 1; }
uint64_t MemoryStorage::LastIndex() const { return ents_[0].index + ents_.size() - 1; }

Status MemoryStorage::Entries(uint64_t lo, uint64_t hi, uint64_t max_bytes,
                              std::vector<Entry>* out) const {
  uint64_t offset = ents_[0].index;
  if (lo <= offset) return CompactedError();
  if (hi > LastIndex() + 1 || lo > hi) return Status::Unavailable("entries beyond last index");
  uint64_t size = 0;
  for (uint64_t i = lo; i < hi; i++) {
    const Entry& e = ents_[i - offset];
    size += e.Size();
    if (i > lo && size > max_bytes) break;
    out->push_back(e);
  }
  return Status::Ok();
}

Result<uint64_t> MemoryStorage::Term(uint64_t i) const {
  uint64_t offset = ents_[0].index;
  if (i < offset) return CompactedError();
  if (i - offset >= ents_.size()) return Status::Unavailable("index beyond last index");
  return ents_[i - offset].term;
}

Result<SnapshotMeta> MemoryStorage::SnapshotMetadata() const { return snapshot_.meta; }

Result<SnapshotChunk> MemoryStorage::ReadSnapshotChunk(uint64_t index, uint64_t offset,
                                                       uint64_t max_bytes) const {
  if (index != snapshot_.meta.index) return Status::NotFound("snapshot replaced");
  if (offset > snapshot_.data.size()) return Status::InvalidArgument("offset beyond snapshot");
  SnapshotChunk c;
  c.meta = snapshot_.meta;
  uint64_t n = std::min<uint64_t>(max_bytes, snapshot_.data.size() - offset);
  c.data = snapshot_.data.substr(offset, n);
  c.done = offset + n == snapshot_.data.size();
  return c;
}

Status MemoryStorage::Append(const std::vector<Entry>& entries) {
  if (entries.empty()) return Status::Ok();
  uint64_t first = FirstIndex();
  uint64_t last = entries.back().index;
  if (last < first) return Status::Ok();  // all covered by the snapshot
  size_t skip = first > entries[0].index ? first - entries[0].index : 0;
  uint64_t start = entries[skip].index;
  if (start > LastIndex() + 1) return Status::InvalidArgument("gap in appended entries");
  ents_.resize(start - ents_[0].index);  // truncate the conflicting suffix
  ents_.insert(ents_.end(), entries.begin() + skip, entries.end());
  return Status::Ok();
}

Status MemoryStorage::ApplySnapshot(const Snapshot& snap) {
  if (snap.meta.index < snapshot_.meta.index) return Status::InvalidArgument("snapshot is older");
  snapshot_ = snap;
  ents_.assign(1, Entry{});
  ents_[0].index = snap.meta.index;
  ents_[0].term = snap.meta.term;
  return Status::Ok();
}

Status MemoryStorage::CreateSnapshot(uint64_t index, const ConfState& cs, std::string data) {
  if (index <= snapshot_.meta.index) return Status::InvalidArgument("snapshot is older");
  if (index > LastIndex()) return Status::InvalidArgument("snapshot beyond last index");
  auto term = Term(index);
  if (!term.ok()) return term.status();
  snapshot_.meta.index = index;
  snapshot_.meta.term = term.value();
  snapshot_.meta.conf_state = cs;
  snapshot_.data = std::move(data);
  return Status::Ok();
}

Status MemoryStorage::Compact(uint64_t index) {
  uint64_t offset = ents_[0].index;
  if (index <= offset) return Status::Ok();
  if (index > LastIndex()) return Status::InvalidArgument("compact beyond last index");
  ents_.erase(ents_.begin(), ents_.begin() + (index - offset));
  ents_[0].data.clear();
  ents_[0].type = EntryType::kNormal;
  return Status::Ok();
}

}  // namespace flin::raft

#include "cluster/snapshot_data.h"

#include "storage/encoding.h"

namespace flin::cluster {

bool HasSnapshotHeader(std::string_view data) {
  uint32_t first;
  size_t p = 0;
  return GetU32(data, &p, &first) && first == kSnapshotHeader;
}

int64_t SnapshotClock(std::string_view data) {
  return HasSnapshotHeader(data) && data.size() >= 12 ? static_cast<int64_t>(GetU64(data.substr(4, 8)))
                                                      : 0;
}

namespace {

// One record at `*pos`: kNeedMore if data ends inside it, else its key and value (checked for
// length bounds only), with *pos past it.
enum class Next { kRecord, kNeedMore, kBad };

Next NextRecord(std::string_view data, size_t* pos, std::string_view* k, std::string_view* v,
                const char** what) {
  size_t p = *pos;
  uint32_t kl, vl;
  if (!GetU32(data, &p, &kl)) return Next::kNeedMore;
  if (kl > kMaxSnapshotField) return *what = "snapshot key", Next::kBad;
  if (data.size() - p < kl) return Next::kNeedMore;
  *k = data.substr(p, kl);
  p += kl;
  if (!GetU32(data, &p, &vl)) return Next::kNeedMore;
  if (vl > kMaxSnapshotField) return *what = "snapshot value", Next::kBad;
  if (data.size() - p < vl) return Next::kNeedMore;
  *v = data.substr(p, vl);
  *pos = p + vl;
  return Next::kRecord;
}

}  // namespace

Status ParseSnapshotData(std::string_view data, const SnapshotRecordFn& each) {
  SnapshotStream stream;
  Status s = stream.Feed(data, each);
  return s.ok() ? stream.Finish() : s;
}

Status SnapshotStream::Feed(std::string_view piece, const SnapshotRecordFn& each) {
  if (!error_.ok()) return error_;
  fed_ += piece.size();
  size_t used = 0;
  Status s;
  if (carry_.empty()) {
    s = Parse(piece, &used, each);
    if (s.ok()) carry_.assign(piece.substr(used));
  } else {
    carry_.append(piece);
    s = Parse(carry_, &used, each);
    if (s.ok()) carry_.erase(0, used);
  }
  if (!s.ok()) {
    error_ = s;
    carry_.clear();
  }
  return s;
}

Status SnapshotStream::Parse(std::string_view data, size_t* used, const SnapshotRecordFn& each) {
  size_t pos = 0;
  if (!header_checked_) {
    uint32_t first;
    size_t p = 0;
    if (!GetU32(data, &p, &first)) return *used = 0, Status::Ok();  // not known yet
    if (first == kSnapshotHeader) {
      if (data.size() < 12) return *used = 0, Status::Ok();
      clock_ = static_cast<int64_t>(GetU64(data.substr(4, 8)));
      pos = 12;
    }
    header_checked_ = true;
  }
  for (;;) {
    std::string_view k, v;
    const char* what = nullptr;
    const Next n = NextRecord(data, &pos, &k, &v, &what);
    if (n == Next::kNeedMore) break;
    if (n == Next::kBad) return Status::Corruption(what);
    if (!storage::DecodeValue(v)) return Status::Corruption("snapshot value encoding");
    if (any_ && k <= prev_key_) return Status::Corruption("snapshot keys out of order");
    prev_key_.assign(k);
    any_ = true;
    if (each) {
      Status s = each(k, v);
      if (!s.ok()) return s;
    }
  }
  *used = pos;
  return Status::Ok();
}

Status SnapshotStream::Finish() const {
  if (!error_.ok()) return error_;
  if (carry_.empty()) return Status::Ok();
  if (!header_checked_) return Status::Corruption(fed_ >= 4 ? "snapshot header" : "snapshot key");
  return Status::Corruption("snapshot record cut short");
}

}  // namespace flin::cluster

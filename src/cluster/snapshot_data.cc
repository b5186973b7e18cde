#include "cluster/snapshot_data.h"

#include "storage/encoding.h"
#include "storage/hash_payload.h"

namespace flin::cluster {
namespace {

bool HasSnapshotHeader(std::string_view data) {
  uint32_t first;
  size_t p = 0;
  return GetU32(data, &p, &first) && first == kSnapshotHeader;
}

}  // namespace

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
  Status s = stream.Consume(data, each);
  return s.ok() ? stream.Finish(data.size()) : s;
}

Status SnapshotStream::Consume(std::string_view window, const SnapshotRecordFn& each) {
  if (!error_.ok()) return error_;
  size_t pos = 0;
  if (!header_checked_) {
    uint32_t first;
    size_t p = 0;
    if (!GetU32(window, &p, &first)) return Status::Ok();  // not known yet
    if (first == kSnapshotHeader) {
      if (window.size() < 12) return Status::Ok();
      clock_ = static_cast<int64_t>(GetU64(window.substr(4, 8)));
      pos = 12;
    }
    header_checked_ = true;
  }
  for (;;) {
    std::string_view k, v;
    const char* what = nullptr;
    const Next n = NextRecord(window, &pos, &k, &v, &what);
    if (n == Next::kNeedMore) break;
    Status s;
    if (n == Next::kBad) {
      s = Status::Corruption(what);
    } else if (const auto value = storage::DecodeValue(v);
               !value || !storage::WellFormedPayload(*value)) {
      s = Status::Corruption("snapshot value encoding");
    } else if (any_ && k <= prev_key_) {
      s = Status::Corruption("snapshot keys out of order");
    } else {
      prev_key_.assign(k);
      any_ = true;
      if (each) s = each(k, v);
    }
    if (!s.ok()) {
      consumed_ += pos;
      return error_ = s;
    }
  }
  consumed_ += pos;
  return Status::Ok();
}

Status SnapshotStream::Finish(uint64_t total) const {
  if (!error_.ok()) return error_;
  if (consumed_ == total) return Status::Ok();
  if (!header_checked_) return Status::Corruption(total >= 4 ? "snapshot header" : "snapshot key");
  return Status::Corruption("snapshot record cut short");
}

}  // namespace flin::cluster

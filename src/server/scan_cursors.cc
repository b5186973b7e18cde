#include "server/scan_cursors.h"

#include "storage/encoding.h"

namespace flin::server {

uint64_t ScanCursors::Save(int partition, std::string resume_key) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t id = next_++;
  const uint64_t cursor = (static_cast<uint64_t>(partition + 1) << kSeqBits) | (id & kSeqMask);
  bytes_ += resume_key.size();
  const auto it = cursors_.emplace(id, Entry{cursor, std::move(resume_key)}).first;
  while (cursors_.begin() != it && (cursors_.size() > kMax || bytes_ > kMaxBytes)) {
    bytes_ -= cursors_.begin()->second.key.size();
    cursors_.erase(cursors_.begin());
  }
  return cursor;
}

std::string ScanCursors::Load(uint64_t cursor, int partitions) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    // The latest id with the cursor's low bits: any older one went out 2^38 saves ago.
    const uint64_t last = next_ - 1;
    const uint64_t id = last - ((last - cursor) & kSeqMask);
    auto it = cursors_.find(id);
    if (it != cursors_.end() && it->second.cursor == cursor) return it->second.key;
  }
  const uint64_t partition = (cursor >> kSeqBits) - 1;  // wraps for 0: not a partition
  if (partition < static_cast<uint64_t>(partitions)) {
    return storage::PartitionPrefix(static_cast<int>(partition));
  }
  return "";
}

}  // namespace flin::server

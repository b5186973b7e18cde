#pragma once
// LogStore: the Raft log of every group of a node, in append-only segment files of its own,
// outside RocksDB (GroupStorage keeps everything else there). In RocksDB each entry was a
// memtable insert, flushed and compacted before its group's log was truncated (DESIGN.md,
// "Log storage"; BENCHMARKS.md, session 22).
//
// On disk: <dir>/<20-digit sequence number>.seg, appended in order; one active segment at a
// time, a new one begun once the active one passes segment_bytes (the old one cut to its
// records and fdatasynced first, so only the newest can have a torn tail). The active one is
// written with zeros a MiB ahead of its records, so that most fdatasyncs need not write the
// file's size; Open cuts them. A record:
//   u32 crc (zlib crc32 of everything after it) | u32 payload length | u16 group |
//   u64 generation | u64 index | payload (raft::EncodeEntry)
// the u32s little-endian, the others big-endian (snapshot_data.h's helpers). A record for
// (group, generation, index i) supersedes that group's entries from i on in the same
// generation (a new leader overwrote the tail), except a copy written by Relocate (the
// group's top bit set), which replaces entry i only: a relocation cut short by a crash
// leaves the rest where it was. Records of another
// generation than the one the owner attaches are ignored. The generation is the owner's to
// keep durably (in RocksDB, beside the group's compaction point): bumping it in the same
// atomic write as a snapshot install empties the log of the group without a record here.
//
// Open scans every segment in order and rebuilds an in-memory index (group, generation,
// index) → (segment, offset, length); a bad record (checksum, framing) in the last segment is
// a torn tail, cut there; anywhere else it is corruption and Open fails. Each group is then
// Attach()ed with its generation and compaction point.
//
// Disk use: a segment is garbage once no attached group's live entries are in it and every
// older segment is garbage too (deleting a newer one first could bring back entries an
// overwrite in it had superseded). A group that pins the oldest segment with a few entries
// (an idle partition) would pin every later one: Relocate() writes such groups' live entries
// again at the end, which supersedes the old copies. The caller must make the compaction
// points durable before CollectGarbage() deletes anything (the entries below them go).
//
// Threading: one thread (the raft thread). Ownership: owns its file descriptors.

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "raft/types.h"

namespace flin::cluster {

struct LogStoreOptions {
  std::string dir;                     // made durably if missing
  uint64_t segment_bytes = 64u << 20;  // a segment is closed once past this
};

class LogStore {
 public:
  static Result<std::unique_ptr<LogStore>> Open(const LogStoreOptions& options);
  ~LogStore();
  LogStore(const LogStore&) = delete;
  LogStore& operator=(const LogStore&) = delete;

  // Once per group after Open, before anything else of it: its current generation and
  // compaction point (entries at or below `compacted` are forgotten). Returns the group's last
  // index (`compacted` if it has no entry above it), or Corruption if entries right above
  // `compacted` are missing. Records of other generations of the group are dropped from the
  // index.
  Result<uint64_t> Attach(int group, uint64_t generation, uint64_t compacted);

  // Once every group the owner has is attached: what Open found of any other group (one this
  // node no longer hosts) is dropped, so that it keeps no segment.
  void ForgetUnattached();

  // Appends entries (ascending, contiguous) of the group's current generation; the first one
  // supersedes the group's entries from its index on. The first index must be at most the
  // last index + 1 and above the compaction point. Buffered until Sync.
  void Append(int group, const std::vector<raft::Entry>& entries);
  // Starts the group's log afresh after a snapshot at `index`: the new generation (above the
  // current one; the caller persists it atomically with the snapshot) and nothing after
  // `index`. Writes nothing here.
  void Reset(int group, uint64_t generation, uint64_t index);
  // Forgets the group's entries at or below `index` (their space goes at CollectGarbage).
  void Compact(int group, uint64_t index);
  // The highest generation of the group seen since Open: in a segment (even one the owner's
  // generation ignores: a bump lost in a power cut while records of it were kept), attached or
  // reset to. A new generation must be above it, or those records would count again.
  uint64_t HighestGeneration(int group) const;

  // Writes what Append buffered to the active segment, and with `durable` fdatasyncs it. On an
  // error nothing more may be acknowledged (the owner stops). Begins a new segment if the
  // active one is past its size.
  Status Sync(bool durable);

  // Entry `index` of the group (written or still buffered). NotFound if not in the log.
  Result<raft::Entry> Read(int group, uint64_t index) const;
  // The group's first live index (compaction point + 1) and last index.
  uint64_t FirstIndex(int group) const;
  uint64_t LastIndex(int group) const;

  // Segments: how many there are, and how many CollectGarbage would delete now.
  size_t segments() const { return segments_.size(); }
  size_t garbage_segments() const;
  // Writes again, at the end, the live entries of every group that has entries in the oldest
  // segment, if that segment is closed and those groups' logs hold at most `max_live_bytes`
  // together, or at most half of the dead bytes the segments hold (so that an idle group with
  // a large log cannot keep every later segment); the old copies become garbage. Buffered:
  // Sync (durable) before CollectGarbage relies on it. Returns the number of entries
  // rewritten.
  Result<size_t> Relocate(uint64_t max_live_bytes);
  // Deletes the garbage segments (oldest first). The caller has made every compaction point
  // given to Compact (and generation given to Reset) durable, and synced what Relocate wrote.
  Status CollectGarbage();

 private:
  struct Loc {
    uint64_t segment;  // sequence number
    uint32_t offset;   // of the record
    uint32_t length;   // of the whole record
  };
  struct GroupLog {
    uint64_t generation = 0;
    uint64_t first = 1;        // index of locs.front()
    std::deque<Loc> locs;      // contiguous entries first .. first + size - 1
  };
  struct Segment {
    int fd = -1;
    uint64_t size = 0;         // bytes written (the active one: plus the buffer's)
    uint64_t live_refs = 0;    // live index entries pointing into it
    uint64_t live_bytes = 0;
  };
  explicit LogStore(LogStoreOptions options) : options_(std::move(options)) {}
  std::string SegmentPath(uint64_t seq) const;
  Status Scan(uint64_t seq, bool last);
  Status StartSegment(uint64_t seq);
  // copy: Relocate's (log_store.cc, Scan: a copy replaces the entry and keeps what follows).
  void AddRecord(int group, uint64_t generation, uint64_t index, std::string_view payload,
                 bool copy = false);
  // Index maintenance with segment reference counts.
  void Push(GroupLog& log, const Loc& loc);
  void Ref(const Loc& loc);
  void Unref(const Loc& loc);
  void TruncateFrom(GroupLog& log, uint64_t index);
  void DropAll(GroupLog& log);
  GroupLog& LogOf(int group, uint64_t generation);
  Status ReadRecord(const Loc& loc, std::string* out) const;

  LogStoreOptions options_;
  std::map<uint64_t, Segment> segments_;  // by sequence number; the last one is active
  uint64_t active_ = 0;
  std::string buffer_;                    // records not yet written to the active segment
  uint64_t buffer_at_ = 0;                // the active segment's offset where buffer_ goes
  uint64_t zeroed_to_ = 0;                // the active segment is written (zeros) up to here
  // Attached groups: their one generation. Before Attach, every generation seen by Open.
  std::unordered_map<int, GroupLog> groups_;
  std::map<std::pair<int, uint64_t>, GroupLog> unattached_;
  std::unordered_map<int, uint64_t> highest_generation_;
};

}  // namespace flin::cluster

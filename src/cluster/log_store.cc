#include "cluster/log_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "cluster/snapshot_data.h"
#include "common/durable_file.h"
#include "common/log.h"
#include "raft/codec.h"

namespace flin::cluster {
namespace {

constexpr size_t kHeader = 4 + 4 + 2 + 8 + 8;
// A payload is one encoded entry; a length beyond this is framing gone wrong, not an entry.
constexpr uint32_t kMaxPayload = 1u << 30;
constexpr uint64_t kZeroAhead = 1u << 20;
// In a record's group field: written by Relocate, a copy of an entry the log holds already
// (groups are below 2^14: storage::Store::kMaxPartitions).
constexpr uint16_t kCopyFlag = 0x8000;

uint32_t Crc(std::string_view bytes) {
  uLong c = crc32(0L, Z_NULL, 0);
  return static_cast<uint32_t>(
      crc32_z(c, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size()));
}

void PutU16(std::string* s, uint16_t v) {
  s->push_back(static_cast<char>(v >> 8));
  s->push_back(static_cast<char>(v & 0xff));
}

uint16_t GetU16(std::string_view s) {
  return static_cast<uint16_t>((static_cast<uint8_t>(s[0]) << 8) | static_cast<uint8_t>(s[1]));
}

uint32_t ReadU32(std::string_view s) {
  size_t pos = 0;
  uint32_t v = 0;
  GetU32(s, &pos, &v);
  return v;
}

std::string Errno(const std::string& what) { return what + ": " + strerror(errno); }

Status WriteAll(int fd, std::string_view data, uint64_t at, const std::string& path) {
  for (size_t done = 0; done < data.size();) {
    ssize_t n = pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(at + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::IOError(Errno("writing " + path));
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace

std::string LogStore::SegmentPath(uint64_t seq) const {
  char name[32];
  snprintf(name, sizeof(name), "%020llu.seg", static_cast<unsigned long long>(seq));
  return options_.dir + "/" + name;
}

Result<std::unique_ptr<LogStore>> LogStore::Open(const LogStoreOptions& options) {
  std::unique_ptr<LogStore> ls(new LogStore(options));
  if (Status s = MakeDirsDurably(options.dir); !s.ok()) return s;
  std::vector<uint64_t> seqs;
  std::error_code ec;
  for (const auto& de : std::filesystem::directory_iterator(options.dir, ec)) {
    const std::string name = de.path().filename().string();
    if (name.size() != 24 || name.substr(20) != ".seg") continue;
    if (name.find_first_not_of("0123456789") != 20) continue;
    seqs.push_back(std::stoull(name.substr(0, 20)));
  }
  if (ec) return Status::IOError("listing " + options.dir + ": " + ec.message());
  std::sort(seqs.begin(), seqs.end());
  for (size_t i = 0; i < seqs.size(); ++i) {
    if (Status s = ls->Scan(seqs[i], i + 1 == seqs.size()); !s.ok()) return s;
  }
  // Appends go to a segment of their own: the scanned ones stay as they are.
  if (Status s = ls->StartSegment(seqs.empty() ? 1 : seqs.back() + 1); !s.ok()) return s;
  return ls;
}

LogStore::~LogStore() {
  for (auto& [seq, seg] : segments_) {
    if (seg.fd >= 0) close(seg.fd);
  }
}

Status LogStore::Scan(uint64_t seq, bool last) {
  const std::string path = SegmentPath(seq);
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return Status::IOError(Errno("opening " + path));
  Segment& seg = segments_[seq];
  seg.fd = fd;
  struct stat st;
  if (fstat(fd, &st) != 0) return Status::IOError(Errno("stat " + path));
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  std::string data(file_size, '\0');
  for (uint64_t done = 0; done < file_size;) {
    ssize_t n = pread(fd, data.data() + done, file_size - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::IOError(Errno("reading " + path));
    done += static_cast<uint64_t>(n);
  }
  uint64_t pos = 0;
  while (pos < file_size) {
    std::string_view rest = std::string_view(data).substr(pos);
    bool good = rest.size() >= kHeader;
    uint32_t len = 0;
    if (good) {
      len = ReadU32(rest.substr(4));
      good = len <= kMaxPayload && rest.size() - kHeader >= len &&
             ReadU32(rest) == Crc(rest.substr(4, kHeader - 4 + len));
    }
    if (!good) break;
    const uint16_t group_field = GetU16(rest.substr(8));
    const bool copy = (group_field & kCopyFlag) != 0;
    const int group = group_field & ~kCopyFlag;
    const uint64_t generation = GetU64(rest.substr(10));
    const uint64_t index = GetU64(rest.substr(18));
    GroupLog& log = LogOf(group, generation);
    const Loc loc{seq, static_cast<uint32_t>(pos), static_cast<uint32_t>(kHeader + len)};
    pos += kHeader + len;
    if (copy && index >= log.first && index < log.first + log.locs.size()) {
      // Relocate's copy of an entry held already: it takes the old copy's place, and the
      // entries after it stay (the copies after it may not have reached the disk). A copy
      // below the first entry held goes the ordinary way: the originals it copies are gone,
      // which CollectGarbage did only once every copy of the run was synced.
      Unref(log.locs[index - log.first]);
      log.locs[index - log.first] = loc;
      Ref(loc);
      continue;
    }
    if (!log.locs.empty() && index > log.first + log.locs.size()) {
      // A gap: the owner compacted past the log's last entry (Attach or Compact beyond it:
      // a compaction point or applied index that outlived the log's tail in a power cut) and
      // the log went on from there. What is before the gap is below that compaction point;
      // if it is not, Attach finds the entries missing.
      DropAll(log);
    }
    TruncateFrom(log, index);
    if (log.locs.empty()) log.first = index;
    Push(log, loc);
  }
  seg.size = pos;
  if (pos == file_size) return Status::Ok();
  if (!last) {
    return Status::Corruption(path + ": bad record at offset " + std::to_string(pos) +
                              " of a segment that was closed whole");
  }
  // The zeros written ahead of the appends (Sync), or a torn tail (a crash in the middle of a
  // write): cut, so that appends never follow it.
  if (data.find_first_not_of('\0', pos) != std::string::npos) {
    LOG_WARNING("%s: cut a torn tail of %llu bytes at offset %llu", path.c_str(),
                static_cast<unsigned long long>(file_size - pos),
                static_cast<unsigned long long>(pos));
  }
  if (ftruncate(fd, static_cast<off_t>(pos)) != 0 || fdatasync(fd) != 0) {
    return Status::IOError(Errno("cutting " + path));
  }
  return Status::Ok();
}

Status LogStore::StartSegment(uint64_t seq) {
  const std::string path = SegmentPath(seq);
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError(Errno("creating " + path));
  segments_[seq].fd = fd;
  active_ = seq;
  buffer_at_ = 0;
  zeroed_to_ = 0;
  // Its name durable before any record in it is relied on.
  return SyncDir(options_.dir);
}

LogStore::GroupLog& LogStore::LogOf(int group, uint64_t generation) {
  uint64_t& highest = highest_generation_[group];
  highest = std::max(highest, generation);
  auto it = groups_.find(group);
  if (it != groups_.end()) return it->second;
  GroupLog& log = unattached_[{group, generation}];
  log.generation = generation;
  return log;
}

void LogStore::Push(GroupLog& log, const Loc& loc) {
  log.locs.push_back(loc);
  Ref(loc);
}

void LogStore::Ref(const Loc& loc) {
  Segment& seg = segments_[loc.segment];
  ++seg.live_refs;
  seg.live_bytes += loc.length;
}

void LogStore::Unref(const Loc& loc) {
  Segment& seg = segments_[loc.segment];
  --seg.live_refs;
  seg.live_bytes -= loc.length;
}

void LogStore::TruncateFrom(GroupLog& log, uint64_t index) {
  while (!log.locs.empty() && log.first + log.locs.size() > index) {
    Unref(log.locs.back());
    log.locs.pop_back();
  }
}

void LogStore::DropAll(GroupLog& log) {
  for (const Loc& loc : log.locs) Unref(loc);
  log.locs.clear();
}

uint64_t LogStore::HighestGeneration(int group) const {
  auto it = highest_generation_.find(group);
  return it == highest_generation_.end() ? 0 : it->second;
}

Result<uint64_t> LogStore::Attach(int group, uint64_t generation, uint64_t compacted) {
  highest_generation_[group] = std::max(highest_generation_[group], generation);
  if (auto it = groups_.find(group); it != groups_.end()) {
    DropAll(it->second);
    groups_.erase(it);
  }
  GroupLog log;
  log.generation = generation;
  for (auto it = unattached_.lower_bound({group, 0});
       it != unattached_.end() && it->first.first == group;) {
    if (it->first.second == generation) {
      log = std::move(it->second);
    } else {
      DropAll(it->second);
    }
    it = unattached_.erase(it);
  }
  GroupLog& g = groups_[group] = std::move(log);
  if (!g.locs.empty() && g.first > compacted + 1) {
    const std::string missing = std::to_string(compacted + 1) + ".." + std::to_string(g.first - 1);
    DropAll(g);
    return Status::Corruption("group " + std::to_string(group) + ": log entries " + missing +
                              " are missing from " + options_.dir);
  }
  if (g.locs.empty()) g.first = compacted + 1;
  Compact(group, compacted);
  return LastIndex(group);
}

void LogStore::ForgetUnattached() {
  for (auto& [key, log] : unattached_) DropAll(log);
  unattached_.clear();
}

void LogStore::AddRecord(int group, uint64_t generation, uint64_t index,
                         std::string_view payload, bool copy) {
  const size_t start = buffer_.size();
  buffer_.append(4, '\0');
  PutU32(&buffer_, static_cast<uint32_t>(payload.size()));
  PutU16(&buffer_, static_cast<uint16_t>(group) | (copy ? kCopyFlag : uint16_t{0}));
  PutU64(&buffer_, generation);
  PutU64(&buffer_, index);
  buffer_.append(payload);
  const uint32_t crc = Crc(std::string_view(buffer_).substr(start + 4));
  std::string c;
  PutU32(&c, crc);
  buffer_.replace(start, 4, c);
  GroupLog& log = groups_[group];
  Push(log, Loc{active_, static_cast<uint32_t>(buffer_at_ + start),
                static_cast<uint32_t>(buffer_.size() - start)});
}

void LogStore::Append(int group, const std::vector<raft::Entry>& entries) {
  if (entries.empty()) return;
  GroupLog& log = groups_[group];
  TruncateFrom(log, entries.front().index);
  if (log.locs.empty()) log.first = entries.front().index;
  std::string payload;
  for (const auto& e : entries) {
    payload.clear();
    raft::EncodeEntry(e, &payload);
    AddRecord(group, log.generation, e.index, payload);
  }
}

void LogStore::Reset(int group, uint64_t generation, uint64_t index) {
  GroupLog& log = groups_[group];
  DropAll(log);
  log.generation = generation;
  highest_generation_[group] = std::max(highest_generation_[group], generation);
  log.first = index + 1;
}

void LogStore::Compact(int group, uint64_t index) {
  GroupLog& log = groups_[group];
  while (!log.locs.empty() && log.first <= index) {
    Unref(log.locs.front());
    log.locs.pop_front();
    ++log.first;
  }
  if (log.locs.empty()) log.first = std::max(log.first, index + 1);
}

Status LogStore::Sync(bool durable) {
  Segment& seg = segments_[active_];
  if (!buffer_.empty()) {
    // Zeros ahead of the records, a MiB at a time: an fdatasync then writes the file's size
    // (its inode, one more I/O on the file system's metadata) once per MiB, not every time.
    const uint64_t end = buffer_at_ + buffer_.size();
    if (end > zeroed_to_) {
      static const std::string kZeros(kZeroAhead, '\0');
      const uint64_t to = (end / kZeroAhead + 1) * kZeroAhead;
      for (uint64_t at = std::max(zeroed_to_, end); at < to;) {
        const uint64_t n = std::min<uint64_t>(to - at, kZeros.size());
        Status s = WriteAll(seg.fd, std::string_view(kZeros).substr(0, n), at, SegmentPath(active_));
        if (!s.ok()) return s;
        at += n;
      }
      zeroed_to_ = to;
    }
    Status s = WriteAll(seg.fd, buffer_, buffer_at_, SegmentPath(active_));
    if (!s.ok()) return s;
    buffer_at_ += buffer_.size();
    seg.size = buffer_at_;
    buffer_.clear();
  }
  if (durable && fdatasync(seg.fd) != 0) return Status::IOError(Errno("syncing " + SegmentPath(active_)));
  if (seg.size < options_.segment_bytes) return Status::Ok();
  // Closed whole (its zeros cut, synced) before the next begins: only the newest segment can
  // be torn.
  if (ftruncate(seg.fd, static_cast<off_t>(seg.size)) != 0 || fdatasync(seg.fd) != 0) {
    return Status::IOError(Errno("closing " + SegmentPath(active_)));
  }
  return StartSegment(active_ + 1);
}

Status LogStore::ReadRecord(const Loc& loc, std::string* out) const {
  out->resize(loc.length);
  if (loc.segment == active_ && loc.offset >= buffer_at_) {
    out->assign(buffer_, loc.offset - buffer_at_, loc.length);
    return Status::Ok();
  }
  auto it = segments_.find(loc.segment);
  const std::string path = SegmentPath(loc.segment);
  if (it == segments_.end()) return Status::IOError(path + " is gone");
  for (size_t done = 0; done < loc.length;) {
    ssize_t n = pread(it->second.fd, out->data() + done, loc.length - done,
                      static_cast<off_t>(loc.offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::IOError(Errno("reading " + path));
    done += static_cast<size_t>(n);
  }
  // Checked again: the disk may have changed it since Open.
  if (ReadU32(*out) != Crc(std::string_view(*out).substr(4))) {
    return Status::Corruption(path + ": bad record at offset " + std::to_string(loc.offset));
  }
  return Status::Ok();
}

Result<raft::Entry> LogStore::Read(int group, uint64_t index) const {
  auto it = groups_.find(group);
  if (it == groups_.end()) return Status::NotFound("no log of group " + std::to_string(group));
  const GroupLog& log = it->second;
  if (index < log.first || index >= log.first + log.locs.size()) {
    return Status::NotFound("entry " + std::to_string(index) + " not in the log");
  }
  std::string rec;
  if (Status s = ReadRecord(log.locs[index - log.first], &rec); !s.ok()) return s;
  return raft::DecodeEntry(std::string_view(rec).substr(kHeader));
}

uint64_t LogStore::FirstIndex(int group) const {
  auto it = groups_.find(group);
  return it == groups_.end() ? 1 : it->second.first;
}

uint64_t LogStore::LastIndex(int group) const {
  auto it = groups_.find(group);
  return it == groups_.end() ? 0 : it->second.first + it->second.locs.size() - 1;
}

size_t LogStore::garbage_segments() const {
  size_t n = 0;
  for (const auto& [seq, seg] : segments_) {
    if (seq == active_ || seg.live_refs > 0) break;
    ++n;
  }
  return n;
}

Result<size_t> LogStore::Relocate(uint64_t max_live_bytes) {
  // A group whose live log is over the bound (one entry of --raft-entry-max-bytes is enough)
  // and that stays idle would keep every segment forever: it is rewritten all the same once
  // the segments hold twice as many dead bytes as it takes, so that what is kept stays
  // bounded by the live bytes and about three times the largest such log.
  uint64_t dead = 0;
  for (const auto& [s, seg] : segments_) dead += seg.size - std::min(seg.size, seg.live_bytes);
  max_live_bytes = std::max(max_live_bytes, dead / 2);
  auto oldest = segments_.begin();
  if (oldest == segments_.end() || oldest->first == active_ || oldest->second.live_refs == 0 ||
      oldest->second.live_bytes > max_live_bytes) {
    return size_t{0};
  }
  const uint64_t seq = oldest->first;
  // The groups with entries in it, and what rewriting their whole logs writes.
  std::vector<int> pinning;
  uint64_t need = 0;
  for (const auto& [group, log] : groups_) {
    // Usually a group's first entry is in its oldest segment (appends go to the newest), but
    // not after a relocation cut short by a crash: its first entries are then copies in a
    // newer segment, the rest still where they were (Scan).
    if (std::none_of(log.locs.begin(), log.locs.end(),
                     [seq](const Loc& loc) { return loc.segment == seq; })) {
      continue;
    }
    pinning.push_back(group);
    for (const Loc& loc : log.locs) need += loc.length;
  }
  if (need > max_live_bytes) return size_t{0};
  size_t moved = 0;
  std::string rec;
  for (int group : pinning) {
    GroupLog& log = groups_[group];
    // The whole live log again, from its first entry, as copies (each replaces one entry).
    std::vector<std::string> payloads;
    for (const Loc& loc : log.locs) {
      if (Status s = ReadRecord(loc, &rec); !s.ok()) return s;
      payloads.push_back(rec.substr(kHeader));
    }
    const uint64_t first = log.first;
    DropAll(log);
    for (size_t i = 0; i < payloads.size(); ++i) {
      AddRecord(group, log.generation, first + i, payloads[i], /*copy=*/true);
    }
    moved += payloads.size();
  }
  return moved;
}

Status LogStore::CollectGarbage() {
  while (!segments_.empty()) {
    auto it = segments_.begin();
    if (it->first == active_ || it->second.live_refs > 0) break;
    const std::string path = SegmentPath(it->first);
    close(it->second.fd);
    segments_.erase(it);
    if (unlink(path.c_str()) != 0 && errno != ENOENT) return Status::IOError(Errno("removing " + path));
    // Each deletion durable before the next: a crash must not bring back an older segment
    // without the newer one whose records superseded some of its entries.
    Status s = SyncDir(options_.dir);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace flin::cluster

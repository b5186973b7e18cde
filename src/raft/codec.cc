#include "raft/codec.h"

#include <cstdint>

namespace flin::raft {

namespace {

void PutVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void PutBytes(std::string_view b, std::string* out) {
  PutVarint(b.size(), out);
  out->append(b);
}

// A cursor over untrusted input. Every Get* fails (returns false) rather than read past the
// end; the first failure makes the whole decode fail.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  size_t remaining() const { return in_.size(); }
  bool done() const { return in_.empty(); }

  bool GetVarint(uint64_t* v) {
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in_.empty()) return false;
      const uint8_t b = static_cast<uint8_t>(in_[0]);
      in_.remove_prefix(1);
      if (shift == 63 && b > 1) return false;  // overflows 64 bits
      result |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        *v = result;
        return true;
      }
    }
    return false;  // more than 10 bytes
  }
  bool GetByte(uint8_t* b) {
    if (in_.empty()) return false;
    *b = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool GetBytes(std::string* out) {
    uint64_t n;
    if (!GetVarint(&n) || n > in_.size()) return false;  // capped by what is left
    out->assign(in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  // A count of items each at least min_size bytes long: bounded by the remaining input.
  bool GetCount(uint64_t* n, size_t min_size) {
    return GetVarint(n) && *n <= in_.size() / min_size;
  }

 private:
  std::string_view in_;
};

Status Malformed(const char* what) { return Status::Corruption(std::string("malformed ") + what); }

void PutEntry(const Entry& e, std::string* out) {
  PutVarint(e.term, out);
  PutVarint(e.index, out);
  out->push_back(static_cast<char>(e.type));
  PutBytes(e.data, out);
}

bool GetEntry(Reader& r, Entry* e) {
  uint8_t type;
  if (!r.GetVarint(&e->term) || !r.GetVarint(&e->index) || !r.GetByte(&type)) return false;
  if (type > static_cast<uint8_t>(EntryType::kConfChange)) return false;
  e->type = static_cast<EntryType>(type);
  return r.GetBytes(&e->data);
}

void PutIds(const std::vector<NodeId>& ids, std::string* out) {
  PutVarint(ids.size(), out);
  for (NodeId id : ids) PutVarint(id, out);
}

bool GetIds(Reader& r, std::vector<NodeId>* ids) {
  uint64_t n;
  if (!r.GetCount(&n, 1)) return false;
  ids->resize(n);
  for (auto& id : *ids) {
    if (!r.GetVarint(&id)) return false;
  }
  return true;
}

void PutMeta(const SnapshotMeta& m, std::string* out) {
  PutVarint(m.index, out);
  PutVarint(m.term, out);
  PutIds(m.conf_state.voters, out);
  PutIds(m.conf_state.learners, out);
}

bool GetMeta(Reader& r, SnapshotMeta* m) {
  return r.GetVarint(&m->index) && r.GetVarint(&m->term) && GetIds(r, &m->conf_state.voters) &&
         GetIds(r, &m->conf_state.learners);
}

// Presence bits of the optional Message fields.
enum : uint64_t {
  kHasTerm = 1 << 0,
  kHasLogTerm = 1 << 1,
  kHasIndex = 1 << 2,
  kHasCommit = 1 << 3,
  kHasRejectHint = 1 << 4,
  kHasTick = 1 << 5,
  kHasReadSeq = 1 << 6,
  kHasOffset = 1 << 7,
  kReject = 1 << 8,
  kForce = 1 << 9,
  kDone = 1 << 10,
  kHasEntries = 1 << 11,
  kHasSnapshot = 1 << 12,
  kHasChunk = 1 << 13,
  // Added after the first release: a peer of an older version drops a message carrying them
  // (only a recovering replica and its leader send them).
  kHasRunId = 1 << 14,
  kHasRecoverTo = 1 << 15,
  kUnanimous = 1 << 16,  // only a replica accepting data loss, or one answering it, sends it
  kAllBits = (1 << 17) - 1,
};

struct IntField {
  uint64_t bit;
  uint64_t Message::*field;
};
constexpr IntField kIntFields[] = {
    {kHasTerm, &Message::term},           {kHasLogTerm, &Message::log_term},
    {kHasIndex, &Message::index},         {kHasCommit, &Message::commit},
    {kHasRejectHint, &Message::reject_hint}, {kHasTick, &Message::tick},
    {kHasReadSeq, &Message::read_seq},    {kHasOffset, &Message::offset},
    {kHasRunId, &Message::run_id},        {kHasRecoverTo, &Message::recover_to},
};

}  // namespace

void EncodeMessage(const Message& m, std::string* out) {
  uint64_t bits = 0;
  for (const IntField& f : kIntFields) {
    if (m.*f.field != 0) bits |= f.bit;
  }
  if (m.reject) bits |= kReject;
  if (m.force) bits |= kForce;
  if (m.unanimous) bits |= kUnanimous;
  if (m.done) bits |= kDone;
  if (!m.entries.empty()) bits |= kHasEntries;
  if (!(m.snapshot == SnapshotMeta{})) bits |= kHasSnapshot;
  if (!m.chunk.empty()) bits |= kHasChunk;
  out->push_back(static_cast<char>(m.type));
  PutVarint(m.from, out);
  PutVarint(m.to, out);
  PutVarint(bits, out);
  for (const IntField& f : kIntFields) {
    if (bits & f.bit) PutVarint(m.*f.field, out);
  }
  if (bits & kHasEntries) {
    PutVarint(m.entries.size(), out);
    for (const Entry& e : m.entries) PutEntry(e, out);
  }
  if (bits & kHasSnapshot) PutMeta(m.snapshot, out);
  if (bits & kHasChunk) PutBytes(m.chunk, out);
}

Result<Message> DecodeMessage(std::string_view in) {
  Reader r(in);
  Message m;
  uint8_t type;
  uint64_t bits;
  if (!r.GetByte(&type) || type >= kNumMessageTypes) return Malformed("message type");
  m.type = static_cast<MessageType>(type);
  if (!r.GetVarint(&m.from) || !r.GetVarint(&m.to) || !r.GetVarint(&bits)) {
    return Malformed("message header");
  }
  if (bits & ~static_cast<uint64_t>(kAllBits)) return Malformed("message flags");
  for (const IntField& f : kIntFields) {
    if ((bits & f.bit) && !r.GetVarint(&(m.*f.field))) return Malformed("message field");
  }
  m.reject = bits & kReject;
  m.force = bits & kForce;
  m.unanimous = bits & kUnanimous;
  m.done = bits & kDone;
  if (bits & kHasEntries) {
    uint64_t n;
    // An entry takes at least 4 bytes (term, index, type, data length).
    if (!r.GetCount(&n, 4)) return Malformed("entry count");
    m.entries.resize(n);
    for (Entry& e : m.entries) {
      if (!GetEntry(r, &e)) return Malformed("entry");
    }
  }
  if ((bits & kHasSnapshot) && !GetMeta(r, &m.snapshot)) return Malformed("snapshot metadata");
  if ((bits & kHasChunk) && !r.GetBytes(&m.chunk)) return Malformed("snapshot chunk");
  if (!r.done()) return Malformed("message (trailing bytes)");
  return m;
}

void EncodeEntry(const Entry& e, std::string* out) { PutEntry(e, out); }

Result<Entry> DecodeEntry(std::string_view in) {
  Reader r(in);
  Entry e;
  if (!GetEntry(r, &e) || !r.done()) return Malformed("entry");
  return e;
}

void EncodeHardState(const HardState& hs, std::string* out) {
  PutVarint(hs.term, out);
  PutVarint(hs.vote, out);
  PutVarint(hs.commit, out);
}

Result<HardState> DecodeHardState(std::string_view in) {
  Reader r(in);
  HardState hs;
  if (!r.GetVarint(&hs.term) || !r.GetVarint(&hs.vote) || !r.GetVarint(&hs.commit) ||
      !r.done()) {
    return Malformed("hard state");
  }
  return hs;
}

void EncodeConfState(const ConfState& cs, std::string* out) {
  PutIds(cs.voters, out);
  PutIds(cs.learners, out);
}

Result<ConfState> DecodeConfState(std::string_view in) {
  Reader r(in);
  ConfState cs;
  if (!GetIds(r, &cs.voters) || !GetIds(r, &cs.learners) || !r.done()) {
    return Malformed("conf state");
  }
  return cs;
}

void EncodeSnapshotMeta(const SnapshotMeta& meta, std::string* out) { PutMeta(meta, out); }

Result<SnapshotMeta> DecodeSnapshotMeta(std::string_view in) {
  Reader r(in);
  SnapshotMeta m;
  if (!GetMeta(r, &m) || !r.done()) return Malformed("snapshot metadata");
  return m;
}

std::string EncodeConfChange(const ConfChange& cc) {
  std::string out;
  out.push_back(static_cast<char>(cc.type));
  PutVarint(cc.node, &out);
  return out;
}

Result<ConfChange> DecodeConfChange(std::string_view in) {
  Reader r(in);
  ConfChange cc;
  uint8_t type;
  if (!r.GetByte(&type) || type > static_cast<uint8_t>(ConfChangeType::kPromoteLearner) ||
      !r.GetVarint(&cc.node) || !r.done()) {
    return Malformed("conf change");
  }
  cc.type = static_cast<ConfChangeType>(type);
  return cc;
}

}  // namespace flin::raft

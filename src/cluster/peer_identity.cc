#include "cluster/peer_identity.h"

#include <random>
#include <tuple>

#include "common/log.h"
#include "common/strings.h"
#include "storage/encoding.h"

namespace flin::cluster {
namespace {

std::string MetaKey(const std::string& name) { return std::string(1, storage::kMetaPrefix) + name; }
constexpr char kIncarnation[] = "incarnation";
constexpr char kUnresolved[] = "identity_unresolved";
// Present once this data directory's memory of its peers began after a loss (PeerIdentity.h).
constexpr char kPartialMemory[] = "identity_partial_memory";
constexpr char kHardStateKind = 'h';  // GroupStorage's hard state keys: 'h' | group
constexpr char kPeerAddress[] = "peer_address/";
std::string PeerKey(uint64_t peer) { return "peer_incarnation/" + std::to_string(peer); }
std::string AddressKey(uint64_t peer) { return kPeerAddress + std::to_string(peer); }

bool ParseU64(const std::string& s, uint64_t* out) {
  int64_t v = 0;
  if (!ParseInt64(s, &v)) return false;
  *out = static_cast<uint64_t>(v);
  return true;
}

}  // namespace

uint64_t PeerIdentity::RandomId() {
  std::random_device rd;
  std::mt19937_64 rng((static_cast<uint64_t>(rd()) << 32) ^ rd());
  uint64_t v = 0;
  while (v == 0) v = rng() >> 1;
  return v;
}

Status PeerIdentity::Put(const std::string& name, const std::string& value) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  rocksdb::Status s = store_->db()->Put(wo, MetaKey(name), value);
  return s.ok() ? Status::Ok() : Status::IOError("persisting " + name + ": " + s.ToString());
}

Result<std::unique_ptr<PeerIdentity>> PeerIdentity::Open(storage::Store* store, size_t nodes) {
  std::unique_ptr<PeerIdentity> id(new PeerIdentity(store));
  id->nodes_ = nodes;
  rocksdb::DB* db = store->db();
  std::string v;
  if (db->Get(rocksdb::ReadOptions(), MetaKey(kIncarnation), &v).ok()) {
    if (!ParseU64(v, &id->incarnation_)) return Status::Corruption("incarnation " + v);
  } else {
    // Fresh unless it holds Raft state (a data directory from before incarnations were kept,
    // which gets one now). Unresolved is recorded first.
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    it->Seek(std::string(1, kHardStateKind));
    if (!(it->Valid() && it->key().size() > 0 && it->key()[0] == kHardStateKind)) {
      Status s = id->Put(kUnresolved, "1");
      if (!s.ok()) return s;
    }
    id->incarnation_ = RandomId();
    Status s = id->Put(kIncarnation, std::to_string(id->incarnation_));
    if (!s.ok()) return s;
  }
  if (db->Get(rocksdb::ReadOptions(), MetaKey(kUnresolved), &v).ok()) {
    id->verdict_ = nodes <= 1 ? Verdict::kNew : Verdict::kUnresolved;
  }
  id->partial_memory_ = db->Get(rocksdb::ReadOptions(), MetaKey(kPartialMemory), &v).ok();
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  const std::string prefix = MetaKey("peer_incarnation/");
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    uint64_t peer = 0, inc = 0;
    const std::string value = it->value().ToString();
    const size_t colon = value.find(':');
    if (!ParseU64(it->key().ToString().substr(prefix.size()), &peer) ||
        colon == std::string::npos || !ParseU64(value.substr(0, colon), &inc)) {
      return Status::Corruption("peer incarnation " + it->key().ToString());
    }
    id->known_[peer] = {inc, value.substr(colon + 1) == "1"};
  }
  const std::string where = MetaKey(kPeerAddress);
  for (it->Seek(where); it->Valid() && it->key().starts_with(where); it->Next()) {
    uint64_t peer = 0;
    if (ParseU64(it->key().ToString().substr(where.size()), &peer)) {
      id->addresses_[peer] = it->value().ToString();
    }
  }
  return id;
}

void PeerIdentity::RememberAddress(uint64_t peer, const std::string& address) {
  rocksdb::WriteOptions wo;
  const std::string key = MetaKey(AddressKey(peer));
  rocksdb::Status s = address.empty() ? store_->db()->Delete(wo, key)
                                      : store_->db()->Put(wo, key, address);
  if (!s.ok()) {
    LOG_WARNING("cannot remember where node %llu is: %s", static_cast<unsigned long long>(peer),
                s.ToString().c_str());
  }
}

std::pair<uint64_t, bool> PeerIdentity::MemoryOf(uint64_t peer) {
  std::lock_guard<std::mutex> lock(mu_);
  return MemoryOfLocked(peer);
}

std::pair<uint64_t, bool> PeerIdentity::MemoryOfLocked(uint64_t peer) const {
  auto it = known_.find(peer);
  return it == known_.end() ? std::make_pair(uint64_t{0}, false) : it->second;
}

void PeerIdentity::FillHandshake(uint64_t peer, Handshake* h) {
  std::lock_guard<std::mutex> lock(mu_);
  std::tie(h->known_of_receiver, h->receiver_replaced) = MemoryOfLocked(peer);
  h->incarnation = incarnation_;
  h->sender_cannot_vouch = verdict_ == Verdict::kUnresolved || partial_memory_;
}

Result<bool> PeerIdentity::OnHandshake(uint64_t peer, const Handshake& h) {
  bool changed = false, was_known = false;
  std::string record;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& [inc, replaced] = known_[peer];
    if (h.incarnation != 0 && inc != h.incarnation) {
      was_known = inc != 0;
      if (was_known) {
        LOG_WARNING("node %llu runs on a new data directory (incarnation %llu, was %llu): it "
                    "lost its Raft state and rejoins as a recovering replica",
                    static_cast<unsigned long long>(peer),
                    static_cast<unsigned long long>(h.incarnation),
                    static_cast<unsigned long long>(inc));
      }
      inc = h.incarnation;
      replaced = was_known;
      changed = true;
      record = std::to_string(inc) + (replaced ? ":1" : ":0");
    }
    if (verdict_ == Verdict::kUnresolved) {
      Status s = Weigh(peer, h);
      if (!s.ok()) return s;
    }
  }
  // Outside the lock (the raft thread reads the verdict every round): one synced write per
  // peer and incarnation.
  if (changed) {
    Status s = Put(PeerKey(peer), record);
    if (!s.ok()) return s;
  }
  return was_known;
}

Status PeerIdentity::Weigh(uint64_t peer, const Handshake& h) {
  if ((h.known_of_receiver != 0 && h.known_of_receiver != incarnation_) ||
      (h.known_of_receiver == incarnation_ && h.receiver_replaced)) {
    LOG_WARNING("node %llu knew this node with another data directory: this node lost its Raft "
                "state and rejoins recovering (no votes until each partition has caught up)",
                static_cast<unsigned long long>(peer));
    // Before the verdict, which the raft thread may settle at once: a crash in between must
    // not leave a resolved replacement that vouches.
    Status s = MarkPartialMemory();
    if (!s.ok()) return s;
    verdict_ = Verdict::kReplacement;
    return Status::Ok();
  }
  met_as_new_[peer] = !h.sender_cannot_vouch;
  size_t resolved = 0;
  for (const auto& [id, was_resolved] : met_as_new_) resolved += was_resolved;
  if (resolved + 1 >= nodes_ / 2 + 1 || met_as_new_.size() + 1 >= nodes_) {
    LOG_NOTICE("a new member of the cluster (no peer knew this node before)");
    verdict_ = Verdict::kNew;
  }
  return Status::Ok();
}

Status PeerIdentity::MarkPartialMemory() {
  if (partial_memory_) return Status::Ok();
  Status s = Put(kPartialMemory, "1");
  if (s.ok()) partial_memory_ = true;
  return s;
}

PeerIdentity::Verdict PeerIdentity::verdict() const { return verdict_.load(); }

Status PeerIdentity::Reincarnate() {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t old = incarnation_;
  // Its memory of its peers is as old as the copy: peers it met since are forgotten.
  Status s = MarkPartialMemory();
  if (!s.ok()) return s;
  do {
    incarnation_ = RandomId();
  } while (incarnation_ == old);
  return Put(kIncarnation, std::to_string(incarnation_));
}

Status PeerIdentity::Settle() {
  std::lock_guard<std::mutex> lock(mu_);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  rocksdb::Status s = store_->db()->Delete(wo, MetaKey(kUnresolved));
  if (!s.ok()) return Status::IOError("settling the node's identity: " + s.ToString());
  verdict_ = Verdict::kResolved;
  return Status::Ok();
}

}  // namespace flin::cluster

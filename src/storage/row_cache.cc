#include "storage/row_cache.h"

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"

namespace flin::storage {

// The key's bytes and then the value's share one allocation: a hit reads the entry and one
// block after it, instead of three scattered blocks (entry, key, value: each a cache miss
// under a random read load, where the cache is far larger than the CPU's).
struct RowCache::Entry {
  std::string bytes;  // key, then raw value
  size_t hash = 0;    // HashOf(key())
  uint32_t key_size = 0;
  bool present = false;
  bool referenced = false;  // read since it last passed the eviction hand (second chance)
  int writing = 0;          // writes begun and not ended: hidden from lookups meanwhile
  Entry* prev = nullptr;    // the stripe's list: newest after the head, eviction from the tail
  Entry* next = nullptr;

  Entry() = default;
  Entry(std::string_view key, size_t key_hash) : hash(key_hash) {
    bytes.assign(key);
    key_size = static_cast<uint32_t>(key.size());
  }
  std::string_view key() const { return std::string_view(bytes).substr(0, key_size); }
  std::string_view raw() const { return std::string_view(bytes).substr(key_size); }
  void SetRaw(std::string_view raw) {
    bytes.resize(key_size);
    bytes.append(raw);
  }
  size_t Charge() const { return bytes.size() + kEntryOverhead; }
};

namespace {
// One hash per key for both the stripe (its top byte) and the stripe's table (absl uses the
// low bits for its control bytes, which a stripe's keys therefore do not share).
size_t HashOf(std::string_view key) { return absl::Hash<std::string_view>{}(key); }

// The table holds the entries themselves, found by key: an entry's key moves when its value
// is replaced (one buffer), so the table cannot keep a view of it.
using EntryPtr = std::unique_ptr<RowCache::Entry>;
struct EntryHash {
  using is_transparent = void;
  size_t operator()(std::string_view key) const { return HashOf(key); }
  size_t operator()(const EntryPtr& e) const { return e->hash; }
};
struct EntryEq {
  using is_transparent = void;
  static std::string_view Key(std::string_view key) { return key; }
  static std::string_view Key(const EntryPtr& e) { return e->key(); }
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return Key(a) == Key(b);
  }
};
}  // namespace

struct alignas(64) RowCache::Stripe {
  std::mutex mu;
  // An open-addressing table: a lookup touches its control bytes and one slot, not a chain of
  // nodes (the node-based map cost 8% of GET).
  absl::flat_hash_set<EntryPtr, EntryHash, EntryEq> map;
  Entry head;  // sentinel of the circular list
  size_t bytes = 0;
  uint64_t version = 0;  // bumped by every BeginWrite and EndWrite touching this stripe
  int in_flight = 0;     // writes begun and not yet ended
  uint64_t hits = 0, misses = 0;

  Stripe() { head.prev = head.next = &head; }

  void Unlink(Entry* e) {
    e->prev->next = e->next;
    e->next->prev = e->prev;
  }
  void PushFront(Entry* e) {
    e->next = head.next;
    e->prev = &head;
    head.next->prev = e;
    head.next = e;
  }
  // `hash` is HashOf(key): computed once for the stripe and the table.
  Entry* Find(std::string_view key, size_t hash) {
    auto it = map.find(key, hash);
    return it == map.end() ? nullptr : it->get();
  }
  // Takes in a new entry, newest in the list.
  Entry* Add(EntryPtr e) {
    Entry* raw = e.get();
    bytes += raw->Charge();
    PushFront(raw);
    map.insert(std::move(e));
    return raw;
  }
  void Erase(Entry* e) {
    auto it = map.find(e->key(), e->hash);
    if (it == map.end()) return;
    Unlink(e);
    bytes -= e->Charge();
    map.erase(it);
  }
  // Evicts from the tail until within `limit` (CLOCK): an entry read since the hand last
  // passed gets a second chance at the front instead, as does one a write has pinned
  // (hidden); `keep` is never evicted. A hit only sets a flag, so reads do not relink the
  // list (touching two other entries' memory each).
  void Evict(size_t limit, const Entry* keep) {
    for (size_t passed = 0; bytes > limit && head.prev != &head && head.prev != keep;) {
      Entry* e = head.prev;
      if (e->writing == 0 && !e->referenced) {
        Erase(e);
      } else if (++passed > 2 * map.size()) {  // every flag cleared once, the rest pinned
        break;
      } else {
        e->referenced = false;
        Unlink(e);
        PushFront(e);
      }
    }
  }
  void Clear() {
    map.clear();
    head.prev = head.next = &head;
    bytes = 0;
  }
};

RowCache::RowCache(size_t capacity_bytes)
    : capacity_(capacity_bytes), stripes_(new Stripe[kStripes]) {}

RowCache::~RowCache() = default;

int RowCache::StripeOf(size_t hash) {
  static_assert(kStripes == 256, "the stripe is the hash's top byte");
  return static_cast<int>(hash >> (8 * sizeof(size_t) - 8));
}

RowCache::Hit RowCache::Lookup(std::string_view key, std::string* raw, Ticket* ticket) {
  if (!enabled()) {
    *ticket = Ticket{};
    return Hit::kMiss;
  }
  const size_t hash = HashOf(key);
  const int i = StripeOf(hash);
  Stripe& s = stripes_[i];
  std::lock_guard<std::mutex> lock(s.mu);
  Entry* e = s.Find(key, hash);
  if (e == nullptr || e->writing > 0) {
    ++s.misses;
    *ticket = Ticket{i, s.version, s.in_flight == 0};
    return Hit::kMiss;
  }
  ++s.hits;
  e->referenced = true;
  if (!e->present) return Hit::kAbsent;
  raw->assign(e->raw());
  return Hit::kValue;
}

void RowCache::Fill(std::string_view key, const std::string* raw, const Ticket& ticket) {
  if (!ticket.may_fill) return;
  const size_t limit = capacity_ / kStripes;
  const size_t hash = HashOf(key);
  auto e = std::make_unique<Entry>(key, hash);
  e->present = raw != nullptr;
  if (raw != nullptr) e->SetRaw(*raw);
  if (e->Charge() > limit) return;
  Stripe& s = stripes_[ticket.stripe];
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.version != ticket.version) return;  // a write began or ended since the miss
  if (Entry* old = s.Find(key, hash)) s.Erase(old);  // another reader's fill of the same answer
  s.Evict(limit, s.Add(std::move(e)));
}

void RowCache::MarkAll(int delta) {
  for (int i = 0; i < kStripes; ++i) {
    Stripe& s = stripes_[i];
    std::lock_guard<std::mutex> lock(s.mu);
    s.in_flight += delta;
    ++s.version;
    if (delta > 0) s.Clear();
  }
}

void RowCache::BeginWrite(const WriteSet& w) {
  if (!enabled() || w.empty()) return;
  if (w.all_) return MarkAll(+1);
  const size_t limit = capacity_ / kStripes;
  w.pins_.resize(w.ops_.size());
  // One stripe at a time; every occurrence of a key counts (EndWrite undoes each).
  for (size_t i = 0; i < w.ops_.size(); ++i) {
    const auto& op = w.ops_[i];
    const size_t hash = HashOf(op.key);
    const int stripe = StripeOf(hash);
    Stripe& s = stripes_[stripe];
    std::lock_guard<std::mutex> lock(s.mu);
    ++s.in_flight;
    ++s.version;
    Entry* e = s.Find(op.key, hash);
    if (e == nullptr && op.admit &&
        s.bytes + op.key.size() + op.raw.size() + kEntryOverhead <= limit) {
      // Room to spare: a hidden entry that EndWrite fills, so that freshly loaded data is
      // cached without evicting anything.
      e = s.Add(std::make_unique<Entry>(op.key, hash));
    }
    if (e != nullptr) ++e->writing;  // pinned: nothing erases it until its EndWrite
    w.pins_[i] = WriteSet::Pin{stripe, e};
  }
}

void RowCache::EndWrite(const WriteSet& w, bool written) {
  if (!enabled() || w.empty()) return;
  if (w.all_) return MarkAll(-1);
  const size_t limit = capacity_ / kStripes;
  // In order, so that the last write of a key in the batch is the one left. An entry stays
  // hidden until the batch's last write of its key has ended.
  for (size_t i = 0; i < w.ops_.size(); ++i) {
    const auto& op = w.ops_[i];
    Stripe& s = stripes_[w.pins_[i].stripe];
    std::lock_guard<std::mutex> lock(s.mu);
    --s.in_flight;
    ++s.version;
    Entry* e = w.pins_[i].entry;
    if (e == nullptr) continue;
    --e->writing;
    if (!written) {
      if (e->writing == 0) s.Erase(e);
      continue;
    }
    s.bytes -= e->Charge();
    e->present = op.present;
    e->SetRaw(op.raw);
    s.bytes += e->Charge();
    if (s.bytes <= limit) continue;
    s.Evict(limit, e);
    if (s.bytes > limit && e->writing == 0) s.Erase(e);  // too big for its stripe alone
  }
  w.pins_.clear();
}

RowCache::Stats RowCache::GetStats() const {
  Stats st;
  for (int i = 0; i < kStripes; ++i) {
    Stripe& s = stripes_[i];
    std::lock_guard<std::mutex> lock(s.mu);
    st.hits += s.hits;
    st.misses += s.misses;
    st.entries += s.map.size();
    st.bytes += s.bytes;
  }
  return st;
}

}  // namespace flin::storage

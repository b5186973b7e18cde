#pragma once
// What the hash, set and list families share (hash_family.cc, set_family.cc,
// list_family.cc). Each keeps a key's elements in one value (storage/hash_payload.h, where a
// set's values are empty; storage/list_payload.h), so they read, write, draw random elements
// and scan alike:
//   - ReadCollection: the payload of a key of one type, WRONGTYPE for another (hashes, sets
//     and lists: storage/list_payload.h);
//   - CountCmd: HLEN, SCARD, LLEN;
//   - LoadCollection / StoreCollection / StoreEncoded: a write's decode and write-back (the
//     key deleted with its last element, with Redis's "del" event), within the size bound;
//   - PickRng: random picks that are the same on every replica when applied from the log;
//   - ParseScanOptions / ScanWalk: HSCAN's and SSCAN's MATCH/COUNT and their cursor walk;
//   - KeysAfterNumKeys: the keys of SINTERCARD and LMPOP; CollectionSpec: their specs.
//
// Templates over the context (CommandContext on an I/O thread, ApplyContext on the apply
// thread); stateless, so thread-safe as the contexts they are given.

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "common/crc64.h"
#include "common/strings.h"
#include "server/command.h"
#include "server/keyspace.h"
#include "storage/hash_payload.h"
#include "storage/list_payload.h"

namespace flin::server {

// The bound of a hash, set or list: Redis has none; Flin bounds its one value as it bounds a
// string (kMaxStringBytes, at apply).
inline std::string ErrCollectionTooBig(storage::ValueType type) {
  return "ERR " + std::string(TypeName(type)) +
         " exceeds the maximum size of a value (proto-max-bulk-len)";
}
inline std::string ErrCollectionDamaged(storage::ValueType type) {
  return "ERR the stored " + std::string(TypeName(type)) + " is damaged";
}

// The payload of the `type` value at `key`, undecoded: false if absent (the caller answers)
// or of another type (wrong_type set: WRONGTYPE is the answer).
template <typename Ctx>
bool ReadCollectionPayload(Ctx& ctx, std::string_view key, storage::ValueType type,
                           std::string* payload) {
  storage::ValueType found;
  if (!ReadValue(ctx, key, &found, payload, nullptr)) return false;
  if (found == type) return true;
  ctx.wrong_type = true;
  return false;
}

// Decodes what Flin stored (unique by construction: no uniqueness check for a hash or set).
inline bool ParseStored(storage::HashFields* h, std::string_view payload) {
  return h->Parse(payload, /*check_unique=*/false);
}
inline bool ParseStored(storage::ListElements* l, std::string_view payload) {
  return l->Parse(payload);
}

// The same, decoded (a HashFields, or a ListElements): false if absent or of another type
// (as above), or damaged (answered here, *damaged set).
template <typename Ctx, typename Decoded>
bool ReadCollection(Ctx& ctx, std::string_view key, storage::ValueType type,
                    std::string* payload, Decoded* h, bool* damaged) {
  *damaged = false;
  if (!ReadCollectionPayload(ctx, key, type, payload)) return false;
  if (!ParseStored(h, *payload)) {
    *damaged = true;
    ctx.out.Error(ErrCollectionDamaged(type));
    return false;
  }
  return true;
}

// HLEN, SCARD, LLEN: the count a payload declares (`count`: HashFields::Count or
// ListElements::Count), 0 for a missing key.
template <typename Ctx>
void CountCmd(Ctx& ctx, storage::ValueType type, bool (*count)(std::string_view, uint64_t*)) {
  std::string payload;
  uint64_t n = 0;
  if (ReadCollectionPayload(ctx, ctx.args[1], type, &payload) && !count(payload, &n)) {
    return ctx.out.Error(ErrCollectionDamaged(type));
  }
  ctx.out.Integer(static_cast<int64_t>(n));
}

inline std::string_view EmptyPayload(const storage::HashFields*) {
  return storage::kEmptyHashPayload;
}
inline std::string_view EmptyPayload(const storage::ListElements*) {
  return storage::kEmptyListPayload;
}

// The `type` value at `key` for a write (decoded into a HashFields or a ListElements), with
// its expiry (which every hash, set and list write keeps, as Redis). false if the key holds
// another type (wrong_type: nothing will be written) or a damaged value (answered here); an
// absent key is an empty collection (*found false).
template <typename Decoded>
bool LoadCollection(ApplyContext& ctx, std::string_view key, storage::ValueType type,
                    std::string* payload, Decoded* h, int64_t* expire_at,
                    bool* found = nullptr) {
  storage::ValueType stored = type;
  *expire_at = 0;
  const bool present = ctx.GetValue(key, &stored, payload, expire_at);
  if (found != nullptr) *found = present;
  if (!present) {
    ParseStored(h, EmptyPayload(h));
    return true;
  }
  if (stored != type) {
    ctx.wrong_type = true;
    return false;
  }
  if (!ParseStored(h, *payload)) {
    ctx.out.Error(ErrCollectionDamaged(type));
    return false;
  }
  return true;
}

// `encoded` (of a collection of `size` elements) written back, or the key deleted once it is
// empty (with "del", as Redis raises). false (answered) if it is past the bound.
bool StoreEncoded(ApplyContext& ctx, std::string_view key, storage::ValueType type,
                  std::string_view encoded, uint64_t size, int64_t expire_at);

// Encodes a non-empty collection for PutValue: false (answered) if it is past the bound.
template <typename Decoded>
bool EncodeCollection(ApplyContext& ctx, storage::ValueType type, const Decoded& h,
                      std::string* encoded) {
  h.Encode(encoded);
  if (static_cast<int64_t>(encoded->size()) <= kMaxStringBytes) return true;
  ctx.out.Error(ErrCollectionTooBig(type));
  return false;
}

// Writes the changed collection back, or deletes the key once its last element is gone.
template <typename Decoded>
bool StoreCollection(ApplyContext& ctx, std::string_view key, storage::ValueType type,
                     const Decoded& h, int64_t expire_at) {
  std::string encoded;
  if (!h.empty()) h.Encode(&encoded);
  return StoreEncoded(ctx, key, type, encoded, h.size(), expire_at);
}

// The generator of a command's random picks (HRANDFIELD, SRANDMEMBER, SPOP). Applied from the
// log (a write, a script's redis.call, a read in MULTI or behind writes), the picks are the
// same on every replica: drawn from the entry itself (its time, the command and the value),
// so that what a script writes from them leaves the replicas equal; the draw's number in the
// entry is part of it, so that like draws in one script differ. On an I/O thread they are
// random. Callers draw as rng() % n, whose results the standard fixes (a distribution's
// are the library's own).
template <typename Ctx>
std::mt19937_64 PickRng(const Ctx& ctx, std::string_view payload) {
  std::mt19937_64 rng;
  if constexpr (std::is_same_v<Ctx, ApplyContext>) {
    uint64_t seed = Crc64(static_cast<uint64_t>(ctx.now_ms), payload);
    for (std::string_view a : ctx.args) seed = Crc64(seed, a);
    const uint64_t draw = ctx.NextDraw();
    seed = Crc64(seed, std::string_view(reinterpret_cast<const char*>(&draw), sizeof draw));
    rng.seed(seed);
  } else {
    thread_local std::mt19937_64 random(std::random_device{}());
    rng.seed(random());
  }
  return rng;
}

// The keys of a command that counts them first (SINTERCARD, LMPOP: numkeys key ...), for
// CommandSpec::key_positions: none if numkeys is not a positive count of the arguments left
// (the handler answers the error).
inline std::vector<size_t> KeysAfterNumKeys(Args args) {
  std::vector<size_t> keys;
  int64_t n;
  if (args.size() < 2 || !ParseInt64(args[1], &n) || n < 1 ||
      n > static_cast<int64_t>(args.size()) - 2) {
    return keys;
  }
  for (int64_t i = 0; i < n; ++i) keys.push_back(static_cast<size_t>(2 + i));
  return keys;
}

// Redis 7.0's texts for a count out of its range: a signed one (getRangeLongFromObjectOrReply
// with -LONG_MAX), and one that must not be negative (getPositiveLongFromObjectOrReply).
inline constexpr std::string_view kErrCountOutOfRange =
    "ERR value is out of range, value must between -9223372036854775807 and "
    "9223372036854775807";
inline constexpr std::string_view kErrNotPositive = "ERR value is out of range, must be positive";

// HRANDFIELD's and SRANDMEMBER's picks among n elements (n > 0), drawn from `rng` as rng() % m:
// for count >= 0 distinct positions, a random sample (all, in order, if count >= n); for a
// negative count, -count positions with repeats. The caller bounds -count by
// kMaxRandomPicks (ErrTooManyPicks): one request must not make the server build an
// unbounded reply (Redis 7.0 tries, and hangs).
inline constexpr int64_t kMaxRandomPicks = 1 << 24;
std::vector<size_t> RandomPicks(std::mt19937_64& rng, size_t n, int64_t count);
std::string ErrTooManyPicks(std::string_view command);

// HSCAN's and SSCAN's options after the cursor: MATCH pattern, COUNT n (>= 1). Redis reads
// them only for a key it found. false (answered) if they are bad.
struct ScanOptions {
  std::string_view pattern;
  bool match = false;  // a pattern other than "*"
  int64_t count = 10;
};
template <typename Ctx>
bool ParseScanOptions(Ctx& ctx, size_t first, ScanOptions* o) {
  for (size_t i = first; i < ctx.args.size(); i += 2) {
    const std::string opt = ToLower(ctx.args[i]);
    if (i + 1 >= ctx.args.size()) return ctx.out.Error(kErrSyntax), false;
    if (opt == "match") {
      o->pattern = ctx.args[i + 1];
      o->match = o->pattern != "*";
    } else if (opt == "count") {
      if (!ParseInt64(ctx.args[i + 1], &o->count)) return ctx.out.Error(kErrNotInteger), false;
      if (o->count < 1) return ctx.out.Error(kErrSyntax), false;
    } else {
      return ctx.out.Error(kErrSyntax), false;
    }
  }
  return true;
}

// One step of a scan over a collection's elements. A small one (`whole`: what Redis keeps in
// a listpack or an intset) is answered whole, with cursor 0, as Redis answers those. A larger
// one is walked in the order of its elements' CRC64s, the cursor being where the walk
// stopped: an element present from the first call to the last is returned once, whatever is
// added or removed meanwhile (Redis's guarantee), and every node computes the same order.
// Keeps in *elements the step's ones matching `o`, and returns the next cursor.
template <typename E, typename Name>
uint64_t ScanWalk(std::vector<E>* elements, Name name, bool whole, uint64_t cursor,
                  const ScanOptions& o) {
  uint64_t next = 0;
  if (!whole) {
    std::vector<std::pair<uint64_t, E>> walk;
    walk.reserve(elements->size());
    for (E& e : *elements) walk.emplace_back(Crc64(0, name(e)), std::move(e));
    const auto by_order = [](const auto& a, const auto& b) { return a.first < b.first; };
    std::sort(walk.begin(), walk.end(), by_order);
    auto it = std::lower_bound(walk.begin(), walk.end(), cursor,
                               [](const auto& a, uint64_t c) { return a.first < c; });
    walk.erase(walk.begin(), it);
    // COUNT elements, and any more of the last one's CRC (a cursor cannot stop between them).
    size_t take = std::min(walk.size(), static_cast<size_t>(o.count));
    while (take > 0 && take < walk.size() && walk[take].first == walk[take - 1].first) ++take;
    if (take < walk.size()) next = walk[take - 1].first + 1;  // (never 0: more follow)
    walk.resize(take);
    elements->clear();
    for (auto& [order, e] : walk) elements->push_back(std::move(e));
  }
  if (o.match) {
    std::erase_if(*elements, [&](const E& e) { return !GlobMatch(o.pattern, name(e)); });
  }
  return next;
}

// The spec of a command of these families: keys from args[1] to args[last_key] (a negative
// last_key counts from the end), documented as `group` with its Redis version and cost.
CommandSpec CollectionSpec(std::string group, std::string name, int arity, uint32_t flags,
                           Handler h, ApplyFn a, std::string summary, std::string since,
                           std::string complexity, int last_key = 1);

// A read's two functions: on an I/O thread, and applied from the log.
#define FLIN_READ(fn) fn<CommandContext>, fn<ApplyContext>

}  // namespace flin::server

// Set commands: SADD SREM SCARD SISMEMBER SMISMEMBER SMEMBERS SPOP SRANDMEMBER SMOVE SINTER
// SINTERCARD SINTERSTORE SUNION SUNIONSTORE SDIFF SDIFFSTORE SSCAN, with Redis 7.0's replies,
// errors and events.
//
// A set is one value with a hash's layout and empty values (storage/hash_payload.h): its
// members in insertion order, flagged kHashtable once it is no longer what Redis keeps in an
// intset. Like a hash, a write decodes, changes and writes it back, so it costs time in the
// set's size (docs/DESIGN.md, "Sets"). A set that fits an intset is answered in ascending
// order of its integers, as Redis answers an intset; so is the result of SINTER, SUNION or
// SDIFF that would fit one. Other orders are unspecified, as in Redis. A set whose last member
// goes is deleted.

#include <algorithm>
#include <deque>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "server/collection.h"

namespace flin::server {
namespace {

using storage::HashFields;
using storage::ValueType;

constexpr ValueType kType = ValueType::kSet;

// Members for a reply: in ascending order of their integers if they could be an intset.
void OrderForReply(std::vector<std::string_view>* members) {
  if (members->size() > storage::kIntsetMaxEntries) return;
  std::vector<std::pair<int64_t, std::string_view>> ints;
  ints.reserve(members->size());
  for (std::string_view m : *members) {
    int64_t v;
    if (!ParseInt64(m, &v)) return;
    ints.emplace_back(v, m);
  }
  std::sort(ints.begin(), ints.end());
  for (size_t i = 0; i < ints.size(); ++i) (*members)[i] = ints[i].second;
}

std::vector<std::string_view> Members(const HashFields& h) {
  std::vector<std::string_view> out;
  out.reserve(h.size());
  h.ForEach([&out](std::string_view m, std::string_view) { out.push_back(m); });
  return out;
}

template <typename Ctx>
void ReplyMembers(Ctx& ctx, std::vector<std::string_view> members, bool as_set) {
  OrderForReply(&members);
  as_set ? ctx.out.SetHeader(members.size()) : ctx.out.ArrayHeader(members.size());
  for (std::string_view m : members) ctx.out.Bulk(m);
}

// Adds a member to a set being changed; true if it is new. A member that is not an integer
// makes it a hashtable (HashFields::Set flags the count and long members).
bool AddMember(HashFields* h, std::string_view m) {
  if (!storage::IntsetMember(m)) h->set_hashtable(true);
  return h->Set(m, {});
}

// ---- reads (templates: on an I/O thread, or applied from the log) ----

template <typename Ctx>
void SCardCmd(Ctx& ctx) {
  CountCmd(ctx, kType, HashFields::Count);
}

// SISMEMBER (one member: a walk of the payload) and SMISMEMBER (through a decoded set).
template <typename Ctx>
void SIsMemberCmd(Ctx& ctx) {
  std::string payload;
  const bool found = ReadCollectionPayload(ctx, ctx.args[1], kType, &payload);
  if (ctx.wrong_type) return;
  const bool many = ToLower(ctx.args[0]) == "smismember";
  HashFields h;
  if (found && many && !h.Parse(payload, /*check_unique=*/false)) {
    return ctx.out.Error(ErrCollectionDamaged(kType));
  }
  std::vector<bool> in(ctx.args.size() - 2, false);
  for (size_t i = 0; found && i < in.size(); ++i) {
    std::string_view unused;
    if (many) {
      in[i] = h.Find(ctx.args[2 + i]) != nullptr;
      continue;
    }
    const auto lookup = HashFields::Find(payload, ctx.args[2 + i], &unused);
    if (lookup == HashFields::Lookup::kMalformed) {
      return ctx.out.Error(ErrCollectionDamaged(kType));
    }
    in[i] = lookup == HashFields::Lookup::kFound;
  }
  if (many) ctx.out.ArrayHeader(in.size());
  for (bool b : in) ctx.out.Integer(b);
}

template <typename Ctx>
void SMembersCmd(Ctx& ctx) {
  std::string payload;
  HashFields h;
  bool damaged;
  ReadCollection(ctx, ctx.args[1], kType, &payload, &h, &damaged);
  if (damaged || ctx.wrong_type) return;
  ReplyMembers(ctx, Members(h), /*as_set=*/true);
}

// The count of SRANDMEMBER and SPOP: args[2] if given (*with_count). false (answered) if bad.
template <typename Ctx>
bool ParseCount(Ctx& ctx, bool pop, int64_t* count, bool* with_count) {
  *with_count = ctx.args.size() >= 3;
  if (!*with_count) return true;
  if (ctx.args.size() > 3) return ctx.out.Error(kErrSyntax), false;
  // (SPOP: any count that is not a non-negative integer is "out of range", as in Redis 7.0.)
  if (!ParseInt64(ctx.args[2], count)) {
    return ctx.out.Error(pop ? kErrNotPositive : kErrNotInteger), false;
  }
  if (pop && *count < 0) return ctx.out.Error(kErrNotPositive), false;
  if (!pop && *count == INT64_MIN) return ctx.out.Error(kErrCountOutOfRange), false;
  return true;
}

// SRANDMEMBER key [count]: distinct members for a positive count, -count picks with repeats
// for a negative one.
template <typename Ctx>
void SRandMemberCmd(Ctx& ctx) {
  int64_t count = 0;
  bool with_count;
  if (!ParseCount(ctx, /*pop=*/false, &count, &with_count)) return;
  std::string payload;
  HashFields h;
  bool damaged;
  if (!ReadCollection(ctx, ctx.args[1], kType, &payload, &h, &damaged)) {
    if (!damaged && !ctx.wrong_type) with_count ? ctx.out.ArrayHeader(0) : ctx.out.Null();
    return;
  }
  const std::vector<std::string_view> all = Members(h);
  std::mt19937_64 rng = PickRng(ctx, payload);
  if (!with_count) return ctx.out.Bulk(all[rng() % all.size()]);
  if (count < -kMaxRandomPicks) return ctx.out.Error(ErrTooManyPicks("SRANDMEMBER"));
  std::vector<std::string_view> out;
  for (size_t p : RandomPicks(rng, all.size(), count)) out.push_back(all[p]);
  if (count >= 0 && out.size() == all.size()) {
    return ReplyMembers(ctx, std::move(out), /*as_set=*/false);
  }
  ctx.out.ArrayHeader(out.size());
  for (std::string_view m : out) ctx.out.Bulk(m);
}

// The sets at args[first, first + n), read as of one state of the store (a missing one
// raises "keymiss", for the *STORE commands too, as in Redis 7.0), into *sets, one per
// argument; a key named again is read once and shared (a key named a thousand times must not
// be copied a thousand times). false if one holds another type (wrong_type) or is damaged
// (answered). A missing key is an empty set.
struct SetRead {
  std::string payload;
  HashFields h;
  bool found = false;
};
struct SetReads {
  std::deque<SetRead> distinct;  // (a deque: each HashFields views its payload in place)
  std::vector<const SetRead*> sets;
};
template <typename Ctx>
bool ReadSets(Ctx& ctx, size_t first, size_t n, SetReads* out) {
  MultiKeyRead whole(ctx, n);
  absl::flat_hash_map<std::string_view, const SetRead*> by_name;
  for (size_t i = 0; i < n; ++i) {
    const std::string_view key = ctx.args[first + i];
    auto it = by_name.find(key);
    if (it != by_name.end() && it->second->found) {
      out->sets.push_back(it->second);
      continue;
    }
    SetRead& s = out->distinct.emplace_back();
    bool damaged;
    s.found = ReadCollection(ctx, key, kType, &s.payload, &s.h, &damaged);  // (a miss again)
    if (damaged) return false;
    by_name.emplace(key, &s);
    out->sets.push_back(&s);
  }
  return !ctx.wrong_type;
}

enum class SetOp { kInter, kUnion, kDiff };

// The members of the sets' intersection (at most `limit` of them; 0: all), union or
// difference (the first set's members in none of the others).
std::vector<std::string_view> Combine(SetOp op, const std::vector<const SetRead*>& sets,
                                      size_t limit = 0) {
  std::vector<std::string_view> out;
  const auto in_others = [&](std::string_view m, size_t skip, bool all) {
    for (size_t j = 0; j < sets.size(); ++j) {
      if (j == skip || !sets[j]->found) continue;
      if ((sets[j]->h.Find(m) != nullptr) != all) return !all;
    }
    return all;
  };
  if (op == SetOp::kUnion) {
    absl::flat_hash_set<std::string_view> seen;
    for (const SetRead* s : sets) {
      s->h.ForEach([&](std::string_view m, std::string_view) {
        if (seen.insert(m).second) out.push_back(m);
      });
    }
  } else if (op == SetOp::kDiff) {
    if (!sets[0]->found) return out;
    sets[0]->h.ForEach([&](std::string_view m, std::string_view) {
      if (!in_others(m, 0, /*all=*/false)) out.push_back(m);
    });
  } else {
    size_t smallest = 0;
    for (size_t j = 0; j < sets.size(); ++j) {
      if (!sets[j]->found) return out;
      if (sets[j]->h.size() < sets[smallest]->h.size()) smallest = j;
    }
    for (std::string_view m : Members(sets[smallest]->h)) {
      if (limit != 0 && out.size() == limit) break;
      if (in_others(m, smallest, /*all=*/true)) out.push_back(m);
    }
  }
  return out;
}

SetOp OpOf(std::string_view name) {
  const std::string n = ToLower(name);
  return n.starts_with("sinter") ? SetOp::kInter
         : n.starts_with("sunion") ? SetOp::kUnion
                                   : SetOp::kDiff;
}

// SINTER, SUNION, SDIFF key [key ...].
template <typename Ctx>
void SCombineCmd(Ctx& ctx) {
  SetReads read;
  if (!ReadSets(ctx, 1, ctx.args.size() - 1, &read)) return;
  ReplyMembers(ctx, Combine(OpOf(ctx.args[0]), read.sets), /*as_set=*/true);
}

// SINTERCARD numkeys key [key ...] [LIMIT limit]: the arguments first, then the keys.
std::string SInterCardError(Args args, int64_t* numkeys, int64_t* limit) {
  constexpr std::string_view kBadNumKeys = "ERR numkeys should be greater than 0";
  if (!ParseInt64(args[1], numkeys) || *numkeys < 1) return std::string(kBadNumKeys);
  if (*numkeys > static_cast<int64_t>(args.size()) - 2) {
    return "ERR Number of keys can't be greater than number of args";
  }
  *limit = 0;
  for (size_t i = 2 + static_cast<size_t>(*numkeys); i < args.size(); ++i) {
    if (ToLower(args[i]) != "limit" || i + 1 >= args.size()) return std::string(kErrSyntax);
    if (!ParseInt64(args[++i], limit) || *limit < 0) return "ERR LIMIT can't be negative";
  }
  return "";
}

template <typename Ctx>
void SInterCardCmd(Ctx& ctx) {
  int64_t numkeys, limit;
  const std::string err = SInterCardError(ctx.args, &numkeys, &limit);
  if (!err.empty()) return ctx.out.Error(err);
  SetReads read;
  if (!ReadSets(ctx, 2, static_cast<size_t>(numkeys), &read)) return;
  ctx.out.Integer(
      static_cast<int64_t>(Combine(SetOp::kInter, read.sets, static_cast<size_t>(limit)).size()));
}

// SSCAN key cursor [MATCH pattern] [COUNT count]: collection.h's ScanWalk, an intset-sized
// set answered whole, in ascending order.
template <typename Ctx>
void SScanCmd(Ctx& ctx) {
  uint64_t cursor;
  if (!ParseScanCursor(ctx.args[2], &cursor)) return ctx.out.Error("ERR invalid cursor");
  std::string payload;
  HashFields h;
  bool damaged;
  const bool found = ReadCollection(ctx, ctx.args[1], kType, &payload, &h, &damaged);
  if (damaged || ctx.wrong_type) return;
  ScanOptions o;
  if (found && !ParseScanOptions(ctx, 3, &o)) return;
  std::vector<std::string_view> out = Members(h);
  if (!h.hashtable()) OrderForReply(&out);
  const uint64_t next =
      ScanWalk(&out, [](std::string_view m) { return m; }, !h.hashtable(), cursor, o);
  ctx.out.ArrayHeader(2);
  ctx.out.Bulk(std::to_string(next));
  ctx.out.ArrayHeader(out.size());
  for (std::string_view m : out) ctx.out.Bulk(m);
}

// ---- writes ----

void ProposeKey1(CommandContext& ctx) { ctx.Propose(ctx.Partition(ctx.args[1])); }

void SAddApply(ApplyContext& ctx) {
  std::string payload;
  HashFields h;
  int64_t expire_at;
  if (!LoadCollection(ctx, ctx.args[1], kType, &payload, &h, &expire_at)) return;
  int64_t added = 0;
  for (size_t i = 2; i < ctx.args.size(); ++i) added += AddMember(&h, ctx.args[i]);
  if (added > 0) {  // (nothing new: the key is not touched, as in Redis)
    if (!StoreCollection(ctx, ctx.args[1], kType, h, expire_at)) return;
    ctx.Notify(kNotifySet, "sadd", ctx.args[1]);
  }
  ctx.out.Integer(added);
}

void SRemApply(ApplyContext& ctx) {
  std::string payload;
  HashFields h;
  int64_t expire_at;
  if (!LoadCollection(ctx, ctx.args[1], kType, &payload, &h, &expire_at)) return;
  int64_t removed = 0;
  for (size_t i = 2; i < ctx.args.size(); ++i) removed += h.Erase(ctx.args[i]);
  if (removed > 0) {
    ctx.Notify(kNotifySet, "srem", ctx.args[1]);  // before the key's "del", as Redis
    StoreCollection(ctx, ctx.args[1], kType, h, expire_at);  // (smaller: within the bound)
  }
  ctx.out.Integer(removed);
}

void SPopCheck(CommandContext& ctx) {
  int64_t count;
  bool with_count;
  if (ParseCount(ctx, /*pop=*/true, &count, &with_count)) ProposeKey1(ctx);
}

// SPOP key [count]: random members removed, drawn from the entry (the same on every replica).
void SPopApply(ApplyContext& ctx) {
  int64_t count = 1;
  bool with_count;
  if (!ParseCount(ctx, /*pop=*/true, &count, &with_count)) return;
  std::string payload;
  HashFields h;
  int64_t expire_at;
  if (!LoadCollection(ctx, ctx.args[1], kType, &payload, &h, &expire_at)) return;
  if (h.empty() || count == 0) return with_count ? ctx.out.SetHeader(0) : ctx.out.Null();
  const std::vector<std::string_view> all = Members(h);
  std::mt19937_64 rng = PickRng(ctx, payload);
  std::vector<std::string_view> popped;
  for (size_t p : RandomPicks(rng, all.size(), count)) {
    popped.push_back(all[p]);
    h.Erase(all[p]);
  }
  // Redis 7.0 pops most of a set (what stays at most a fifth of the count) by building a new
  // set of what stays: an intset whenever it can be one.
  const uint64_t stays = all.size() - popped.size();
  if (stays > 0 && stays * 5 <= static_cast<uint64_t>(count)) {
    h.set_hashtable(!storage::IntsetFits(h));
  }
  ctx.Notify(kNotifySet, "spop", ctx.args[1]);
  StoreCollection(ctx, ctx.args[1], kType, h, expire_at);  // (smaller: within the bound)
  if (!with_count) return ctx.out.Bulk(popped[0]);
  ReplyMembers(ctx, std::move(popped), /*as_set=*/true);
}

// SMOVE source destination member, with Redis's order of checks: a missing source answers 0
// whatever the destination holds; then both types; then source == destination.
void SMoveApply(ApplyContext& ctx) {
  const std::string_view src = ctx.args[1], dst = ctx.args[2], member = ctx.args[3];
  std::string src_payload, dst_payload;
  HashFields from, to;
  int64_t src_expire = 0, dst_expire = 0;
  bool found;
  if (!LoadCollection(ctx, src, kType, &src_payload, &from, &src_expire, &found)) return;
  if (!found) return ctx.out.Integer(0);
  if (!LoadCollection(ctx, dst, kType, &dst_payload, &to, &dst_expire)) return;
  if (src == dst) return ctx.out.Integer(from.Find(member) != nullptr);
  if (!from.Erase(member)) return ctx.out.Integer(0);
  const bool added = AddMember(&to, member);
  std::string encoded;  // the destination checked against the bound before anything is written
  if (!EncodeCollection(ctx, kType, to, &encoded)) return;
  ctx.Notify(kNotifySet, "srem", src);
  StoreCollection(ctx, src, kType, from, src_expire);
  if (added) {
    ctx.PutValue(dst, kType, encoded, dst_expire);
    ctx.Notify(kNotifySet, "sadd", dst);
  }
  ctx.out.Integer(1);
}

// SINTERSTORE, SUNIONSTORE, SDIFFSTORE destination key [key ...]: the result replaces the
// destination, whatever it held, without its expiry; an empty result deletes it.
void SCombineStoreApply(ApplyContext& ctx) {
  SetReads read;
  if (!ReadSets(ctx, 2, ctx.args.size() - 2, &read)) return;
  const std::vector<std::string_view> result = Combine(OpOf(ctx.args[0]), read.sets);
  const std::string_view dst = ctx.args[1];
  if (result.empty()) {
    if (ctx.Exists(dst)) {
      ctx.Delete(dst);
      ctx.Notify(kNotifyGeneric, "del", dst);
    }
    return ctx.out.Integer(0);
  }
  HashFields h;
  h.Parse(storage::kEmptyHashPayload);
  for (std::string_view m : result) AddMember(&h, m);
  std::string encoded;
  if (!EncodeCollection(ctx, kType, h, &encoded)) return;
  ctx.PutValue(dst, kType, encoded, 0);
  const SetOp op = OpOf(ctx.args[0]);
  ctx.Notify(kNotifySet,
             op == SetOp::kInter ? "sinterstore" : op == SetOp::kUnion ? "sunionstore" : "sdiffstore",
             dst);
  ctx.out.Integer(static_cast<int64_t>(h.size()));
}

template <typename... A>
CommandSpec Spec(A&&... a) {
  return CollectionSpec("set", std::forward<A>(a)...);
}

constexpr uint32_t kRead = kCmdReadOnly, kWrite = kCmdWrite;

}  // namespace

void RegisterSetFamily(CommandTable* t) {
  t->Add(Spec("sadd", -3, kWrite | kCmdFast, ProposeKey1, SAddApply,
              "Adds one or more members to a set. Creates the key if it doesn't exist.", "1.0.0",
              "O(1) for each element added, so O(N) to add N elements when the command is "
              "called with multiple arguments."));
  t->Add(Spec("srem", -3, kWrite | kCmdFast, ProposeKey1, SRemApply,
              "Removes one or more members from a set. Deletes the set if the last member was "
              "removed.",
              "1.0.0", "O(N) where N is the number of members to be removed."));
  t->Add(Spec("spop", -2, kWrite | kCmdFast, SPopCheck, SPopApply,
              "Returns one or more random members from a set after removing them. Deletes the "
              "set if the last member was popped.",
              "1.0.0", "Without the count argument O(1), otherwise O(N) where N is the value "
              "of the passed count."));
  t->Add(Spec("smove", 4, kWrite | kCmdFast, ProposeKey1, SMoveApply,
              "Moves a member from one set to another.", "1.0.0", "O(1)", 2));
  for (const char* name : {"sinterstore", "sunionstore", "sdiffstore"}) {
    t->Add(Spec(name, -3, kWrite, ProposeKey1, SCombineStoreApply,
                std::string("Stores the ") +
                    (name[1] == 'i' ? "intersect" : name[1] == 'u' ? "union" : "difference") +
                    " of multiple sets in a key.",
                "1.0.0", "O(N) where N is the total number of elements in all given sets.",
                -1));
  }
  t->Add(Spec("scard", 2, kRead | kCmdFast, FLIN_READ(SCardCmd),
              "Returns the number of members in a set.", "1.0.0", "O(1)"));
  t->Add(Spec("sismember", 3, kRead | kCmdFast, FLIN_READ(SIsMemberCmd),
              "Determines whether a member belongs to a set.", "1.0.0", "O(1)"));
  t->Add(Spec("smismember", -3, kRead | kCmdFast, FLIN_READ(SIsMemberCmd),
              "Determines whether multiple members belong to a set.", "6.2.0",
              "O(N) where N is the number of elements being checked for membership"));
  t->Add(Spec("smembers", 2, kRead, FLIN_READ(SMembersCmd), "Returns all members of a set.",
              "1.0.0", "O(N) where N is the set cardinality."));
  t->Add(Spec("srandmember", -2, kRead, FLIN_READ(SRandMemberCmd),
              "Get one or multiple random members from a set", "1.0.0",
              "Without the count argument O(1), otherwise O(N) where N is the absolute value "
              "of the passed count."));
  t->Add(Spec("sinter", -2, kRead, FLIN_READ(SCombineCmd),
              "Returns the intersect of multiple sets.", "1.0.0",
              "O(N*M) worst case where N is the cardinality of the smallest set and M is the "
              "number of sets.",
              -1));
  t->Add(Spec("sunion", -2, kRead, FLIN_READ(SCombineCmd), "Returns the union of multiple sets.",
              "1.0.0", "O(N) where N is the total number of elements in all given sets.", -1));
  t->Add(Spec("sdiff", -2, kRead, FLIN_READ(SCombineCmd),
              "Returns the difference of multiple sets.", "1.0.0",
              "O(N) where N is the total number of elements in all given sets.", -1));
  CommandSpec card = Spec("sintercard", -3, kRead, FLIN_READ(SInterCardCmd),
                          "Returns the number of members of the intersect of multiple sets.",
                          "7.0.0",
                          "O(N*M) worst case where N is the cardinality of the smallest set and "
                          "M is the number of sets.");
  card.first_key = card.last_key = card.step = 0;
  card.key_positions = KeysAfterNumKeys;
  t->Add(std::move(card));
  t->Add(Spec("sscan", -3, kRead, FLIN_READ(SScanCmd), "Iterates over members of a set.",
              "2.8.0", "O(1) for every call. O(N) for a complete iteration."));
}

}  // namespace flin::server

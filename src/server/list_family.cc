// List commands: LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LINDEX LSET LRANGE LREM LTRIM
// LINSERT LPOS LMOVE RPOPLPUSH LMPOP, with Redis 7.0's replies, errors and events. The
// blocking forms (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP) are not implemented: they answer
// "unknown command".
//
// A list is one value (storage/list_payload.h), written whole on every replica, so a write
// costs time in the list's length. Pushes, pops, LMOVE, LINDEX and LRANGE work on the stored
// bytes (copied or walked, not decoded); LSET, LREM, LTRIM, LINSERT and LPOS decode the list
// (docs/DESIGN.md, "Lists"). A list whose last element goes is deleted, as in Redis.

#include <algorithm>

#include "server/collection.h"

namespace flin::server {
namespace {

using storage::ListElements;
using storage::ValueType;

constexpr ValueType kType = ValueType::kList;

template <typename Ctx>
bool ReadList(Ctx& ctx, std::string_view key, std::string* payload, ListElements* list,
              bool* damaged) {
  return ReadCollection(ctx, key, kType, payload, list, damaged);
}

// An index from the head (>= 0) or the tail (< 0) as a position, or -1 if out of range.
int64_t Position(int64_t index, size_t size) {
  const auto n = static_cast<int64_t>(size);
  if (index < 0) index += n;
  return index >= 0 && index < n ? index : -1;
}

// LRANGE's and LTRIM's range [start, stop] as positions [*from, *to); empty if *from >= *to.
void Range(int64_t start, int64_t stop, size_t size, size_t* from, size_t* to) {
  const auto n = static_cast<int64_t>(size);
  if (start < 0) start += n;
  if (stop < 0) stop += n;
  if (start < 0) start = 0;
  if (start > stop || start >= n) {
    *from = *to = 0;
    return;
  }
  if (stop >= n) stop = n - 1;
  *from = static_cast<size_t>(start);
  *to = static_cast<size_t>(stop) + 1;
}

// ---- reads (templates: on an I/O thread, or applied from the log) ----

template <typename Ctx>
void LLenCmd(Ctx& ctx) {
  CountCmd(ctx, kType, ListElements::Count);
}

// The elements at positions [from, to) of a list payload, where `range` gives them from its
// length (which the payload's header tells), walked no further than `to` (LINDEX and LRANGE
// near the head of a long list cost what they return). false if it is damaged (answered).
template <typename Ctx, typename RangeOf>
bool SliceOf(Ctx& ctx, std::string_view payload, RangeOf range,
             std::vector<std::string_view>* out) {
  uint64_t n;
  size_t from, to;
  if (ListElements::Count(payload, &n)) {
    range(n, &from, &to);
    if (from >= to || ListElements::Slice(payload, from, to, out)) return true;
  }
  ctx.out.Error(ErrCollectionDamaged(kType));
  return false;
}

// LINDEX key index: the key first, then the index (a missing key with any index is nil).
template <typename Ctx>
void LIndexCmd(Ctx& ctx) {
  std::string payload;
  if (!ReadCollectionPayload(ctx, ctx.args[1], kType, &payload)) {
    if (!ctx.wrong_type) ctx.out.Null();
    return;
  }
  int64_t index;
  if (!ParseInt64(ctx.args[2], &index)) return ctx.out.Error(kErrNotInteger);
  std::vector<std::string_view> element;
  const auto at = [&](uint64_t n, size_t* from, size_t* to) {
    const int64_t p = Position(index, n);
    *from = p < 0 ? 0 : static_cast<size_t>(p);
    *to = p < 0 ? 0 : *from + 1;
  };
  if (!SliceOf(ctx, payload, at, &element)) return;
  element.empty() ? ctx.out.Null() : ctx.out.Bulk(element[0]);
}

// LRANGE key start stop: the range first, then the key.
template <typename Ctx>
void LRangeCmd(Ctx& ctx) {
  int64_t start, stop;
  if (!ParseInt64(ctx.args[2], &start) || !ParseInt64(ctx.args[3], &stop)) {
    return ctx.out.Error(kErrNotInteger);
  }
  std::string payload;
  std::vector<std::string_view> elements;
  if (ReadCollectionPayload(ctx, ctx.args[1], kType, &payload)) {
    const auto range = [&](uint64_t n, size_t* from, size_t* to) {
      Range(start, stop, n, from, to);
    };
    if (!SliceOf(ctx, payload, range, &elements)) return;
  } else if (ctx.wrong_type) {
    return;
  }
  ctx.out.ArrayHeader(elements.size());
  for (std::string_view e : elements) ctx.out.Bulk(e);
}

// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]: the options first.
template <typename Ctx>
void LPosCmd(Ctx& ctx) {
  int64_t rank = 1, count = -1, maxlen = 0;
  for (size_t i = 3; i < ctx.args.size(); ++i) {
    const std::string opt = ToLower(ctx.args[i]);
    const bool more = i + 1 < ctx.args.size();
    if (opt == "rank" && more) {
      if (!ParseInt64(ctx.args[++i], &rank)) return ctx.out.Error(kErrNotInteger);
      if (rank == INT64_MIN) {
        return ctx.out.Error(kErrCountOutOfRange);
      }
      if (rank == 0) {
        return ctx.out.Error(
            "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
            "or use negative to start from the end of the list");
      }
    } else if (opt == "count" && more) {
      if (!ParseInt64(ctx.args[++i], &count) || count < 0) {
        return ctx.out.Error("ERR COUNT can't be negative");
      }
    } else if (opt == "maxlen" && more) {
      if (!ParseInt64(ctx.args[++i], &maxlen) || maxlen < 0) {
        return ctx.out.Error("ERR MAXLEN can't be negative");
      }
    } else {
      return ctx.out.Error(kErrSyntax);
    }
  }
  std::string payload;
  ListElements list;
  bool damaged;
  ReadList(ctx, ctx.args[1], &payload, &list, &damaged);
  if (damaged || ctx.wrong_type) return;
  const auto& items = list.items();
  const size_t n = items.size();
  std::vector<int64_t> found;
  uint64_t skip = rank > 0 ? static_cast<uint64_t>(rank) - 1 : static_cast<uint64_t>(-rank) - 1;
  const size_t look = maxlen == 0 ? n : std::min(n, static_cast<size_t>(maxlen));
  for (size_t k = 0; k < look; ++k) {
    const size_t i = rank > 0 ? k : n - 1 - k;
    if (items[i] != ctx.args[2]) continue;
    if (skip > 0) {
      --skip;
      continue;
    }
    found.push_back(static_cast<int64_t>(i));
    if (count == -1 || (count > 0 && found.size() == static_cast<size_t>(count))) break;
  }
  if (count == -1) return found.empty() ? ctx.out.Null() : ctx.out.Integer(found[0]);
  ctx.out.ArrayHeader(found.size());
  for (int64_t i : found) ctx.out.Integer(i);
}

// ---- writes ----

void ProposeKey1(CommandContext& ctx) { ctx.Propose(ctx.Partition(ctx.args[1])); }

bool LoadList(ApplyContext& ctx, std::string_view key, std::string* payload, ListElements* list,
              int64_t* expire_at, bool* found = nullptr) {
  return LoadCollection(ctx, key, kType, payload, list, expire_at, found);
}

bool StoreList(ApplyContext& ctx, std::string_view key, const ListElements& list,
               int64_t expire_at) {
  return StoreCollection(ctx, key, kType, list, expire_at);
}

// The list at `key` undecoded, for the writes that copy it (pushes, pops, LMOVE): false if
// the key holds another type (wrong_type); *found false if absent.
bool GetListPayload(ApplyContext& ctx, std::string_view key, std::string* payload,
                    int64_t* expire_at, bool* found) {
  ValueType type = kType;
  *expire_at = 0;
  *found = ctx.GetValue(key, &type, payload, expire_at);
  if (!*found || type == kType) return true;
  ctx.wrong_type = true;
  return false;
}

// LPUSH RPUSH LPUSHX RPUSHX key element [element ...]: the stored elements copied, not
// decoded. The X forms push only onto an existing list.
void PushApply(ApplyContext& ctx) {
  const std::string name = ToLower(ctx.args[0]);
  const bool head = name[0] == 'l', only_existing = name.back() == 'x';
  std::string payload;
  int64_t expire_at;
  bool found;
  if (!GetListPayload(ctx, ctx.args[1], &payload, &expire_at, &found)) return;
  if (!found && only_existing) return ctx.out.Integer(0);
  if (!found) payload = storage::kEmptyListPayload;
  std::string encoded;
  if (!ListElements::Push(payload, ctx.args.subspan(2), head, &encoded)) {
    return ctx.out.Error(ErrCollectionDamaged(kType));
  }
  uint64_t size;
  ListElements::Count(encoded, &size);
  if (!StoreEncoded(ctx, ctx.args[1], kType, encoded, size, expire_at)) return;
  ctx.Notify(kNotifyList, head ? "lpush" : "rpush", ctx.args[1]);
  ctx.out.Integer(static_cast<int64_t>(size));
}

// LPOP/RPOP's count: args[2] if given. false (answered) if bad.
template <typename Ctx>
bool ParsePopCount(Ctx& ctx, int64_t* count, bool* with_count) {
  *with_count = ctx.args.size() == 3;
  *count = 1;
  if (ctx.args.size() > 3) return ctx.out.Error(ErrWrongArity(ctx.args[0])), false;
  if (!*with_count) return true;
  // (Any count that is not a non-negative integer is "out of range", as in Redis 7.0.)
  if (!ParseInt64(ctx.args[2], count) || *count < 0) return ctx.out.Error(kErrNotPositive), false;
  return true;
}

void PopCheck(CommandContext& ctx) {
  int64_t count;
  bool with_count;
  if (ParsePopCount(ctx, &count, &with_count)) ProposeKey1(ctx);
}

// Pops up to `count` elements of the list at `key` into *popped (views into *payload), with
// its pop event (and "del" if it empties; nothing for a count of 0), the kept elements
// copied undecoded (ListElements::Pop). false if the key is absent (*found false), of
// another type (wrong_type), or damaged (answered).
bool PopKey(ApplyContext& ctx, std::string_view key, bool head, uint64_t count,
            std::string* payload, std::vector<std::string_view>* popped, bool* found) {
  int64_t expire_at;
  if (!GetListPayload(ctx, key, payload, &expire_at, found) || !*found) return false;
  if (count == 0) return true;
  std::string rest;
  uint64_t left;
  if (!ListElements::Pop(*payload, head, count, popped, &rest, &left)) {
    ctx.out.Error(ErrCollectionDamaged(kType));
    return false;
  }
  ctx.Notify(kNotifyList, head ? "lpop" : "rpop", key);
  StoreEncoded(ctx, key, kType, rest, left, expire_at);  // (smaller: within the bound)
  return true;
}

// LPOP RPOP key [count].
void PopApply(ApplyContext& ctx) {
  int64_t count;
  bool with_count;
  if (!ParsePopCount(ctx, &count, &with_count)) return;
  std::string payload;
  std::vector<std::string_view> popped;
  bool found;
  const bool head = ToLower(ctx.args[0])[0] == 'l';
  if (!PopKey(ctx, ctx.args[1], head, static_cast<uint64_t>(count), &payload, &popped, &found)) {
    if (!found) with_count ? ctx.out.NullArray() : ctx.out.Null();
    return;
  }
  if (!with_count) return ctx.out.Bulk(popped[0]);
  ctx.out.ArrayHeader(popped.size());
  for (std::string_view e : popped) ctx.out.Bulk(e);
}

// LSET key index element: the key ("no such key"), its type, then the index.
void LSetApply(ApplyContext& ctx) {
  std::string payload;
  ListElements list;
  int64_t expire_at;
  bool found;
  if (!LoadList(ctx, ctx.args[1], &payload, &list, &expire_at, &found)) return;
  if (!found) return ctx.out.Error("ERR no such key");
  int64_t index;
  if (!ParseInt64(ctx.args[2], &index)) return ctx.out.Error(kErrNotInteger);
  const int64_t p = Position(index, list.size());
  if (p < 0) return ctx.out.Error("ERR index out of range");
  list.items()[static_cast<size_t>(p)] = ctx.args[3];
  if (!StoreList(ctx, ctx.args[1], list, expire_at)) return;
  ctx.Notify(kNotifyList, "lset", ctx.args[1]);
  ctx.out.Ok();
}

void LRemCheck(CommandContext& ctx) {
  int64_t count;
  if (!ParseInt64(ctx.args[2], &count)) return ctx.out.Error(kErrNotInteger);
  ProposeKey1(ctx);
}

// LREM key count element: from the head (count > 0), the tail (< 0), or all (0).
void LRemApply(ApplyContext& ctx) {
  int64_t count;
  if (!ParseInt64(ctx.args[2], &count)) return ctx.out.Error(kErrNotInteger);
  std::string payload;
  ListElements list;
  int64_t expire_at;
  if (!LoadList(ctx, ctx.args[1], &payload, &list, &expire_at)) return;
  auto& items = list.items();
  // How many to remove at most (count's magnitude, without overflow for INT64_MIN).
  uint64_t left = count == 0 ? UINT64_MAX
                  : count > 0 ? static_cast<uint64_t>(count)
                              : ~static_cast<uint64_t>(count) + 1;
  std::deque<std::string_view> kept;
  int64_t removed = 0;
  const size_t n = items.size();
  for (size_t k = 0; k < n; ++k) {
    const size_t i = count >= 0 ? k : n - 1 - k;
    if (left > 0 && items[i] == ctx.args[3]) {
      --left;
      ++removed;
      continue;
    }
    count >= 0 ? kept.push_back(items[i]) : kept.push_front(items[i]);
  }
  if (removed > 0) {
    items.swap(kept);
    ctx.Notify(kNotifyList, "lrem", ctx.args[1]);  // before the key's "del", as Redis
    StoreList(ctx, ctx.args[1], list, expire_at);
  }
  ctx.out.Integer(removed);
}

void LTrimCheck(CommandContext& ctx) {
  int64_t start, stop;
  if (!ParseInt64(ctx.args[2], &start) || !ParseInt64(ctx.args[3], &stop)) {
    return ctx.out.Error(kErrNotInteger);
  }
  ProposeKey1(ctx);
}

// LTRIM key start stop: raises "ltrim" even when it keeps everything, as Redis.
void LTrimApply(ApplyContext& ctx) {
  int64_t start, stop;
  if (!ParseInt64(ctx.args[2], &start) || !ParseInt64(ctx.args[3], &stop)) {
    return ctx.out.Error(kErrNotInteger);
  }
  std::string payload;
  ListElements list;
  int64_t expire_at;
  bool found;
  if (!LoadList(ctx, ctx.args[1], &payload, &list, &expire_at, &found)) return;
  if (!found) return ctx.out.Ok();
  size_t from, to;
  Range(start, stop, list.size(), &from, &to);
  auto& items = list.items();
  const size_t before = items.size();
  items.erase(items.begin() + static_cast<ptrdiff_t>(to), items.end());
  items.erase(items.begin(), items.begin() + static_cast<ptrdiff_t>(from));
  ctx.Notify(kNotifyList, "ltrim", ctx.args[1]);
  if (items.size() != before) StoreList(ctx, ctx.args[1], list, expire_at);
  ctx.out.Ok();
}

bool ParseBeforeAfter(std::string_view s, bool* after) {
  const std::string w = ToLower(s);
  *after = w == "after";
  return *after || w == "before";
}

void LInsertCheck(CommandContext& ctx) {
  bool after;
  if (!ParseBeforeAfter(ctx.args[2], &after)) return ctx.out.Error(kErrSyntax);
  ProposeKey1(ctx);
}

// LINSERT key BEFORE|AFTER pivot element: the list's new length, 0 for a missing key, -1
// without the pivot.
void LInsertApply(ApplyContext& ctx) {
  bool after;
  if (!ParseBeforeAfter(ctx.args[2], &after)) return ctx.out.Error(kErrSyntax);
  std::string payload;
  ListElements list;
  int64_t expire_at;
  bool found;
  if (!LoadList(ctx, ctx.args[1], &payload, &list, &expire_at, &found)) return;
  if (!found) return ctx.out.Integer(0);
  auto& items = list.items();
  auto it = std::find(items.begin(), items.end(), ctx.args[3]);
  if (it == items.end()) return ctx.out.Integer(-1);
  items.insert(after ? it + 1 : it, ctx.args[4]);
  if (!StoreList(ctx, ctx.args[1], list, expire_at)) return;
  ctx.Notify(kNotifyList, "linsert", ctx.args[1]);
  ctx.out.Integer(static_cast<int64_t>(items.size()));
}

bool ParseEnd(std::string_view s, bool* head) {
  const std::string w = ToLower(s);
  *head = w == "left";
  return *head || w == "right";
}

// LMOVE's ends, or RPOPLPUSH's (RIGHT, LEFT).
bool MoveEnds(Args args, bool* from_head, bool* to_head) {
  if (args.size() == 3) {
    *from_head = false, *to_head = true;
    return true;
  }
  return ParseEnd(args[3], from_head) && ParseEnd(args[4], to_head);
}

void LMoveCheck(CommandContext& ctx) {
  bool from_head, to_head;
  if (!MoveEnds(ctx.args, &from_head, &to_head)) return ctx.out.Error(kErrSyntax);
  ProposeKey1(ctx);
}

// LMOVE source destination LEFT|RIGHT LEFT|RIGHT and RPOPLPUSH source destination: nil for a
// missing source (whatever the destination holds); then both types. Events as Redis 7.0:
// the destination's push, then the source's pop, then its "del" if emptied.
void LMoveApply(ApplyContext& ctx) {
  bool from_head, to_head;
  if (!MoveEnds(ctx.args, &from_head, &to_head)) return ctx.out.Error(kErrSyntax);
  const std::string_view src = ctx.args[1], dst = ctx.args[2];
  std::string src_payload, dst_payload;
  int64_t src_expire, dst_expire = 0;
  bool src_found, dst_found = false;
  if (!GetListPayload(ctx, src, &src_payload, &src_expire, &src_found)) return;
  if (!src_found) return ctx.out.Null();
  if (src != dst && !GetListPayload(ctx, dst, &dst_payload, &dst_expire, &dst_found)) return;
  // Both ends copied undecoded: the element popped, then pushed onto what the destination
  // holds (the source's rest when it is the same list).
  std::vector<std::string_view> moved;
  std::string rest, pushed;
  uint64_t left;
  if (!ListElements::Pop(src_payload, from_head, 1, &moved, &rest, &left)) {
    return ctx.out.Error(ErrCollectionDamaged(kType));
  }
  const std::string_view onto = src == dst ? (left > 0 ? std::string_view(rest)
                                                       : storage::kEmptyListPayload)
                                : dst_found ? std::string_view(dst_payload)
                                            : storage::kEmptyListPayload;
  if (!ListElements::Push(onto, moved, to_head, &pushed)) {
    return ctx.out.Error(ErrCollectionDamaged(kType));
  }
  uint64_t size;
  ListElements::Count(pushed, &size);
  // The destination checked against the bound before anything is written.
  if (!StoreEncoded(ctx, dst, kType, pushed, size, src == dst ? src_expire : dst_expire)) return;
  ctx.Notify(kNotifyList, to_head ? "lpush" : "rpush", dst);
  ctx.Notify(kNotifyList, from_head ? "lpop" : "rpop", src);
  if (src != dst) StoreEncoded(ctx, src, kType, rest, left, src_expire);  // ("del" if emptied)
  ctx.out.Bulk(moved[0]);
}

// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]. "" if the arguments are valid.
std::string LMPopError(Args args, int64_t* numkeys, bool* head, int64_t* count) {
  if (!ParseInt64(args[1], numkeys) || *numkeys < 1) {
    return "ERR numkeys should be greater than 0";
  }
  if (*numkeys > static_cast<int64_t>(args.size()) - 3) return std::string(kErrSyntax);
  const size_t where = 2 + static_cast<size_t>(*numkeys);
  if (!ParseEnd(args[where], head)) return std::string(kErrSyntax);
  *count = -1;
  for (size_t i = where + 1; i < args.size(); ++i) {
    if (*count != -1 || ToLower(args[i]) != "count" || i + 1 >= args.size()) {
      return std::string(kErrSyntax);
    }
    if (!ParseInt64(args[++i], count) || *count < 1) return "ERR count should be greater than 0";
  }
  if (*count == -1) *count = 1;
  return "";
}

void LMPopCheck(CommandContext& ctx) {
  int64_t numkeys, count;
  bool head;
  const std::string err = LMPopError(ctx.args, &numkeys, &head, &count);
  if (!err.empty()) return ctx.out.Error(err);
  ctx.Propose(ctx.Partition(ctx.args[2]));  // (its first key's)
}

// The first non-empty list of the keys gives up to `count` elements: [key, [elements]], or
// a null array when none has any.
void LMPopApply(ApplyContext& ctx) {
  int64_t numkeys, count;
  bool head;
  const std::string err = LMPopError(ctx.args, &numkeys, &head, &count);
  if (!err.empty()) return ctx.out.Error(err);
  for (size_t i = 2; i < 2 + static_cast<size_t>(numkeys); ++i) {
    std::string payload;
    std::vector<std::string_view> popped;
    bool found;
    if (!PopKey(ctx, ctx.args[i], head, static_cast<uint64_t>(count), &payload, &popped,
                &found)) {
      if (found) return;  // (of another type, or damaged)
      continue;
    }
    ctx.out.ArrayHeader(2);
    ctx.out.Bulk(ctx.args[i]);
    ctx.out.ArrayHeader(popped.size());
    for (std::string_view e : popped) ctx.out.Bulk(e);
    return;
  }
  ctx.out.NullArray();
}

template <typename... A>
CommandSpec Spec(A&&... a) {
  return CollectionSpec("list", std::forward<A>(a)...);
}

}  // namespace

void RegisterListFamily(CommandTable* t) {
  constexpr uint32_t kRead = kCmdReadOnly, kWrite = kCmdWrite;
  const std::string push_cost =
      "O(1) for each element added, so O(N) to add N elements when the command is called "
      "with multiple arguments.";
  t->Add(Spec("lpush", -3, kWrite | kCmdFast, ProposeKey1, PushApply,
              "Prepends one or more elements to a list. Creates the key if it doesn't exist.",
              "1.0.0", push_cost));
  t->Add(Spec("rpush", -3, kWrite | kCmdFast, ProposeKey1, PushApply,
              "Appends one or more elements to a list. Creates the key if it doesn't exist.",
              "1.0.0", push_cost));
  t->Add(Spec("lpushx", -3, kWrite | kCmdFast, ProposeKey1, PushApply,
              "Prepends one or more elements to a list only when the list exists.", "2.2.0",
              push_cost));
  t->Add(Spec("rpushx", -3, kWrite | kCmdFast, ProposeKey1, PushApply,
              "Appends an element to a list only when the list exists.", "2.2.0", push_cost));
  t->Add(Spec("lpop", -2, kWrite | kCmdFast, PopCheck, PopApply,
              "Returns the first elements in a list after removing it. Deletes the list if the "
              "last element was popped.",
              "1.0.0", "O(N) where N is the number of elements returned"));
  t->Add(Spec("rpop", -2, kWrite | kCmdFast, PopCheck, PopApply,
              "Returns and removes the last elements of a list. Deletes the list if the last "
              "element was popped.",
              "1.0.0", "O(N) where N is the number of elements returned"));
  t->Add(Spec("lset", 4, kWrite, ProposeKey1, LSetApply,
              "Sets the value of an element in a list by its index.", "1.0.0", "O(N)"));
  t->Add(Spec("lrem", 4, kWrite, LRemCheck, LRemApply, "Removes elements from a list.",
              "1.0.0", "O(N+M) where N is the length of the list and M is the number of "
              "elements removed."));
  t->Add(Spec("ltrim", 4, kWrite, LTrimCheck, LTrimApply,
              "Removes elements from both ends a list. Deletes the list if all elements were "
              "trimmed.",
              "1.0.0", "O(N) where N is the number of elements to be removed by the operation."));
  t->Add(Spec("linsert", 5, kWrite, LInsertCheck, LInsertApply,
              "Inserts an element before or after another element in a list.", "2.2.0",
              "O(N) where N is the number of elements to traverse before seeing the value "
              "pivot."));
  t->Add(Spec("lmove", 5, kWrite, LMoveCheck, LMoveApply,
              "Returns an element after popping it from one list and pushing it to another. "
              "Deletes the list if the last element was moved.",
              "6.2.0", "O(1)", 2));
  t->Add(Spec("rpoplpush", 3, kWrite, LMoveCheck, LMoveApply,
              "Returns the last element of a list after removing and pushing it to another "
              "list. Deletes the list if the last element was popped.",
              "1.2.0", "O(1)", 2));
  CommandSpec mpop = Spec("lmpop", -4, kWrite, LMPopCheck, LMPopApply,
                          "Returns multiple elements from a list after removing them. Deletes "
                          "the list if the last element was popped.",
                          "7.0.0",
                          "O(N+M) where N is the number of provided keys and M is the number of "
                          "elements returned.");
  mpop.first_key = mpop.last_key = mpop.step = 0;
  mpop.key_positions = KeysAfterNumKeys;
  t->Add(std::move(mpop));
  t->Add(Spec("llen", 2, kRead | kCmdFast, FLIN_READ(LLenCmd), "Returns the length of a list.",
              "1.0.0", "O(1)"));
  t->Add(Spec("lindex", 3, kRead, FLIN_READ(LIndexCmd),
              "Returns an element from a list by its index.", "1.0.0",
              "O(N) where N is the number of elements to traverse to get to the element at "
              "index."));
  t->Add(Spec("lrange", 4, kRead, FLIN_READ(LRangeCmd), "Returns a range of elements from a list.",
              "1.0.0", "O(S+N) where S is the distance of start offset from HEAD for small "
              "lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of "
              "elements in the specified range."));
  t->Add(Spec("lpos", -3, kRead, FLIN_READ(LPosCmd),
              "Returns the index of matching elements in a list.", "6.0.6",
              "O(N) where N is the number of elements in the list, for the average case."));
}

}  // namespace flin::server

// Hash commands: HSET HSETNX HMSET HGET HMGET HDEL HLEN HSTRLEN HEXISTS HKEYS HVALS HGETALL
// HINCRBY HINCRBYFLOAT HRANDFIELD HSCAN, with Redis 7.0's replies, errors and events.
//
// A hash is one value (storage/hash_payload.h): a read decodes it, a write decodes, changes
// and writes it back on every replica, so both cost time in the hash's size (docs/DESIGN.md,
// "Hashes"). A key of another type answers WRONGTYPE (command.h's wrong_type); a hash whose
// last field goes is deleted, as in Redis.

#include <cmath>

#include "server/collection.h"

namespace flin::server {
namespace {

using storage::HashFields;
using storage::ValueType;

constexpr ValueType kType = ValueType::kHash;

template <typename Ctx>
bool ReadHashPayload(Ctx& ctx, std::string_view key, std::string* payload) {
  return ReadCollectionPayload(ctx, key, kType, payload);
}

template <typename Ctx>
bool ReadHash(Ctx& ctx, std::string_view key, std::string* payload, HashFields* h,
              bool* damaged) {
  return ReadCollection(ctx, key, kType, payload, h, damaged);
}

// ---- reads (templates: on an I/O thread, or applied from the log: string_family.cc) ----

// HGET, HMGET, HSTRLEN, HEXISTS: a few fields are looked up by walking the payload (nothing
// decoded), many through a decoded hash (whose lookups index it). Answers `header()`, then
// `reply(value or nullptr)` per field; a damaged hash answers an error instead.
template <typename Ctx, typename Header, typename Reply>
void ForFields(Ctx& ctx, size_t first, Header header, Reply reply) {
  std::string payload;
  const bool found = ReadHashPayload(ctx, ctx.args[1], &payload);
  if (ctx.wrong_type) return;
  std::vector<std::string_view> values(ctx.args.size() - first);
  std::vector<bool> present(values.size(), false);
  constexpr size_t kWalksAtMost = 4;
  HashFields h;
  const bool decode = found && values.size() > kWalksAtMost;
  if (decode && !h.Parse(payload, /*check_unique=*/false)) return ctx.out.Error(ErrCollectionDamaged(kType));
  for (size_t i = 0; decode && i < values.size(); ++i) {
    const std::string_view* v = h.Find(ctx.args[first + i]);
    present[i] = v != nullptr;
    if (v != nullptr) values[i] = *v;
  }
  for (size_t i = 0; found && !decode && i < values.size(); ++i) {
    switch (HashFields::Find(payload, ctx.args[first + i], &values[i])) {
      case HashFields::Lookup::kFound:
        present[i] = true;
        break;
      case HashFields::Lookup::kAbsent:
        break;
      case HashFields::Lookup::kMalformed:
        return ctx.out.Error(ErrCollectionDamaged(kType));
    }
  }
  header();
  for (size_t i = 0; i < values.size(); ++i) reply(present[i] ? &values[i] : nullptr);
}

template <typename Ctx>
void HGetCmd(Ctx& ctx) {
  ForFields(ctx, 2, [] {}, [&](const std::string_view* v) {
    v != nullptr ? ctx.out.Bulk(*v) : ctx.out.Null();
  });
}

template <typename Ctx>
void HMGetCmd(Ctx& ctx) {
  ForFields(ctx, 2, [&] { ctx.out.ArrayHeader(ctx.args.size() - 2); },
            [&](const std::string_view* v) { v != nullptr ? ctx.out.Bulk(*v) : ctx.out.Null(); });
}

// HSTRLEN, HEXISTS.
template <typename Ctx>
void HFieldIntegerCmd(Ctx& ctx) {
  const bool exists = ToLower(ctx.args[0]) == "hexists";
  ForFields(ctx, 2, [] {}, [&](const std::string_view* v) {
    if (exists) return ctx.out.Integer(v != nullptr);
    ctx.out.Integer(v != nullptr ? static_cast<int64_t>(v->size()) : 0);
  });
}

template <typename Ctx>
void HLenCmd(Ctx& ctx) {
  CountCmd(ctx, kType, HashFields::Count);
}

// HKEYS, HVALS, HGETALL.
template <typename Ctx>
void HAllCmd(Ctx& ctx) {
  std::string payload;
  HashFields h;
  bool damaged;
  ReadHash(ctx, ctx.args[1], &payload, &h, &damaged);
  if (damaged) return;
  const std::string name = ToLower(ctx.args[0]);
  const bool keys = name != "hvals", values = name != "hkeys";
  if (keys && values) {
    ctx.out.MapHeader(h.size());
  } else {
    ctx.out.ArrayHeader(h.size());
  }
  h.ForEach([&](std::string_view f, std::string_view v) {
    if (keys) ctx.out.Bulk(f);
    if (values) ctx.out.Bulk(v);
  });
}

// HRANDFIELD key [count [WITHVALUES]]: the arguments checked before the key, as Redis.
template <typename Ctx>
void HRandFieldCmd(Ctx& ctx) {
  int64_t count = 0;
  bool with_count = ctx.args.size() >= 3, with_values = false;
  if (with_count) {  // the count first, then the syntax, as Redis 7.0
    if (!ParseInt64(ctx.args[2], &count)) return ctx.out.Error(kErrNotInteger);
    if (count == INT64_MIN) {
      return ctx.out.Error(kErrCountOutOfRange);
    }
    if (ctx.args.size() > 4 || (ctx.args.size() == 4 && ToLower(ctx.args[3]) != "withvalues")) {
      return ctx.out.Error(kErrSyntax);
    }
    with_values = ctx.args.size() == 4;
    // Redis: l < -LONG_MAX/2 || l > LONG_MAX/2 (the bounds themselves are accepted).
    if (with_values && (count > INT64_MAX / 2 || count < -(INT64_MAX / 2))) {
      return ctx.out.Error("ERR value is out of range");
    }
  }
  std::string payload;
  HashFields h;
  bool damaged;
  if (!ReadHash(ctx, ctx.args[1], &payload, &h, &damaged)) {
    if (!damaged) with_count ? ctx.out.ArrayHeader(0) : ctx.out.Null();
    return;
  }
  std::vector<std::pair<std::string_view, std::string_view>> all;
  all.reserve(h.size());
  h.ForEach([&](std::string_view f, std::string_view v) { all.emplace_back(f, v); });
  std::mt19937_64 rng = PickRng(ctx, payload);
  if (!with_count) return ctx.out.Bulk(all[rng() % all.size()].first);
  if (count < -kMaxRandomPicks) return ctx.out.Error(ErrTooManyPicks("HRANDFIELD"));
  const std::vector<size_t> picks = RandomPicks(rng, all.size(), count);
  const bool resp3 = ctx.out.proto() >= 3;
  ctx.out.ArrayHeader(with_values && !resp3 ? 2 * picks.size() : picks.size());
  for (size_t p : picks) {
    if (with_values && resp3) ctx.out.ArrayHeader(2);
    ctx.out.Bulk(all[p].first);
    if (with_values) ctx.out.Bulk(all[p].second);
  }
}

// HSCAN key cursor [MATCH pattern] [COUNT count]: collection.h's ScanWalk, a listpack-sized
// hash answered whole.
template <typename Ctx>
void HScanCmd(Ctx& ctx) {
  uint64_t cursor;
  if (!ParseScanCursor(ctx.args[2], &cursor)) return ctx.out.Error("ERR invalid cursor");
  std::string payload;
  HashFields h;
  bool damaged;
  const bool found = ReadHash(ctx, ctx.args[1], &payload, &h, &damaged);
  if (damaged) return;
  ScanOptions o;
  if (found && !ParseScanOptions(ctx, 3, &o)) return;
  std::vector<std::pair<std::string_view, std::string_view>> out;
  out.reserve(h.size());
  h.ForEach([&](std::string_view f, std::string_view v) { out.emplace_back(f, v); });
  const uint64_t next =
      ScanWalk(&out, [](const auto& e) { return e.first; }, !h.hashtable(), cursor, o);
  ctx.out.ArrayHeader(2);
  ctx.out.Bulk(std::to_string(next));
  ctx.out.ArrayHeader(2 * out.size());
  for (const auto& [f, v] : out) {
    ctx.out.Bulk(f);
    ctx.out.Bulk(v);
  }
}

// ---- writes ----

bool LoadHash(ApplyContext& ctx, std::string_view key, std::string* payload, HashFields* h,
              int64_t* expire_at) {
  return LoadCollection(ctx, key, kType, payload, h, expire_at);
}

bool StoreHash(ApplyContext& ctx, std::string_view key, const HashFields& h, int64_t expire_at) {
  return StoreCollection(ctx, key, kType, h, expire_at);
}

void ProposeKey1(CommandContext& ctx) { ctx.Propose(ctx.Partition(ctx.args[1])); }

// HSET and HMSET take field-value pairs: an odd count is a wrong number of arguments.
void HSetCheck(CommandContext& ctx) {
  if (ctx.args.size() % 2 != 0) return ctx.out.Error(ErrWrongArity(ctx.args[0]));
  ProposeKey1(ctx);
}

void HSetApply(ApplyContext& ctx) {
  if (ctx.args.size() % 2 != 0) return ctx.out.Error(ErrWrongArity(ctx.args[0]));
  std::string payload;
  HashFields h;
  int64_t expire_at;
  if (!LoadHash(ctx, ctx.args[1], &payload, &h, &expire_at)) return;
  int64_t added = 0;
  for (size_t i = 2; i + 1 < ctx.args.size(); i += 2) added += h.Set(ctx.args[i], ctx.args[i + 1]);
  if (!StoreHash(ctx, ctx.args[1], h, expire_at)) return;
  ctx.Notify(kNotifyHash, "hset", ctx.args[1]);
  ToLower(ctx.args[0]) == "hmset" ? ctx.out.Ok() : ctx.out.Integer(added);
}

void HSetNxApply(ApplyContext& ctx) {
  std::string payload;
  HashFields h;
  int64_t expire_at;
  if (!LoadHash(ctx, ctx.args[1], &payload, &h, &expire_at)) return;
  if (h.Find(ctx.args[2]) != nullptr) return ctx.out.Integer(0);
  h.Set(ctx.args[2], ctx.args[3]);
  if (!StoreHash(ctx, ctx.args[1], h, expire_at)) return;
  ctx.Notify(kNotifyHash, "hset", ctx.args[1]);
  ctx.out.Integer(1);
}

void HDelApply(ApplyContext& ctx) {
  std::string payload;
  HashFields h;
  int64_t expire_at;
  if (!LoadHash(ctx, ctx.args[1], &payload, &h, &expire_at)) return;
  int64_t deleted = 0;
  for (size_t i = 2; i < ctx.args.size(); ++i) deleted += h.Erase(ctx.args[i]);
  if (deleted > 0) {
    ctx.Notify(kNotifyHash, "hdel", ctx.args[1]);  // before the key's "del", as Redis
    StoreHash(ctx, ctx.args[1], h, expire_at);     // (smaller: never past the bound)
  }
  ctx.out.Integer(deleted);
}

void HIncrByCheck(CommandContext& ctx) {
  int64_t incr;
  if (!ParseInt64(ctx.args[3], &incr)) return ctx.out.Error(kErrNotInteger);
  ProposeKey1(ctx);
}

void HIncrByApply(ApplyContext& ctx) {
  int64_t incr, cur = 0;
  if (!ParseInt64(ctx.args[3], &incr)) return ctx.out.Error(kErrNotInteger);
  std::string payload;
  HashFields h;
  int64_t expire_at;
  if (!LoadHash(ctx, ctx.args[1], &payload, &h, &expire_at)) return;
  if (const std::string_view* v = h.Find(ctx.args[2]); v != nullptr && !ParseInt64(*v, &cur)) {
    return ctx.out.Error("ERR hash value is not an integer");
  }
  if ((incr < 0 && cur < 0 && incr < INT64_MIN - cur) ||
      (incr > 0 && cur > 0 && incr > INT64_MAX - cur)) {
    return ctx.out.Error(kErrOverflow);
  }
  cur += incr;
  h.Set(ctx.args[2], h.Keep(std::to_string(cur)));
  if (!StoreHash(ctx, ctx.args[1], h, expire_at)) return;
  ctx.Notify(kNotifyHash, "hincrby", ctx.args[1]);
  ctx.out.Integer(cur);
}

// HINCRBYFLOAT's increment: a number, and not infinite. "" if it is one.
std::string FloatIncrementError(std::string_view s, long double* incr) {
  if (!ParseLongDouble(s, incr)) return std::string(kErrNotFloat);
  if (std::isinf(*incr)) return "ERR value is NaN or Infinity";
  return "";
}

void HIncrByFloatCheck(CommandContext& ctx) {
  long double incr;
  const std::string err = FloatIncrementError(ctx.args[3], &incr);
  if (!err.empty()) return ctx.out.Error(err);
  ProposeKey1(ctx);
}

void HIncrByFloatApply(ApplyContext& ctx) {
  long double incr, cur = 0;
  const std::string err = FloatIncrementError(ctx.args[3], &incr);
  if (!err.empty()) return ctx.out.Error(err);
  std::string payload;
  HashFields h;
  int64_t expire_at;
  if (!LoadHash(ctx, ctx.args[1], &payload, &h, &expire_at)) return;
  if (const std::string_view* v = h.Find(ctx.args[2]);
      v != nullptr && !ParseLongDouble(*v, &cur)) {
    return ctx.out.Error("ERR hash value is not a float");
  }
  cur += incr;
  if (std::isnan(cur) || std::isinf(cur)) {
    return ctx.out.Error("ERR increment would produce NaN or Infinity");
  }
  const std::string_view s = h.Keep(protocol::FormatLongDouble(cur));
  h.Set(ctx.args[2], s);
  if (!StoreHash(ctx, ctx.args[1], h, expire_at)) return;
  ctx.Notify(kNotifyHash, "hincrbyfloat", ctx.args[1]);
  ctx.out.Bulk(s);
}

CommandSpec Spec(std::string name, int arity, uint32_t flags, Handler h, ApplyFn a,
                 std::string summary, std::string complexity) {
  return CollectionSpec("hash", std::move(name), arity, flags, h, a, std::move(summary), "2.0.0",
                        std::move(complexity));
}

CommandSpec Read(std::string name, int arity, Handler h, ApplyFn a, std::string summary,
                 std::string complexity = "O(1)") {
  return Spec(std::move(name), arity, kCmdReadOnly | kCmdFast, h, a, std::move(summary),
              std::move(complexity));
}

// A read of the whole hash: "readonly" without "fast", as Redis flags HKEYS HVALS HGETALL
// HRANDFIELD HSCAN.
CommandSpec ReadAll(std::string name, int arity, Handler h, ApplyFn a, std::string summary,
                    std::string complexity) {
  return Spec(std::move(name), arity, kCmdReadOnly, h, a, std::move(summary),
              std::move(complexity));
}

CommandSpec Write(std::string name, int arity, Handler h, ApplyFn a, std::string summary,
                  std::string complexity = "O(1)") {
  return Spec(std::move(name), arity, kCmdWrite | kCmdFast, h, a, std::move(summary),
              std::move(complexity));
}


}  // namespace

void RegisterHashFamily(CommandTable* t) {
  t->Add(Write("hset", -4, HSetCheck, HSetApply,
               "Creates or modifies the value of a field in a hash.",
               "O(1) for each field/value pair added"));
  t->Add(Write("hmset", -4, HSetCheck, HSetApply, "Sets the values of multiple fields.",
               "O(N) where N is the number of fields being set."));
  t->Add(Write("hsetnx", 4, ProposeKey1, HSetNxApply,
               "Sets the value of a field in a hash only when the field doesn't exist."));
  t->Add(Write("hdel", -3, ProposeKey1, HDelApply,
               "Deletes one or more fields and their values from a hash. Deletes the hash if no "
               "fields remain.",
               "O(N) where N is the number of fields to be removed."));
  t->Add(Write("hincrby", 4, HIncrByCheck, HIncrByApply,
               "Increments the integer value of a field in a hash by a number. Uses 0 as "
               "initial value if the field doesn't exist."));
  t->Add(Write("hincrbyfloat", 4, HIncrByFloatCheck, HIncrByFloatApply,
               "Increments the floating point value of a field by a number. Uses 0 as initial "
               "value if the field doesn't exist."));
  t->Add(Read("hget", 3, FLIN_READ(HGetCmd), "Returns the value of a field in a hash."));
  t->Add(Read("hmget", -3, FLIN_READ(HMGetCmd), "Returns the values of all fields in a hash.",
              "O(N) where N is the number of fields being requested."));
  t->Add(Read("hlen", 2, FLIN_READ(HLenCmd), "Returns the number of fields in a hash."));
  t->Add(Read("hstrlen", 3, FLIN_READ(HFieldIntegerCmd),
              "Returns the length of the value of a field."));
  t->Add(Read("hexists", 3, FLIN_READ(HFieldIntegerCmd),
              "Determines whether a field exists in a hash."));
  t->Add(ReadAll("hkeys", 2, FLIN_READ(HAllCmd), "Returns all fields in a hash.",
              "O(N) where N is the size of the hash."));
  t->Add(ReadAll("hvals", 2, FLIN_READ(HAllCmd), "Returns all values in a hash.",
              "O(N) where N is the size of the hash."));
  t->Add(ReadAll("hgetall", 2, FLIN_READ(HAllCmd), "Returns all fields and values in a hash.",
              "O(N) where N is the size of the hash."));
  t->Add(ReadAll("hrandfield", -2, FLIN_READ(HRandFieldCmd),
              "Returns one or more random fields from a hash.",
              "O(N) where N is the number of fields returned"));
  t->Add(ReadAll("hscan", -3, FLIN_READ(HScanCmd), "Iterates over fields and values of a hash.",
              "O(1) for every call. O(N) for a complete iteration."));
}

}  // namespace flin::server

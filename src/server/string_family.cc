// Strings: GET SET SETNX SETEX PSETEX GETSET GETDEL GETEX MGET MSET MSETNX APPEND STRLEN
// GETRANGE (and SUBSTR, its old name) SETRANGE LCS INCR INCRBY DECR DECRBY INCRBYFLOAT — with Redis's semantics and errors.
// Reads answer on the I/O thread; writes check syntax there and are applied from the log.

#include <cmath>
#include <set>

#include "common/strings.h"
#include "server/client_conn.h"
#include "server/command.h"
#include "server/keyspace.h"
#include "server/server.h"

namespace flin::server {
namespace {

// ---- reads ----

// Reads are templates: the same code answers on an I/O thread (CommandContext) and, when
// the read goes through the log, on the apply thread (ApplyContext).
template <typename Ctx>
void GetCmd(Ctx& ctx) {
  std::string v;
  if (ReadString(ctx, ctx.args[1], &v, nullptr)) {
    ctx.out.Bulk(v);
  } else {
    ctx.out.Null();
  }
}

template <typename Ctx>
void MGetCmd(Ctx& ctx) {
  MultiKeyRead whole(ctx, ctx.args.size() - 1);
  ctx.out.ArrayHeader(ctx.args.size() - 1);
  std::string v;
  storage::ValueType type;
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    // A key of another type is nil, as in Redis: no WRONGTYPE.
    if (ReadValue(ctx, ctx.args[i], &type, &v, nullptr) && type == storage::ValueType::kString) {
      ctx.out.Bulk(v);
    } else {
      ctx.out.Null();
    }
  }
}

template <typename Ctx>
void StrlenCmd(Ctx& ctx) {
  std::string v;
  ctx.out.Integer(ReadString(ctx, ctx.args[1], &v, nullptr) ? static_cast<int64_t>(v.size()) : 0);
}

template <typename Ctx>
void GetRangeCmd(Ctx& ctx) {
  int64_t start, end;
  if (!ParseInt64(ctx.args[2], &start) || !ParseInt64(ctx.args[3], &end)) {
    ctx.out.Error(kErrNotInteger);
    return;
  }
  std::string v;
  ReadString(ctx, ctx.args[1], &v, nullptr);
  const int64_t len = static_cast<int64_t>(v.size());
  if ((start < 0 && end < 0 && start > end) || len == 0) {
    ctx.out.Bulk("");
    return;
  }
  if (start < 0) start = len + start;
  if (end < 0) end = len + end;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= len) end = len - 1;
  if (start > end) {
    ctx.out.Bulk("");
    return;
  }
  ctx.out.Bulk(std::string_view(v).substr(start, end - start + 1));
}

// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]: the longest common
// subsequence of two strings (missing keys are empty), by the textbook dynamic program, with
// Redis 7.0's answers: the subsequence; its length (LEN); or (IDX) the matching ranges, from
// the strings' ends back to their starts, each [[a_start, a_end], [b_start, b_end]] (and its
// length with WITHMATCHLEN), those shorter than MINMATCHLEN left out, and the length.
struct LcsOptions {
  bool len = false, idx = false, with_match_len = false;
  int64_t min_match_len = 0;
};

// Parses the options after the keys; an error text, or "".
std::string ParseLcsOptions(Args args, LcsOptions* o) {
  for (size_t j = 3; j < args.size(); ++j) {
    const std::string opt = ToLower(args[j]);
    if (opt == "idx") {
      o->idx = true;
    } else if (opt == "len") {
      o->len = true;
    } else if (opt == "withmatchlen") {
      o->with_match_len = true;
    } else if (opt == "minmatchlen" && j + 1 < args.size()) {
      if (!ParseInt64(args[++j], &o->min_match_len)) return std::string(kErrNotInteger);
      if (o->min_match_len < 0) o->min_match_len = 0;
    } else {
      return std::string(kErrSyntax);
    }
  }
  if (o->idx && o->len) return "ERR If you want both the length and indexes, please just use IDX.";
  return "";
}

void LcsReply(const std::string& a, const std::string& b, const LcsOptions& o,
              protocol::ReplyWriter& out) {
  const size_t alen = a.size(), blen = b.size(), cols = blen + 1;
  // table[i * cols + j]: the LCS length of a[0, i) and b[0, j).
  std::vector<uint32_t> table((alen + 1) * cols, 0);
  for (size_t i = 1; i <= alen; ++i) {
    for (size_t j = 1; j <= blen; ++j) {
      table[i * cols + j] = a[i - 1] == b[j - 1]
                                ? table[(i - 1) * cols + j - 1] + 1
                                : std::max(table[(i - 1) * cols + j], table[i * cols + j - 1]);
    }
  }
  const uint32_t length = table[alen * cols + blen];
  if (o.len) return out.Integer(length);
  // Back from the end: a match steps diagonally, otherwise towards the larger neighbour
  // (up, i.e. a shorter `a`, only if strictly larger). A run of matches is one range, emitted
  // when it ends: at a step that is not a match, or at either string's first byte.
  std::string common(length, '\0');
  struct Range {
    size_t a_start, a_end, b_start, b_end;
  };
  std::vector<Range> ranges;
  bool in_range = false;
  Range cur{};
  size_t i = alen, j = blen, k = length;
  while (i > 0 && j > 0) {
    bool emit = false;
    if (a[i - 1] == b[j - 1]) {
      common[--k] = a[i - 1];
      if (!in_range) {
        cur = Range{i - 1, i - 1, j - 1, j - 1};
        in_range = true;
      } else {
        --cur.a_start;
        --cur.b_start;
      }
      emit = cur.a_start == 0 || cur.b_start == 0;
      --i;
      --j;
    } else {
      if (table[(i - 1) * cols + j] > table[i * cols + j - 1]) {
        --i;
      } else {
        --j;
      }
      emit = in_range;
    }
    if (emit) {
      const size_t match_len = cur.a_end - cur.a_start + 1;
      if (o.min_match_len == 0 || match_len >= static_cast<uint64_t>(o.min_match_len)) {
        ranges.push_back(cur);
      }
      in_range = false;
    }
  }
  if (!o.idx) return out.Bulk(common);
  out.MapHeader(2);
  out.Bulk("matches");
  out.ArrayHeader(ranges.size());
  for (const Range& r : ranges) {
    out.ArrayHeader(o.with_match_len ? 3 : 2);
    out.ArrayHeader(2);
    out.Integer(static_cast<int64_t>(r.a_start));
    out.Integer(static_cast<int64_t>(r.a_end));
    out.ArrayHeader(2);
    out.Integer(static_cast<int64_t>(r.b_start));
    out.Integer(static_cast<int64_t>(r.b_end));
    if (o.with_match_len) out.Integer(static_cast<int64_t>(r.a_end - r.a_start + 1));
  }
  out.Bulk("len");
  out.Integer(length);
}

// The table (4 bytes a cell) may take at most Redis's proto-max-bulk-len default (512 MiB),
// as in Redis, whatever max-value-bytes says: it bounds transient memory, not a stored value,
// and a lower bound answered an error where Redis answers (test_differential found LCS of a
// 7 KB string with itself refused). A large table is built on the background worker, not on
// the I/O thread. A read that goes through the log (inside MULTI, or behind the connection's
// own writes) builds it on the apply thread, which it holds meanwhile, as Redis holds its one
// thread (in a cluster that thread also keeps the partitions' heartbeats).
constexpr uint64_t kLcsInlineCells = 1 << 20;
constexpr uint64_t kLcsTableBytes = kMaxStringBytes;

template <typename Ctx>
void LcsCmd(Ctx& ctx) {
  std::string a, b;
  {
    MultiKeyRead whole(ctx, 2);
    ReadString(ctx, ctx.args[1], &a, nullptr);
    ReadString(ctx, ctx.args[2], &b, nullptr);
  }
  if (ctx.wrong_type) {  // LCS's own text, where other commands answer WRONGTYPE
    ctx.wrong_type = false;
    return ctx.out.Error("ERR The specified keys must contain string values");
  }
  LcsOptions o;
  std::string err = ParseLcsOptions(ctx.args, &o);
  if (!err.empty()) return ctx.out.Error(err);
  const uint64_t cells = (a.size() + 1) * (b.size() + 1);
  if (cells * sizeof(uint32_t) > kLcsTableBytes) {
    return ctx.out.Error(
        "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
  }
  if constexpr (std::is_same_v<Ctx, CommandContext>) {
    if (cells > kLcsInlineCells) {
      return ctx.Offload([a = std::move(a), b = std::move(b), o](protocol::ReplyWriter& out) {
        LcsReply(a, b, o, out);
      });
    }
  }
  LcsReply(a, b, o, ctx.out);
}

// ---- writes: checked on the I/O thread, then proposed ----

void SetCheck(CommandContext& ctx) {
  StringSetOptions o;
  std::string err = ParseSetOptions(ctx.args, 3, SetCommandType::kSet, ctx.now_ms, &o);
  if (!err.empty()) return ctx.out.Error(err);
  ctx.Propose(ctx.Partition(ctx.args[1]));
}

// Parses SET's options again on the apply side and resolves the expiry at the entry's time;
// on error replies and returns false. (GETEX judges its time only once the key is found.)
bool SetApplyOptions(ApplyContext& ctx, StringSetOptions* o, int64_t* expire_at) {
  std::string err = ParseSetOptions(ctx.args, 3, SetCommandType::kSet, ctx.now_ms, o);
  *expire_at = 0;
  if (err.empty()) o->Resolve(ctx.now_ms, ctx.args[0], expire_at, &err);
  if (err.empty()) return true;
  ctx.out.Error(err);
  return false;
}

void SetApply(ApplyContext& ctx) {
  StringSetOptions o;
  int64_t expire_at;
  if (!SetApplyOptions(ctx, &o, &expire_at)) return;
  std::string old;
  int64_t old_expire = 0;
  const bool need_old = o.nx || o.xx || o.get || o.keepttl;
  // SET replaces a key of any type; only its GET option wants a string.
  storage::ValueType type = storage::ValueType::kString;
  const bool exists = need_old && ctx.GetValue(ctx.args[1], &type, &old, &old_expire);
  if (o.get && exists && type != storage::ValueType::kString) {
    return ctx.out.Error(kErrWrongType);
  }
  if (o.get && !exists) ctx.Notify(kNotifyKeyMiss, "keymiss", ctx.args[1]);  // a read, as Redis
  if ((o.nx && exists) || (o.xx && !exists)) {
    if (o.get && exists) return ctx.out.Bulk(old);
    return ctx.out.Null();
  }
  if (o.keepttl && exists) expire_at = old_expire;
  if (expire_at != 0 && expire_at <= ctx.now_ms) {
    // Already expired (EXAT/PXAT in the past). Redis stores it, raising what a SET with a
    // TTL raises, and its expiry raises "expired" later; here it is gone at once, and says so.
    if (ctx.events != nullptr && !ctx.Exists(ctx.args[1])) {
      ctx.Notify(kNotifyNew, "new", ctx.args[1]);
    }
    ctx.Delete(ctx.args[1]);
    ctx.Notify(kNotifyString, "set", ctx.args[1]);
    ctx.Notify(kNotifyGeneric, "expire", ctx.args[1]);
    ctx.Notify(kNotifyExpired, "expired", ctx.args[1]);
  } else {
    ctx.PutString(ctx.args[1], ctx.args[2], expire_at);
    ctx.Notify(kNotifyString, "set", ctx.args[1]);
    if (expire_at != 0 && !o.keepttl) ctx.Notify(kNotifyGeneric, "expire", ctx.args[1]);
  }
  if (!o.get) return ctx.out.Ok();
  if (exists) return ctx.out.Bulk(old);
  ctx.out.Null();
}

void ProposeKey1(CommandContext& ctx) { ctx.Propose(ctx.Partition(ctx.args[1])); }

void SetNxApply(ApplyContext& ctx) {
  if (ctx.Exists(ctx.args[1])) return ctx.out.Integer(0);
  ctx.PutString(ctx.args[1], ctx.args[2], 0);
  ctx.Notify(kNotifyString, "set", ctx.args[1]);
  ctx.out.Integer(1);
}

// SETEX key seconds value / PSETEX key ms value: the absolute expiry at `now_ms`, or an error
// text (Redis's: a time that is not a number is not an integer, not an invalid expire).
std::string SetExError(Args args, int64_t now_ms, int64_t* abs) {
  int64_t amount;
  if (!ParseInt64(args[2], &amount)) return std::string(kErrNotInteger);
  const bool seconds = ToLower(args[0]) == "setex";
  if (amount <= 0 || !ExpireToAbsolute(amount, seconds, true, now_ms, abs)) {
    return ErrInvalidExpire(args[0]);
  }
  return "";
}

void SetExCheck(CommandContext& ctx) {
  int64_t abs;
  std::string err = SetExError(ctx.args, ctx.now_ms, &abs);
  if (!err.empty()) return ctx.out.Error(err);
  ctx.Propose(ctx.Partition(ctx.args[1]));
}

void SetExApply(ApplyContext& ctx) {
  int64_t abs;
  std::string err = SetExError(ctx.args, ctx.now_ms, &abs);
  if (!err.empty()) return ctx.out.Error(err);
  ctx.PutString(ctx.args[1], ctx.args[3], abs);
  ctx.Notify(kNotifyString, "set", ctx.args[1]);
  ctx.Notify(kNotifyGeneric, "expire", ctx.args[1]);
  ctx.out.Ok();
}

void GetSetApply(ApplyContext& ctx) {
  std::string old;
  const bool exists = ctx.GetString(ctx.args[1], &old, nullptr);
  if (!exists) ctx.Notify(kNotifyKeyMiss, "keymiss", ctx.args[1]);
  ctx.PutString(ctx.args[1], ctx.args[2], 0);
  ctx.Notify(kNotifyString, "set", ctx.args[1]);
  if (exists) return ctx.out.Bulk(old);
  ctx.out.Null();
}

void GetDelApply(ApplyContext& ctx) {
  std::string old;
  if (!ReadString(ctx, ctx.args[1], &old, nullptr)) return ctx.out.Null();  // keymiss too
  ctx.Delete(ctx.args[1]);
  ctx.Notify(kNotifyGeneric, "del", ctx.args[1]);
  ctx.out.Bulk(old);
}

void GetExCheck(CommandContext& ctx) {
  StringSetOptions o;
  std::string err = ParseSetOptions(ctx.args, 2, SetCommandType::kGetEx, ctx.now_ms, &o);
  if (!err.empty()) return ctx.out.Error(err);
  // Even without options (it then changes nothing) through the log, as every write: a read
  // here would run ahead of this connection's writes still in flight (SET k v; GETEX k
  // answered the old value) and, in a cluster, skip the leader-lease check reads get.
  ctx.Propose(ctx.Partition(ctx.args[1]));
}

void GetExApply(ApplyContext& ctx) {
  StringSetOptions o;
  std::string err = ParseSetOptions(ctx.args, 2, SetCommandType::kGetEx, ctx.now_ms, &o);
  if (!err.empty()) return ctx.out.Error(err);
  std::string v;
  int64_t old_expire;
  if (!ReadString(ctx, ctx.args[1], &v, &old_expire)) return ctx.out.Null();  // keymiss too
  // The time only now that the key is there (Redis's order).
  int64_t expire_at;
  if (!o.ParseAndResolve(ctx.now_ms, ctx.args[0], &expire_at, &err)) return ctx.out.Error(err);
  if (o.persist && old_expire != 0) {
    ctx.PutString(ctx.args[1], v, 0);
    ctx.Notify(kNotifyGeneric, "persist", ctx.args[1]);
  } else if (expire_at != 0) {
    if (expire_at <= ctx.now_ms) {
      ctx.Delete(ctx.args[1]);
      ctx.Notify(kNotifyGeneric, "del", ctx.args[1]);
    } else {
      ctx.PutString(ctx.args[1], v, expire_at);
      ctx.Notify(kNotifyGeneric, "expire", ctx.args[1]);
    }
  }
  ctx.out.Bulk(v);
}

// MSET and MSETNX take key-value pairs: an error text for a key without its value, or "".
std::string MSetError(Args args) {
  return args.size() % 2 == 0 ? ErrWrongArity(args[0]) : std::string();
}

void MSetCheck(CommandContext& ctx) {
  std::string err = MSetError(ctx.args);
  if (!err.empty()) return ctx.out.Error(err);
  ctx.Propose(ctx.Partition(ctx.args[1]));
}

void PutPairs(ApplyContext& ctx) {
  for (size_t i = 1; i + 1 < ctx.args.size(); i += 2) {
    ctx.PutString(ctx.args[i], ctx.args[i + 1], 0);
    ctx.Notify(kNotifyString, "set", ctx.args[i]);
  }
}

void MSetApply(ApplyContext& ctx) {
  std::string err = MSetError(ctx.args);
  if (!err.empty()) return ctx.out.Error(err);
  PutPairs(ctx);
  ctx.out.Ok();
}

void MSetNxApply(ApplyContext& ctx) {
  std::string err = MSetError(ctx.args);
  if (!err.empty()) return ctx.out.Error(err);
  for (size_t i = 1; i + 1 < ctx.args.size(); i += 2) {
    if (ctx.Exists(ctx.args[i])) return ctx.out.Integer(0);
  }
  PutPairs(ctx);
  ctx.out.Integer(1);
}

// Whether appending `add` bytes to `have` passes `limit`: on the I/O thread max-value-bytes
// against the key as it reads it there, on apply the fixed kMaxStringBytes against the key
// as the entry finds it (every replica decides alike).
bool AppendTooBig(size_t have, size_t add, int64_t limit) {
  return static_cast<int64_t>(have + add) > limit;
}

void AppendCheck(CommandContext& ctx) {
  std::string v;
  const int64_t limit = ctx.server.config().max_value_bytes.load();
  if (ReadString(ctx, ctx.args[1], &v, nullptr, /*notify_miss=*/false) &&
      AppendTooBig(v.size(), ctx.args[2].size(), limit)) {
    return ctx.out.Error(kErrTooBig);
  }
  ctx.Propose(ctx.Partition(ctx.args[1]));
}

void AppendApply(ApplyContext& ctx) {
  std::string v;
  int64_t expire_at = 0;
  ctx.GetString(ctx.args[1], &v, &expire_at);
  if (AppendTooBig(v.size(), ctx.args[2].size(), kMaxStringBytes)) return ctx.out.Error(kErrTooBig);
  v.append(ctx.args[2]);
  ctx.PutString(ctx.args[1], v, expire_at);
  ctx.Notify(kNotifyString, "append", ctx.args[1]);
  ctx.out.Integer(static_cast<int64_t>(v.size()));
}

// Whether `size` bytes written at `offset` (>= 0) end within `limit`, without computing
// offset + size (which overflows for offsets near INT64_MAX).
bool FitsAt(int64_t offset, size_t size, int64_t limit) {
  return size <= static_cast<uint64_t>(limit) && offset <= limit - static_cast<int64_t>(size);
}

// SETRANGE key offset value, checked in Redis's order: the offset a number, not negative, and
// (for a value that writes anything: an empty one only answers the length) the end within
// `limit` (max-value-bytes on the I/O thread, kMaxStringBytes on apply). An error text, or "".
std::string SetRangeError(Args args, int64_t limit, int64_t* offset) {
  if (!ParseInt64(args[2], offset)) return std::string(kErrNotInteger);
  if (*offset < 0) return "ERR offset is out of range";
  if (!args[3].empty() && !FitsAt(*offset, args[3].size(), limit)) return std::string(kErrTooBig);
  return "";
}

void SetRangeCheck(CommandContext& ctx) {
  int64_t offset;
  const int64_t limit = std::min(kMaxStringBytes, ctx.server.config().max_value_bytes.load());
  std::string err = SetRangeError(ctx.args, limit, &offset);
  if (!err.empty()) {
    // Redis checks the key's type before the size: a key of another type answers WRONGTYPE
    // (through ctx.wrong_type).
    if (err == kErrTooBig) ReadString(ctx, ctx.args[1], nullptr, nullptr, /*notify_miss=*/false);
    return ctx.out.Error(err);
  }
  ctx.Propose(ctx.Partition(ctx.args[1]));
}

void SetRangeApply(ApplyContext& ctx) {
  int64_t offset;
  std::string err = SetRangeError(ctx.args, kMaxStringBytes, &offset);
  if (!err.empty()) {
    if (err == kErrTooBig) ctx.GetString(ctx.args[1], nullptr, nullptr);  // WRONGTYPE first
    return ctx.out.Error(err);
  }
  std::string_view value = ctx.args[3];
  std::string v;
  int64_t expire_at = 0;
  const bool exists = ctx.GetString(ctx.args[1], &v, &expire_at);
  if (value.empty()) return ctx.out.Integer(exists ? static_cast<int64_t>(v.size()) : 0);
  const auto end = static_cast<size_t>(offset) + value.size();
  if (v.size() < end) v.resize(end, '\0');
  v.replace(offset, value.size(), value);
  ctx.PutString(ctx.args[1], v, expire_at);
  ctx.Notify(kNotifyString, "setrange", ctx.args[1]);
  ctx.out.Integer(static_cast<int64_t>(v.size()));
}

// INCR family. The increment is checked on the I/O thread, the current value at apply.
bool IncrAmount(Args args, int64_t* incr, std::string* err) {
  const std::string name = ToLower(args[0]);
  *incr = 1;
  if (name == "incrby" || name == "decrby") {
    if (!ParseInt64(args[2], incr)) {
      *err = kErrNotInteger;
      return false;
    }
  }
  if (name == "decr" || name == "decrby") {
    if (*incr == INT64_MIN) {
      *err = "ERR decrement would overflow";
      return false;
    }
    *incr = -*incr;
  }
  return true;
}

void IncrCheck(CommandContext& ctx) {
  int64_t incr;
  std::string err;
  if (!IncrAmount(ctx.args, &incr, &err)) return ctx.out.Error(err);
  ctx.Propose(ctx.Partition(ctx.args[1]));
}

void IncrApply(ApplyContext& ctx) {
  int64_t incr;
  std::string err;
  if (!IncrAmount(ctx.args, &incr, &err)) return ctx.out.Error(err);
  std::string v;
  int64_t expire_at = 0, cur = 0;
  if (ctx.GetString(ctx.args[1], &v, &expire_at) && !ParseInt64(v, &cur)) {
    return ctx.out.Error(kErrNotInteger);
  }
  if ((incr < 0 && cur < 0 && incr < INT64_MIN - cur) ||
      (incr > 0 && cur > 0 && incr > INT64_MAX - cur)) {
    return ctx.out.Error(kErrOverflow);
  }
  cur += incr;
  ctx.PutString(ctx.args[1], std::to_string(cur), expire_at);
  ctx.Notify(kNotifyString, "incrby", ctx.args[1]);
  ctx.out.Integer(cur);
}

// Redis's INCRBYFLOAT looks at the key's type before its increment, so a bad increment's
// error depends on what the key holds when the command runs (in MULTI, at EXEC): the apply
// decides it. (A bad increment costs a log entry; no check here could be right.)
void IncrByFloatCheck(CommandContext& ctx) { ctx.Propose(ctx.Partition(ctx.args[1])); }

void IncrByFloatApply(ApplyContext& ctx) {
  long double incr = 0, cur = 0;
  std::string v;
  int64_t expire_at = 0;
  const bool exists = ctx.GetString(ctx.args[1], &v, &expire_at);
  if (ctx.wrong_type) return;
  if (!ParseLongDouble(ctx.args[2], &incr)) return ctx.out.Error(kErrNotFloat);
  if (exists && !ParseLongDouble(v, &cur)) return ctx.out.Error(kErrNotFloat);
  cur += incr;
  if (std::isnan(cur) || std::isinf(cur)) {
    return ctx.out.Error("ERR increment would produce NaN or Infinity");
  }
  std::string s = protocol::FormatLongDouble(cur);
  ctx.PutString(ctx.args[1], s, expire_at);
  ctx.Notify(kNotifyString, "incrbyfloat", ctx.args[1]);
  ctx.out.Bulk(s);
}

// Redis 7.0's "fast" flags: every string read but the ranges and LCS, and the writes of one
// small value.
CommandSpec Read(std::string name, int arity, Handler h, ApplyFn a, int first, int last, int step,
                 std::string summary) {
  const bool slow = name == "getrange" || name == "substr" || name == "lcs";
  return MakeCommand(std::move(name), arity, kCmdReadOnly | (slow ? 0 : uint32_t{kCmdFast}), h, a,
                     "string", std::move(summary), first, last, step);
}

CommandSpec Write(std::string name, int arity, Handler h, ApplyFn a, int first, int last, int step,
                  std::string summary) {
  static const std::set<std::string, std::less<>> kFast = {
      "setnx", "getset", "getdel", "getex", "append", "incr", "incrby", "decr", "decrby",
      "incrbyfloat"};
  const uint32_t fast = kFast.contains(name) ? uint32_t{kCmdFast} : 0;
  return MakeCommand(std::move(name), arity, kCmdWrite | fast, h, a, "string",
                     std::move(summary), first, last, step);
}

}  // namespace

void RegisterStringFamily(CommandTable* t) {
  t->Add(Read("get", 2, GetCmd<CommandContext>, GetCmd<ApplyContext>, 1, 1, 1,
              "Returns the string value of a key."));
  t->Add(Read("mget", -2, MGetCmd<CommandContext>, MGetCmd<ApplyContext>, 1, -1, 1,
              "Atomically returns the string values of one or more keys."));
  t->Add(Read("strlen", 2, StrlenCmd<CommandContext>, StrlenCmd<ApplyContext>, 1, 1, 1,
              "Returns the length of a string value."));
  t->Add(Read("getrange", 4, GetRangeCmd<CommandContext>, GetRangeCmd<ApplyContext>, 1, 1, 1,
              "Returns a substring of the string stored at a key."));
  t->Add(Read("lcs", -3, LcsCmd<CommandContext>, LcsCmd<ApplyContext>, 1, 2, 1,
              "Finds the longest common substring."));
  t->Add(Read("substr", 4, GetRangeCmd<CommandContext>, GetRangeCmd<ApplyContext>, 1, 1, 1,
              "Returns a substring from string stored at key."));
  t->Add(Write("set", -3, SetCheck, SetApply, 1, 1, 1,
               "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist."));
  t->Add(Write("setnx", 3, ProposeKey1, SetNxApply, 1, 1, 1,
               "Set the string value of a key only when the key doesn't exist."));
  t->Add(Write("setex", 4, SetExCheck, SetExApply, 1, 1, 1,
               "Sets the string value and expiration time of a key. Creates the key if it doesn't exist."));
  t->Add(Write("psetex", 4, SetExCheck, SetExApply, 1, 1, 1,
               "Sets both string value and expiration time in milliseconds of a key."));
  t->Add(Write("getset", 3, ProposeKey1, GetSetApply, 1, 1, 1,
               "Returns the previous string value of a key after setting it to a new value."));
  t->Add(Write("getdel", 2, ProposeKey1, GetDelApply, 1, 1, 1,
               "Returns the string value of a key after deleting the key."));
  t->Add(Write("getex", -2, GetExCheck, GetExApply, 1, 1, 1,
               "Returns the string value of a key after setting its expiration time."));
  t->Add(Write("mset", -3, MSetCheck, MSetApply, 1, -1, 2,
               "Atomically creates or modifies the string values of one or more keys."));
  t->Add(Write("msetnx", -3, MSetCheck, MSetNxApply, 1, -1, 2,
               "Atomically modifies the string values of one or more keys only when all keys don't exist."));
  t->Add(Write("append", 3, AppendCheck, AppendApply, 1, 1, 1,
               "Appends a string to the value of a key. Creates the key if it doesn't exist."));
  t->Add(Write("setrange", 4, SetRangeCheck, SetRangeApply, 1, 1, 1,
               "Overwrites a part of a string value with another by an offset."));
  t->Add(Write("incr", 2, IncrCheck, IncrApply, 1, 1, 1,
               "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."));
  t->Add(Write("incrby", 3, IncrCheck, IncrApply, 1, 1, 1,
               "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist."));
  t->Add(Write("decr", 2, IncrCheck, IncrApply, 1, 1, 1,
               "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."));
  t->Add(Write("decrby", 3, IncrCheck, IncrApply, 1, 1, 1,
               "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist."));
  t->Add(Write("incrbyfloat", 3, IncrByFloatCheck, IncrByFloatApply, 1, 1, 1,
               "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist."));
}

}  // namespace flin::server

// Bits of strings: GETBIT SETBIT BITCOUNT BITPOS BITOP BITFIELD BITFIELD_RO — with Redis
// 7.0's semantics and errors. A string is a bit array, most significant bit of each byte
// first: bit i is 0x80 >> (i % 8) of byte i / 8, and bits past the end are 0. Reads answer on
// the I/O thread; writes check their arguments there and are applied from the log, where
// SETBIT, BITOP and BITFIELD re-check against limits every replica shares. BITFIELD is a read
// when it has only GETs (routed, and read through the log, as GETBIT is) and otherwise a
// write, applied whole from one log entry.

#include <algorithm>
#include <bit>
#include <cstring>
#include <vector>

#include "common/strings.h"
#include "server/client_conn.h"
#include "server/command.h"
#include "server/keyspace.h"
#include "server/server.h"

namespace flin::server {
namespace {

constexpr std::string_view kErrBitOffset = "ERR bit offset is not an integer or out of range";
constexpr std::string_view kErrBitValue = "ERR bit is not an integer or out of range";

// SETBIT's offset: a bit whose byte lies within `max_bytes` (Redis: proto-max-bulk-len).
bool ParseBitOffset(std::string_view arg, int64_t max_bytes, int64_t* offset) {
  return ParseInt64(arg, offset) && *offset >= 0 && (*offset >> 3) < max_bytes;
}

int Bit(std::string_view s, int64_t i) {
  return (static_cast<uint8_t>(s[i >> 3]) >> (7 - (i & 7))) & 1;
}

// BITCOUNT's and BITPOS's [start, end]: in bytes, or in bits with `bits`; negative counts
// from the end; clamped to the string. The bits covered, inclusive; false if none.
bool RangeBits(int64_t start, int64_t end, int64_t len, bool bits, int64_t* first,
               int64_t* last) {
  const int64_t total = bits ? len * 8 : len;
  if (start < 0) start += total;
  if (end < 0) end += total;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= total) end = total - 1;
  if (start > end) return false;
  *first = bits ? start : start * 8;
  *last = bits ? end : end * 8 + 7;
  return true;
}

// The optional BYTE | BIT unit; false on anything else.
bool ParseUnit(std::string_view arg, bool* bits) {
  const std::string u = ToLower(arg);
  if (u != "byte" && u != "bit") return false;
  *bits = u == "bit";
  return true;
}

uint64_t CountOnes(std::string_view s, int64_t first, int64_t last) {
  uint64_t n = 0;
  int64_t i = first;
  for (; i <= last && (i & 7) != 0; ++i) n += Bit(s, i);
  for (; i + 63 <= last; i += 64) {
    uint64_t word;
    std::memcpy(&word, s.data() + (i >> 3), sizeof(word));
    n += std::popcount(word);
  }
  for (; i + 7 <= last; i += 8) n += std::popcount(static_cast<uint8_t>(s[i >> 3]));
  for (; i <= last; ++i) n += Bit(s, i);
  return n;
}

// The first bit equal to `want` in [first, last], or -1.
int64_t FindBit(std::string_view s, int64_t first, int64_t last, int want) {
  const uint8_t skip = want ? 0x00 : 0xff;  // a byte with no such bit
  int64_t i = first;
  for (; i <= last && (i & 7) != 0; ++i) {
    if (Bit(s, i) == want) return i;
  }
  while (i + 7 <= last && static_cast<uint8_t>(s[i >> 3]) == skip) i += 8;
  for (; i <= last; ++i) {
    if (Bit(s, i) == want) return i;
  }
  return -1;
}

// ---- reads ----

template <typename Ctx>
void GetBitCmd(Ctx& ctx) {
  int64_t offset;
  if (!ParseBitOffset(ctx.args[2], kMaxStringBytes, &offset)) return ctx.out.Error(kErrBitOffset);
  std::string v;
  ReadString(ctx, ctx.args[1], &v, nullptr);
  ctx.out.Integer((offset >> 3) < static_cast<int64_t>(v.size()) ? Bit(v, offset) : 0);
}

// BITCOUNT key [start end [BYTE | BIT]]. As Redis 7.0: a missing key answers 0 before the
// other arguments are looked at.
template <typename Ctx>
void BitCountCmd(Ctx& ctx) {
  std::string v;
  if (!ReadString(ctx, ctx.args[1], &v, nullptr)) return ctx.out.Integer(0);
  const size_t argc = ctx.args.size();
  int64_t start = 0, end = -1;
  bool bits = false;
  if (argc == 4 || argc == 5) {
    if (!ParseInt64(ctx.args[2], &start) || !ParseInt64(ctx.args[3], &end)) {
      return ctx.out.Error(kErrNotInteger);
    }
    if (start < 0 && end < 0 && start > end) return ctx.out.Integer(0);  // before the unit
    if (argc == 5 && !ParseUnit(ctx.args[4], &bits)) return ctx.out.Error(kErrSyntax);
  } else if (argc != 2) {
    return ctx.out.Error(kErrSyntax);
  }
  int64_t first, last;
  if (!RangeBits(start, end, static_cast<int64_t>(v.size()), bits, &first, &last)) {
    return ctx.out.Integer(0);
  }
  ctx.out.Integer(static_cast<int64_t>(CountOnes(v, first, last)));
}

// BITPOS key bit [start [end [BYTE | BIT]]]. A missing key is all zeros: 0 for a clear bit,
// -1 for a set one. Without an end, a string of ones has its first clear bit just past its
// end; with one, the search stays within the range (-1).
template <typename Ctx>
void BitPosCmd(Ctx& ctx) {
  int64_t want;
  if (!ParseInt64(ctx.args[2], &want)) return ctx.out.Error(kErrNotInteger);
  if (want != 0 && want != 1) return ctx.out.Error("ERR The bit argument must be 1 or 0.");
  std::string v;
  if (!ReadString(ctx, ctx.args[1], &v, nullptr)) return ctx.out.Integer(want ? -1 : 0);
  const size_t argc = ctx.args.size();
  if (argc > 6) return ctx.out.Error(kErrSyntax);
  int64_t start = 0, end = -1;
  bool bits = false;
  const bool end_given = argc >= 5;
  if (argc >= 4 && !ParseInt64(ctx.args[3], &start)) return ctx.out.Error(kErrNotInteger);
  if (argc == 6 && !ParseUnit(ctx.args[5], &bits)) return ctx.out.Error(kErrSyntax);
  if (end_given && !ParseInt64(ctx.args[4], &end)) return ctx.out.Error(kErrNotInteger);
  int64_t first, last;
  if (!RangeBits(start, end, static_cast<int64_t>(v.size()), bits, &first, &last)) {
    return ctx.out.Integer(-1);
  }
  const int64_t at = FindBit(v, first, last, static_cast<int>(want));
  if (at < 0 && want == 0 && !end_given) return ctx.out.Integer(last + 1);
  ctx.out.Integer(at);
}

// ---- writes ----

// SETBIT key offset value: the offset (its byte within `max_bytes`), then the value, 0 or 1.
std::string SetBitError(Args args, int64_t max_bytes, int64_t* offset, int64_t* value) {
  if (!ParseBitOffset(args[2], max_bytes, offset)) return std::string(kErrBitOffset);
  if (!ParseInt64(args[3], value) || (*value != 0 && *value != 1)) {
    return std::string(kErrBitValue);
  }
  return "";
}

// The offset's limit is max-value-bytes on the proposing node (as SETRANGE's), and Redis's
// fixed 512 MiB on apply, the same on every replica.
void SetBitCheck(CommandContext& ctx) {
  const int64_t limit = std::min(kMaxStringBytes, ctx.server.config().max_value_bytes.load());
  int64_t offset, value;
  std::string err = SetBitError(ctx.args, limit, &offset, &value);
  if (!err.empty()) return ctx.out.Error(err);
  ctx.Propose(ctx.Partition(ctx.args[1]));
}

void SetBitApply(ApplyContext& ctx) {
  int64_t offset, value;
  std::string err = SetBitError(ctx.args, kMaxStringBytes, &offset, &value);
  if (!err.empty()) return ctx.out.Error(err);
  std::string v;
  int64_t expire_at = 0;
  const bool existed = ctx.GetString(ctx.args[1], &v, &expire_at);
  const size_t byte = static_cast<size_t>(offset >> 3);
  const bool grew = !existed || v.size() <= byte;
  if (v.size() <= byte) v.resize(byte + 1, '\0');
  const int old = Bit(v, offset);
  const auto mask = static_cast<uint8_t>(0x80 >> (offset & 7));
  v[byte] = static_cast<char>(value ? (static_cast<uint8_t>(v[byte]) | mask)
                                    : (static_cast<uint8_t>(v[byte]) & ~mask));
  ctx.PutString(ctx.args[1], v, expire_at);  // keeps the key's expiry, as Redis
  // As Redis: an event when the string was created or grew, or the bit changed.
  if (grew || old != (value ? 1 : 0)) ctx.Notify(kNotifyString, "setbit", ctx.args[1]);
  ctx.out.Integer(old);
}

enum class BitOp { kAnd, kOr, kXor, kNot };

std::string BitOpError(Args args, BitOp* op) {
  const std::string name = ToLower(args[1]);
  if (name == "and") {
    *op = BitOp::kAnd;
  } else if (name == "or") {
    *op = BitOp::kOr;
  } else if (name == "xor") {
    *op = BitOp::kXor;
  } else if (name == "not") {
    *op = BitOp::kNot;
  } else {
    return std::string(kErrSyntax);
  }
  if (*op == BitOp::kNot && args.size() != 4) {
    return "ERR BITOP NOT must be called with a single source key.";
  }
  return "";
}

void BitOpCheck(CommandContext& ctx) {
  BitOp op;
  std::string err = BitOpError(ctx.args, &op);
  if (!err.empty()) return ctx.out.Error(err);
  ctx.Propose(ctx.Partition(ctx.args[2]));
}

// BITOP op destkey key ...: destkey gets the result, as long as the longest source (missing
// keys are empty; shorter ones are padded with zeros), without expiry; an empty result
// deletes it. Answers the result's length. The sources are folded in one at a time, so at
// most the result and one source are in memory, however many keys the command names.
void BitOpApply(ApplyContext& ctx) {
  BitOp op;
  std::string err = BitOpError(ctx.args, &op);
  if (!err.empty()) return ctx.out.Error(err);
  std::string out, src;
  ReadString(ctx, ctx.args[3], &out, nullptr);  // (a missing source raises keymiss)
  if (op == BitOp::kNot) {
    for (char& c : out) c = static_cast<char>(~static_cast<uint8_t>(c));
  }
  for (size_t i = 4; i < ctx.args.size(); ++i) {
    src.clear();
    ReadString(ctx, ctx.args[i], &src, nullptr);
    // Bytes past a source's end are zeros: for AND that clears them (the zeros the resize
    // adds, and those of `out` past `src`), for OR and XOR it keeps them.
    if (out.size() < src.size()) out.resize(src.size(), '\0');
    for (size_t b = 0; b < out.size(); ++b) {
      const uint8_t s = b < src.size() ? static_cast<uint8_t>(src[b]) : 0;
      auto& r = reinterpret_cast<uint8_t&>(out[b]);
      if (op == BitOp::kAnd) r &= s;
      if (op == BitOp::kOr) r |= s;
      if (op == BitOp::kXor) r ^= s;
    }
  }
  const size_t len = out.size();
  if (len == 0) {
    if (ctx.Exists(ctx.args[2])) {
      ctx.Delete(ctx.args[2]);
      ctx.Notify(kNotifyGeneric, "del", ctx.args[2]);
    }
  } else {
    ctx.PutString(ctx.args[2], out, 0);
    ctx.Notify(kNotifyString, "set", ctx.args[2]);
  }
  ctx.out.Integer(static_cast<int64_t>(len));
}

// ---- BITFIELD ----

// One GET, SET or INCRBY of a BITFIELD, with the OVERFLOW in force where it stands.
struct BitFieldOp {
  enum class Kind { kGet, kSet, kIncrBy } kind;
  enum class Overflow { kWrap, kSat, kFail } overflow;
  bool is_signed;
  int bits;         // 1..64 signed, 1..63 unsigned
  int64_t offset;   // of the field's first bit
  int64_t operand;  // SET's value, INCRBY's increment
};

struct BitField {
  std::vector<BitFieldOp> ops;
  bool writes = false;        // a SET or an INCRBY
  int64_t last_written = -1;  // the last bit a SET or INCRBY covers (the string grows to it)
};

constexpr std::string_view kErrBitFieldType =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but "
    "i64 is.";

// i1..i64, u1..u63, as Redis reads it (a C string: up to a NUL byte).
bool ParseFieldType(std::string_view arg, bool* is_signed, int* bits) {
  arg = arg.substr(0, arg.find('\0'));
  int64_t n;
  if (arg.empty() || (arg[0] != 'i' && arg[0] != 'u') || !ParseInt64(arg.substr(1), &n)) {
    return false;
  }
  *is_signed = arg[0] == 'i';
  if (n < 1 || n > (*is_signed ? 64 : 63)) return false;
  *bits = static_cast<int>(n);
  return true;
}

// A field's offset in bits: N, or #N for the N-th field of this width. An #N whose product
// overflows is refused (Redis 7.0 wraps it, and may land on an unrelated offset).
bool ParseFieldOffset(std::string_view arg, int bits, int64_t max_bytes, int64_t* offset) {
  const bool nth = !arg.empty() && arg[0] == '#';
  int64_t n;
  if (!ParseInt64(arg.substr(nth ? 1 : 0), &n) || n < 0) return false;
  if (nth && __builtin_mul_overflow(n, bits, &n)) return false;
  *offset = n;
  return (n >> 3) < max_bytes;
}

// BITFIELD's subcommands (args[2..]) as Redis 7.0 parses them: "" or the first error. Offsets
// of SET and INCRBY, which grow the string, lie within `max_write_bytes`; GET's within Redis's
// 512 MiB.
std::string ParseBitField(Args args, int64_t max_write_bytes, BitField* bf) {
  using Kind = BitFieldOp::Kind;
  using Overflow = BitFieldOp::Overflow;
  Overflow overflow = Overflow::kWrap;
  for (size_t i = 2; i < args.size();) {
    const std::string sub = ToLower(args[i]);
    const size_t left = args.size() - i - 1;
    if (sub == "overflow" && left >= 1) {
      const std::string how = ToLower(args[i + 1]);
      if (how == "wrap") {
        overflow = Overflow::kWrap;
      } else if (how == "sat") {
        overflow = Overflow::kSat;
      } else if (how == "fail") {
        overflow = Overflow::kFail;
      } else {
        return "ERR Invalid OVERFLOW type specified";
      }
      i += 2;
      continue;
    }
    BitFieldOp op{Kind::kGet, overflow, false, 0, 0, 0};
    if (sub == "get" && left >= 2) {
      op.kind = Kind::kGet;
    } else if (sub == "set" && left >= 3) {
      op.kind = Kind::kSet;
    } else if (sub == "incrby" && left >= 3) {
      op.kind = Kind::kIncrBy;
    } else {
      return std::string(kErrSyntax);
    }
    if (!ParseFieldType(args[i + 1], &op.is_signed, &op.bits)) {
      return std::string(kErrBitFieldType);
    }
    const bool get = op.kind == Kind::kGet;
    if (!ParseFieldOffset(args[i + 2], op.bits, get ? kMaxStringBytes : max_write_bytes,
                          &op.offset)) {
      return std::string(kErrBitOffset);
    }
    if (!get) {
      if (!ParseInt64(args[i + 3], &op.operand)) return std::string(kErrNotInteger);
      bf->writes = true;
      bf->last_written = std::max(bf->last_written, op.offset + op.bits - 1);
    }
    bf->ops.push_back(op);
    i += get ? 3 : 4;
  }
  return "";
}

// Whether a BITFIELD writes (for routing, MULTI and the state machine). One that does not parse
// counts as a read: it writes nothing, and its handler or apply function answers the error.
bool BitFieldWrites(Args args) {
  BitField bf;
  return ParseBitField(args, kMaxStringBytes, &bf).empty() && bf.writes;
}

// The `bits` bits at `offset`, most significant first; bits past the end are 0.
uint64_t ReadField(std::string_view s, int64_t offset, int bits) {
  uint64_t v = 0;
  for (int64_t i = offset; i < offset + bits; ++i) {
    v = (v << 1) | static_cast<uint64_t>((i >> 3) < static_cast<int64_t>(s.size()) ? Bit(s, i) : 0);
  }
  return v;
}

// Stores the low `bits` bits of `v` at `offset`, within `s`.
void WriteField(std::string& s, int64_t offset, int bits, uint64_t v) {
  for (int j = bits - 1; j >= 0; --j, ++offset) {
    auto& byte = reinterpret_cast<uint8_t&>(s[offset >> 3]);
    const auto mask = static_cast<uint8_t>(0x80 >> (offset & 7));
    byte = ((v >> j) & 1) ? (byte | mask) : (byte & ~mask);
  }
}

// A field's value as the reply shows it: unsigned, or signed from its top bit.
int64_t FieldValue(const BitFieldOp& op, uint64_t raw) {
  if (op.is_signed && op.bits < 64 && ((raw >> (op.bits - 1)) & 1)) raw |= ~uint64_t{0} << op.bits;
  return static_cast<int64_t>(raw);
}

// a - b, wrapping around as Redis's 64-bit arithmetic does.
int64_t WrapSub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}

// What a SET (`from` the value, `add` 0) or an INCRBY (`from` the field, `add` the increment)
// leaves in the field: the sum if the field's type holds it, else wrapped to the width (WRAP)
// or the bound it passed (SAT); false if FAIL refuses it. The bounds are checked exactly as
// Redis 7.0 checks them, wrap-arounds included: an unsigned SET reads its value as unsigned
// (a negative one is above the maximum), and a signed SET of a value so far below the minimum
// that max - value passes INT64_MAX counts as above the maximum (SAT stores the maximum).
bool FieldResult(const BitFieldOp& op, int64_t from, int64_t add, int64_t* out) {
  const uint64_t wrapped = static_cast<uint64_t>(from) + static_cast<uint64_t>(add);
  int over = 0;  // 1: above the maximum, -1: below the minimum
  int64_t max, min;
  if (op.is_signed) {
    max = op.bits == 64 ? INT64_MAX : (int64_t{1} << (op.bits - 1)) - 1;
    min = -max - 1;
    const int64_t max_add = WrapSub(max, from), min_add = WrapSub(min, from);
    const bool narrow = op.bits < 64;
    if (from > max || (narrow && add > max_add) || (from >= 0 && add > 0 && add > max_add)) {
      over = 1;
    } else if (from < min || (narrow && add < min_add) ||
               (from < 0 && add < 0 && add < min_add)) {
      over = -1;
    }
  } else {
    max = static_cast<int64_t>((uint64_t{1} << op.bits) - 1);
    min = 0;
    if (static_cast<uint64_t>(from) > static_cast<uint64_t>(max) ||
        (add > 0 && add > WrapSub(max, from))) {
      over = 1;
    } else if (add < 0 && add < WrapSub(0, from)) {
      over = -1;
    }
  }
  if (over == 0 || op.overflow == BitFieldOp::Overflow::kWrap) {
    const uint64_t field = op.bits == 64 ? wrapped : wrapped & ((uint64_t{1} << op.bits) - 1);
    *out = FieldValue(op, field);
    return true;
  }
  if (op.overflow == BitFieldOp::Overflow::kFail) return false;
  *out = over > 0 ? max : min;
  return true;
}

// Runs the operations on `v` in order, one reply each (nil for one FAIL refused). `v` covers
// every bit a SET or INCRBY writes. Returns how many SETs and INCRBYs changed a value.
int RunBitField(const BitField& bf, std::string& v, protocol::ReplyWriter& out) {
  int changes = 0;
  out.ArrayHeader(bf.ops.size());
  for (const BitFieldOp& op : bf.ops) {
    const int64_t old = FieldValue(op, ReadField(v, op.offset, op.bits));
    if (op.kind == BitFieldOp::Kind::kGet) {
      out.Integer(old);
      continue;
    }
    const bool set = op.kind == BitFieldOp::Kind::kSet;
    int64_t now;
    if (!FieldResult(op, set ? op.operand : old, set ? 0 : op.operand, &now)) {
      out.Null();
      continue;
    }
    WriteField(v, op.offset, op.bits, static_cast<uint64_t>(now));
    out.Integer(set ? old : now);
    if (now != old) ++changes;
  }
  return changes;
}

// The read side of BITFIELD (only GETs) and BITFIELD_RO.
template <typename Ctx>
void BitFieldRead(Ctx& ctx, const BitField& bf) {
  std::string v;
  ReadString(ctx, ctx.args[1], &v, nullptr);
  RunBitField(bf, v, ctx.out);
}

template <typename Ctx>
void BitFieldRoCmd(Ctx& ctx) {
  BitField bf;
  std::string err = ParseBitField(ctx.args, kMaxStringBytes, &bf);
  if (err.empty() && bf.writes) err = "ERR BITFIELD_RO only supports the GET subcommand";
  if (!err.empty()) return ctx.out.Error(err);
  BitFieldRead(ctx, bf);
}

// Only GETs: a read, answered here. Otherwise the offsets that grow the string are bounded as
// SETBIT's, and the command goes to the log.
void BitFieldCheck(CommandContext& ctx) {
  BitField bf;
  const int64_t limit = std::min(kMaxStringBytes, ctx.server.config().max_value_bytes.load());
  std::string err = ParseBitField(ctx.args, limit, &bf);
  if (!err.empty()) return ctx.out.Error(err);
  if (!bf.writes) return BitFieldRead(ctx, bf);
  ctx.Propose(ctx.Partition(ctx.args[1]));
}

// As Redis, the string grows to the last bit a SET or INCRBY covers (keeping its expiry) even
// if OVERFLOW FAIL refuses every one of them.
void BitFieldApply(ApplyContext& ctx) {
  BitField bf;
  std::string err = ParseBitField(ctx.args, kMaxStringBytes, &bf);
  if (!err.empty()) return ctx.out.Error(err);
  if (!bf.writes) return BitFieldRead(ctx, bf);  // read through the log
  std::string v;
  int64_t expire_at = 0;
  ctx.GetString(ctx.args[1], &v, &expire_at);
  const auto size = static_cast<size_t>((bf.last_written >> 3) + 1);
  if (v.size() < size) v.resize(size, '\0');
  const int changes = RunBitField(bf, v, ctx.out);
  ctx.PutString(ctx.args[1], v, expire_at);
  if (changes > 0) ctx.Notify(kNotifyString, "setbit", ctx.args[1]);
}

CommandSpec Read(std::string name, int arity, Handler h, ApplyFn a, std::string summary) {
  CommandSpec s = MakeCommand(std::move(name), arity, kCmdReadOnly, h, a, "bitmap",
                              std::move(summary), 1, 1, 1);
  s.since = "2.2.0";
  s.complexity = "O(N)";
  return s;
}

}  // namespace

void RegisterBitFamily(CommandTable* t) {
  CommandSpec getbit = Read("getbit", 3, GetBitCmd<CommandContext>, GetBitCmd<ApplyContext>,
                            "Returns a bit value by offset.");
  getbit.flags |= kCmdFast;
  getbit.complexity = "O(1)";
  t->Add(std::move(getbit));
  t->Add(Read("bitcount", -2, BitCountCmd<CommandContext>, BitCountCmd<ApplyContext>,
              "Counts the number of set bits (population counting) in a string."));
  t->Add(Read("bitpos", -3, BitPosCmd<CommandContext>, BitPosCmd<ApplyContext>,
              "Finds the first set (1) or clear (0) bit in a string."));
  CommandSpec setbit = MakeCommand("setbit", 4, kCmdWrite, SetBitCheck, SetBitApply, "bitmap",
                                   "Sets or clears the bit at offset of the string value. "
                                   "Creates the key if it doesn't exist.",
                                   1, 1, 1);
  setbit.since = "2.2.0";
  setbit.complexity = "O(1)";
  t->Add(std::move(setbit));
  CommandSpec bitop = MakeCommand("bitop", -4, kCmdWrite, BitOpCheck, BitOpApply, "bitmap",
                                  "Performs bitwise operations on multiple strings, and stores "
                                  "the result.",
                                  2, -1, 1);
  bitop.since = "2.6.0";
  bitop.complexity = "O(N)";
  t->Add(std::move(bitop));
  CommandSpec bitfield =
      MakeCommand("bitfield", -2, kCmdWrite, BitFieldCheck, BitFieldApply, "bitmap",
                  "Performs arbitrary bitfield integer operations on strings.", 1, 1, 1);
  bitfield.writes_if = BitFieldWrites;
  bitfield.since = "3.2.0";
  bitfield.complexity = "O(1) for each subcommand specified";
  t->Add(std::move(bitfield));
  CommandSpec bitfield_ro =
      Read("bitfield_ro", -2, BitFieldRoCmd<CommandContext>, BitFieldRoCmd<ApplyContext>,
           "Performs arbitrary read-only bitfield integer operations on strings.");
  bitfield_ro.flags |= kCmdFast;
  bitfield_ro.since = "6.0.0";
  bitfield_ro.complexity = "O(1) for each subcommand specified";
  t->Add(std::move(bitfield_ro));
}

}  // namespace flin::server

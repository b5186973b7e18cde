// Bits of strings: GETBIT SETBIT BITCOUNT BITPOS BITOP — with Redis 7.0's semantics and
// errors. A string is a bit array, most significant bit of each byte first: bit i is
// 0x80 >> (i % 8) of byte i / 8, and bits past the end are 0. Reads answer on the I/O
// thread; writes check their arguments there and are applied from the log, where SETBIT and
// BITOP re-check against limits every replica shares. (BITFIELD is not implemented: it
// answers "unknown command".)

#include <bit>
#include <cstring>

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

std::string SetBitError(Args args, int64_t max_bytes) {
  int64_t offset, value;
  if (!ParseBitOffset(args[2], max_bytes, &offset)) return std::string(kErrBitOffset);
  if (!ParseInt64(args[3], &value) || (value != 0 && value != 1)) {
    return std::string(kErrBitValue);
  }
  return "";
}

// The offset's limit is max-value-bytes on the proposing node (as SETRANGE's), and Redis's
// fixed 512 MiB on apply, the same on every replica.
void SetBitCheck(CommandContext& ctx) {
  const int64_t limit = std::min(kMaxStringBytes, ctx.server.config().max_value_bytes.load());
  std::string err = SetBitError(ctx.args, limit);
  if (!err.empty()) return ctx.out.Error(err);
  ctx.Propose(ctx.Partition(ctx.args[1]));
}

void SetBitApply(ApplyContext& ctx) {
  std::string err = SetBitError(ctx.args, kMaxStringBytes);
  if (!err.empty()) return ctx.out.Error(err);
  int64_t offset = 0, value = 0;
  ParseInt64(ctx.args[2], &offset);
  ParseInt64(ctx.args[3], &value);
  std::string v;
  int64_t expire_at = 0;
  ctx.GetString(ctx.args[1], &v, &expire_at);
  const size_t byte = static_cast<size_t>(offset >> 3);
  if (v.size() <= byte) v.resize(byte + 1, '\0');
  const int old = Bit(v, offset);
  const auto mask = static_cast<uint8_t>(0x80 >> (offset & 7));
  v[byte] = static_cast<char>(value ? (static_cast<uint8_t>(v[byte]) | mask)
                                    : (static_cast<uint8_t>(v[byte]) & ~mask));
  ctx.PutString(ctx.args[1], v, expire_at);  // keeps the key's expiry, as Redis
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
  ctx.GetString(ctx.args[3], &out, nullptr);
  if (op == BitOp::kNot) {
    for (char& c : out) c = static_cast<char>(~static_cast<uint8_t>(c));
  }
  for (size_t i = 4; i < ctx.args.size(); ++i) {
    src.clear();
    ctx.GetString(ctx.args[i], &src, nullptr);
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
    ctx.Delete(ctx.args[2]);
  } else {
    ctx.PutString(ctx.args[2], out, 0);
  }
  ctx.out.Integer(static_cast<int64_t>(len));
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
}

}  // namespace flin::server

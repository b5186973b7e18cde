// Serialization and introspection: DUMP RESTORE OBJECT, with Redis 7.0's semantics and
// errors. Payloads are Redis's (server/dump_payload.h), so values move between Redis and Flin
// both ways. DUMP and OBJECT are reads; RESTORE is a write, checked on the I/O thread and
// applied from the log like SET, its relative TTL resolved at the entry's timestamp.

#include "common/strings.h"
#include "server/command.h"
#include "server/dump_payload.h"
#include "server/keyspace.h"
#include "server/server.h"
#include "storage/hash_payload.h"

namespace flin::server {
namespace {

// ---- DUMP ----

// A value this large is serialized (LZF) on the background worker, not on the I/O thread.
constexpr size_t kDumpInlineBytes = 1 << 20;

std::string Dump(storage::ValueType type, std::string_view v) {
  switch (type) {
    case storage::ValueType::kHash:
      return DumpHash(v);
    case storage::ValueType::kSet:
      return DumpSet(v);
    case storage::ValueType::kList:
      return DumpList(v);
    case storage::ValueType::kString:
      break;
  }
  return DumpString(v);
}

template <typename Ctx>
void DumpCmd(Ctx& ctx) {
  std::string v;
  storage::ValueType type;
  if (!ReadValue(ctx, ctx.args[1], &type, &v, nullptr)) return ctx.out.Null();
  if constexpr (std::is_same_v<Ctx, CommandContext>) {
    if (v.size() > kDumpInlineBytes) {
      return ctx.Offload([type, v = std::move(v)](protocol::ReplyWriter& out) {
        out.Bulk(Dump(type, v));
      });
    }
  }
  ctx.out.Bulk(Dump(type, v));
}

// ---- RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]

struct RestoreOptions {
  bool replace = false, absttl = false;
};

// The options, parsed and checked as Redis's restoreCommand does, before anything else: an
// error text, or "". IDLETIME and FREQ are checked and then ignored (Flin keeps no access
// times or counters); one after the other is a syntax error, as in Redis.
std::string ParseRestoreOptions(Args args, RestoreOptions* o) {
  int64_t idle = -1, freq = -1;
  for (size_t j = 4; j < args.size(); ++j) {
    const std::string opt = ToLower(args[j]);
    const bool more = j + 1 < args.size();
    if (opt == "replace") {
      o->replace = true;
    } else if (opt == "absttl") {
      o->absttl = true;
    } else if (opt == "idletime" && more && freq == -1) {
      if (!ParseInt64(args[++j], &idle)) return std::string(kErrNotInteger);
      if (idle < 0) return "ERR Invalid IDLETIME value, must be >= 0";
    } else if (opt == "freq" && more && idle == -1) {
      if (!ParseInt64(args[++j], &freq)) return std::string(kErrNotInteger);
      if (freq < 0 || freq > 255) return "ERR Invalid FREQ value, must be >= 0 and <= 255";
    } else {
      return std::string(kErrSyntax);
    }
  }
  return "";
}

std::string TtlError(std::string_view text, int64_t* ttl) {
  if (!ParseInt64(text, ttl)) return std::string(kErrNotInteger);
  if (*ttl < 0) return "ERR Invalid TTL value, must be >= 0";
  return "";
}

std::string PayloadError(const LoadedPayload& p) {
  switch (p.fault) {
    case PayloadFault::kNone:
      return "";
    case PayloadFault::kVersionOrChecksum:
      return "ERR DUMP payload version or checksum are wrong";
    case PayloadFault::kBadFormat:
      return "ERR Bad data format";
    case PayloadFault::kNotString:
      return "ERR Bad data format: the payload holds a " + std::string(RdbTypeName(p.type)) +
             ", and Flin stores strings, hashes, sets and lists only";
    case PayloadFault::kTooLarge:
      return std::string(kErrTooBig);
  }
  return "ERR Bad data format";
}

// Errors come in Redis's order: the options, BUSYKEY (which needs the key, so the apply
// side's), the TTL, the payload. RestoreError has those the key cannot change, which the I/O
// thread answers and the apply side answers first too: the options; with REPLACE the TTL and
// the payload's faults. And, as an admission check like APPEND's, before BUSYKEY and the
// TTL, a string longer than the caller's limit: max-value-bytes on the I/O thread, the fixed
// 512 MiB on apply (the same on every replica). `payload` is args[3] as the caller loaded it:
// on the I/O thread only its footer and header, on apply decoded (faults of the data too).
std::string RestoreError(Args args, const LoadedPayload& payload, RestoreOptions* o) {
  std::string err = ParseRestoreOptions(args, o);
  if (!err.empty()) return err;
  if (payload.fault == PayloadFault::kTooLarge) return PayloadError(payload);
  if (!o->replace) return "";
  int64_t ttl;
  err = TtlError(args[2], &ttl);
  return err.empty() ? PayloadError(payload) : err;
}

void RestoreCheck(CommandContext& ctx) {
  const uint64_t limit =
      static_cast<uint64_t>(std::min(kMaxStringBytes, ctx.server.config().max_value_bytes.load()));
  RestoreOptions o;
  std::string err = RestoreError(ctx.args, LoadDumpPayload(ctx.args[3], limit, nullptr), &o);
  if (!err.empty()) return ctx.out.Error(err);
  ctx.Propose(ctx.Partition(ctx.args[1]));
}

void RestoreApply(ApplyContext& ctx) {
  // Decoded before the key is looked at, to answer a payload too large first; a payload
  // refused for BUSYKEY was decoded for nothing, but checked and read once only.
  std::string value;
  const LoadedPayload loaded = LoadDumpPayload(ctx.args[3], kMaxStringBytes, &value);
  RestoreOptions o;
  std::string err = RestoreError(ctx.args, loaded, &o);
  if (!err.empty()) return ctx.out.Error(err);
  const std::string_view key = ctx.args[1];
  const bool exists = ctx.Exists(key);
  if (exists && !o.replace) return ctx.out.Error("BUSYKEY Target key name already exists.");
  int64_t ttl;
  err = TtlError(ctx.args[2], &ttl);
  if (err.empty()) err = PayloadError(loaded);
  if (!err.empty()) return ctx.out.Error(err);
  // A relative TTL counts from the entry's time. One that overflows is already past, as in
  // Redis (whose sum wraps negative); so is an absolute time not after now: the key is not
  // created, and REPLACE still deletes the old one.
  int64_t expire_at = ttl;
  const bool past =
      ttl != 0 && ((!o.absttl && __builtin_add_overflow(ttl, ctx.now_ms, &expire_at)) ||
                   expire_at <= ctx.now_ms);
  if (past) {
    if (exists) {
      ctx.Delete(key);
      ctx.Notify(kNotifyGeneric, "del", key);
    }
  } else {
    if (exists) ctx.Notify(kNotifyNew, "new", key);  // replaced: deleted and added again
    ctx.PutValue(key, loaded.value_type, value, expire_at);
    ctx.Notify(kNotifyGeneric, "restore", key);
  }
  ctx.out.Ok();
}

// ---- OBJECT subcommand [key] ----

// Redis's encoding of a string made by SET or RESTORE (tryObjectEncoding): "int" for an
// integer in canonical form that fits a long (at most 20 characters), "embstr" up to 44
// bytes, "raw" beyond. Redis also keeps "raw" for a short string that APPEND, SETRANGE,
// SETBIT or BITOP changed in place, and "embstr" for INCRBYFLOAT's result; Flin stores no
// encoding, so it answers by the value alone.
std::string_view StringEncoding(std::string_view v) {
  int64_t n;
  if (v.size() <= 20 && ParseInt64(v, &n)) return "int";
  return v.size() <= 44 ? "embstr" : "raw";
}

constexpr const char* kObjectHelp[] = {
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
};

template <typename Ctx>
void ObjectCmd(Ctx& ctx) {
  const std::string sub = ToLower(ctx.args[1]);
  const bool keyed = sub == "encoding" || sub == "refcount" || sub == "idletime" || sub == "freq";
  if (!keyed && sub != "help") {
    return ctx.out.Error("ERR unknown subcommand '" + std::string(ctx.args[1].substr(0, 128)) +
                         "'. Try OBJECT HELP.");
  }
  if (ctx.args.size() != (keyed ? 3u : 2u)) return ctx.out.Error(ErrWrongArity("object|" + sub));
  if (sub == "help") {
    ctx.out.ArrayHeader(std::size(kObjectHelp));
    for (const char* line : kObjectHelp) ctx.out.Simple(line);
    return;
  }
  std::string v;
  storage::ValueType type;
  // (No keymiss, as Redis's OBJECT looks the key up without notifying.)
  if (!ReadValue(ctx, ctx.args[2], &type, &v, nullptr, /*notify_miss=*/false)) {
    return ctx.out.Null();
  }
  if (sub == "encoding") {
    if (type == storage::ValueType::kString) return ctx.out.Bulk(StringEncoding(v));
    // (The payload's first byte holds its flags: storage/hash_payload.h.)
    const bool table = !v.empty() && (static_cast<uint8_t>(v[0]) & storage::kHashtable);
    if (type == storage::ValueType::kList) return ctx.out.Bulk("quicklist");  // (Redis 7.0's only)
    if (table) return ctx.out.Bulk("hashtable");
    return ctx.out.Bulk(type == storage::ValueType::kSet ? "intset" : "listpack");
  }
  if (sub == "refcount") return ctx.out.Integer(1);  // values are never shared
  // What Redis answers when its maxmemory policy does not track these; Flin has no eviction
  // and tracks neither.
  if (sub == "idletime") {
    return ctx.out.Error(
        "ERR idle time not tracked: Flin keeps no access times (it has no "
        "LRU maxmemory policy)");
  }
  ctx.out.Error(
      "ERR access frequency not tracked: Flin keeps no access counters (it has no "
      "LFU maxmemory policy)");
}

CommandSpec Spec(std::string name, int arity, uint32_t flags, Handler h, ApplyFn a, int key,
                 std::string summary, std::string complexity) {
  CommandSpec s =
      MakeCommand(std::move(name), arity, flags, h, a, "generic", std::move(summary), key, key, 1);
  s.complexity = std::move(complexity);
  return s;
}

}  // namespace

void RegisterDumpFamily(CommandTable* t) {
  CommandSpec dump = Spec("dump", 2, kCmdReadOnly, DumpCmd<CommandContext>, DumpCmd<ApplyContext>,
                          1, "Returns a serialized representation of the value stored at a key.",
                          "O(1) to access the key and additional O(N*M) to serialize it, where N "
                          "is the number of Redis objects composing the value and M their "
                          "average size.");
  dump.since = "2.6.0";
  t->Add(std::move(dump));
  CommandSpec restore = Spec("restore", -4, kCmdWrite, RestoreCheck, RestoreApply, 1,
                             "Creates a key from the serialized representation of a value.",
                             "O(1) to create the new key and additional O(N*M) to reconstruct "
                             "the serialized value, where N is the number of Redis objects "
                             "composing the value and M their average size.");
  restore.since = "2.6.0";
  t->Add(std::move(restore));
  // The key is the third argument (OBJECT ENCODING key); OBJECT HELP has none.
  CommandSpec object =
      Spec("object", -2, kCmdReadOnly, ObjectCmd<CommandContext>, ObjectCmd<ApplyContext>, 2,
           "A container for object introspection commands.", "Depends on subcommand.");
  object.since = "2.2.3";
  object.subcommands = {"object|encoding", "object|refcount", "object|idletime", "object|freq",
                        "object|help"};
  t->Add(std::move(object));
}

}  // namespace flin::server

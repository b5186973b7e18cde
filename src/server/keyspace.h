#pragma once
// Read-side helpers for command handlers on I/O threads: look a key up in the store directly
// (no hand-off), counting keyspace hits and misses. Also the expire-option parsing shared by
// SET, GETEX and the EXPIRE family, used alike by handlers (to reject bad syntax before the
// log) and by apply functions (to act).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "server/command.h"

namespace flin::server {

// Strings are capped at Redis's proto-max-bulk-len default. A fixed number, so that every
// replica applying APPEND, SETRANGE or SETBIT makes the same decision.
inline constexpr int64_t kMaxStringBytes = 512LL << 20;

// The live value at `key`, of any type: type, payload and absolute expiry (0: none). false if
// absent, which raises a "keymiss" keyspace event (class m) as Redis's lookups for reading
// do, unless `notify_miss` is false (a write's check, OBJECT).
bool ReadValue(CommandContext& ctx, std::string_view key, storage::ValueType* type,
               std::string* payload, int64_t* expire_at_ms, bool notify_miss = true);
// The live string at `key`, as ReadValue. A key of another type reads as absent (no keymiss)
// and sets ctx.wrong_type: the command then answers WRONGTYPE (command.h).
bool ReadString(CommandContext& ctx, std::string_view key, std::string* payload,
                int64_t* expire_at_ms, bool notify_miss = true);
// The same reads on the apply thread, for a read that goes through the log (it followed
// writes of the same connection, or the leader had no lease): they see every earlier entry.
// Their keymiss waits for the entry's commit with the entry's other events.
inline bool ReadValue(ApplyContext& ctx, std::string_view key, storage::ValueType* type,
                      std::string* payload, int64_t* expire_at_ms, bool notify_miss = true) {
  if (ctx.GetValue(key, type, payload, expire_at_ms)) return true;
  if (notify_miss) ctx.Notify(kNotifyKeyMiss, "keymiss", key);
  return false;
}
inline bool ReadString(ApplyContext& ctx, std::string_view key, std::string* payload,
                       int64_t* expire_at_ms, bool notify_miss = true) {
  if (ctx.GetString(key, payload, expire_at_ms)) return true;
  if (notify_miss) ctx.Notify(kNotifyKeyMiss, "keymiss", key);  // (nothing if wrong_type)
  return false;
}

// A SCAN or HSCAN cursor as Redis reads one (strtoul: "", "00", "+0" and "-0" are 0, and "-1"
// is 2^64 - 1); false if Redis would answer "invalid cursor".
bool ParseScanCursor(std::string_view text, uint64_t* cursor);

// TYPE's name of a value type: "string", "hash".
std::string_view TypeName(storage::ValueType type);

// Held by a command that reads several keys (MGET, EXISTS): on an I/O thread their reads then
// see one state of the store, so an MSET or DEL of several keys (one batch) is seen whole or
// not at all, as in Redis. On the apply thread every read sees one state anyway.
class MultiKeyRead {
 public:
  MultiKeyRead(CommandContext& ctx, size_t keys);
  MultiKeyRead(ApplyContext&, size_t) {}
  ~MultiKeyRead();
  MultiKeyRead(const MultiKeyRead&) = delete;
  MultiKeyRead& operator=(const MultiKeyRead&) = delete;

 private:
  CommandContext* ctx_ = nullptr;
  std::optional<storage::Store::Snapshot> snapshot_;
};

// Options of SET and GETEX. Relative times stay relative until Resolve(), which the apply
// function calls with the entry's timestamp.
struct StringSetOptions {
  bool nx = false, xx = false, get = false, keepttl = false, persist = false;
  enum class Unit { kNone, kEx, kPx, kExAt, kPxAt } unit = Unit::kNone;
  int64_t amount = 0;
  // GETEX: the time as given (in the parsed args), checked only once the key is found, as
  // Redis does: GETEX of a missing key answers nil whatever its time.
  std::string_view amount_text;
  // GETEX: parses amount_text and resolves it (Resolve); false with an error text.
  bool ParseAndResolve(int64_t now_ms, std::string_view cmd, int64_t* expire_at,
                       std::string* err);
  // The absolute expiry in ms for `now_ms`, or an error text. Unit kNone gives 0.
  bool Resolve(int64_t now_ms, std::string_view cmd, int64_t* expire_at, std::string* err) const;
};
enum class SetCommandType { kSet, kGetEx };
// Parses args[first..]; returns an error text, or "" if the options are valid. For SET the
// time is checked too, at `now_ms` (the dispatch time on an I/O thread, the entry's time when
// applied: never the wall clock there, which differs between replicas and replays); for
// GETEX only the syntax (see amount_text).
std::string ParseSetOptions(Args args, size_t first, SetCommandType type, int64_t now_ms,
                            StringSetOptions* o);

// Converts a relative or absolute expire time to absolute ms, with Redis's overflow rules.
// `unit_seconds`: the amount is in seconds. `relative`: add now_ms.
bool ExpireToAbsolute(int64_t amount, bool unit_seconds, bool relative, int64_t now_ms,
                      int64_t* out);

}  // namespace flin::server

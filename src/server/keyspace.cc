#include "server/keyspace.h"

#include "common/strings.h"
#include "server/client_conn.h"
#include "server/io_thread.h"
#include "server/server.h"
#include "server/transaction_family.h"
#include "storage/encoding.h"

namespace flin::server {

bool ReadString(CommandContext& ctx, std::string_view key, std::string* payload,
                int64_t* expire_at_ms, bool notify_miss) {
  storage::ValueType type;
  if (!ReadValue(ctx, key, &type, payload, expire_at_ms, notify_miss)) return false;
  if (type == storage::ValueType::kString) return true;
  ctx.wrong_type = true;
  if (payload) payload->clear();
  if (expire_at_ms) *expire_at_ms = 0;
  return false;
}

bool ReadValue(CommandContext& ctx, std::string_view key, storage::ValueType* type,
               std::string* payload, int64_t* expire_at_ms, bool notify_miss) {
  thread_local std::string raw;
  IoStats& st = ctx.conn.io().stats();
  storage::Store& store = ctx.server.store();
  const int p = ctx.Partition(key);
  const Status s = ctx.snapshot ? store.Get(p, key, ctx.now_ms, &raw, *ctx.snapshot)
                                : store.Get(p, key, ctx.now_ms, &raw);
  ClientConn::Transaction& tx = ctx.conn.transaction();
  if (!s.ok()) {
    IoStats::Add(st.keyspace_misses, 1);
    if (!tx.watched.empty()) NoteWatchedRead(tx, key, false, storage::ValueType::kString, {}, 0);
    const int flags = ctx.server.config().notify_keyspace_events.load(std::memory_order_relaxed);
    if (notify_miss && KeyspaceEventWanted(flags, kNotifyKeyMiss)) {
      // A read answered here raises it at once: nothing of it waits for a log.
      PublishKeyEvent(ctx.server.pubsub(), flags,
                      KeyEvent{kNotifyKeyMiss, "keymiss", std::string(key)});
    }
    return false;
  }
  auto v = storage::DecodeValue(raw);
  if (!v) return false;
  IoStats::Add(st.keyspace_hits, 1);
  if (!tx.watched.empty()) NoteWatchedRead(tx, key, true, v->type, v->payload, v->expire_at_ms);
  if (type) *type = v->type;
  if (payload) payload->assign(v->payload);
  if (expire_at_ms) *expire_at_ms = v->expire_at_ms;
  return true;
}

// A SCAN (HSCAN) cursor as Redis reads one (strtoul: "", "00", "+0" and "-0" are 0, and "-1" is
// 2^64 - 1); false if Redis would answer "invalid cursor".
bool ParseScanCursor(std::string_view text, uint64_t* cursor) {
  const std::string s(text);  // NUL-terminated for strtoull
  if (!s.empty() && isspace(static_cast<unsigned char>(s[0]))) return false;
  char* end = nullptr;
  errno = 0;
  *cursor = strtoull(s.c_str(), &end, 10);
  return *end == '\0' && errno != ERANGE;
}

std::string_view TypeName(storage::ValueType type) {
  switch (type) {
    case storage::ValueType::kHash:
      return "hash";
    case storage::ValueType::kSet:
      return "set";
    case storage::ValueType::kList:
      return "list";
    case storage::ValueType::kString:
      break;
  }
  return "string";
}

MultiKeyRead::MultiKeyRead(CommandContext& ctx, size_t keys) {
  if (keys < 2 || ctx.snapshot != nullptr) return;
  ctx_ = &ctx;
  snapshot_.emplace(ctx.server.store());
  ctx.snapshot = &*snapshot_;
}

MultiKeyRead::~MultiKeyRead() {
  if (ctx_ != nullptr) ctx_->snapshot = nullptr;
}

bool ExpireToAbsolute(int64_t amount, bool unit_seconds, bool relative, int64_t now_ms,
                      int64_t* out) {
  // now_ms is a log entry's timestamp: on the apply side it may be anything, negative too.
  if (unit_seconds && __builtin_mul_overflow(amount, 1000, &amount)) return false;
  if (relative && __builtin_add_overflow(amount, now_ms, &amount)) return false;
  *out = amount;
  return true;
}

bool StringSetOptions::Resolve(int64_t now_ms, std::string_view cmd, int64_t* expire_at,
                               std::string* err) const {
  *expire_at = 0;
  if (unit == Unit::kNone) return true;
  const bool seconds = unit == Unit::kEx || unit == Unit::kExAt;
  const bool relative = unit == Unit::kEx || unit == Unit::kPx;
  if (amount <= 0 || !ExpireToAbsolute(amount, seconds, relative, now_ms, expire_at) ||
      *expire_at <= 0) {
    *err = ErrInvalidExpire(cmd);
    return false;
  }
  return true;
}

bool StringSetOptions::ParseAndResolve(int64_t now_ms, std::string_view cmd, int64_t* expire_at,
                                       std::string* err) {
  *expire_at = 0;
  if (unit == Unit::kNone) return true;
  if (!ParseInt64(amount_text, &amount)) {
    *err = kErrNotInteger;
    return false;
  }
  return Resolve(now_ms, cmd, expire_at, err);
}

std::string ParseSetOptions(Args args, size_t first, SetCommandType type, int64_t now_ms,
                            StringSetOptions* o) {
  using Unit = StringSetOptions::Unit;
  const bool is_set = type == SetCommandType::kSet;
  std::string_view amount_arg;
  for (size_t j = first; j < args.size(); ++j) {
    std::string opt = ToLower(args[j]);
    const bool has_next = j + 1 < args.size();
    const bool no_expiry_yet = !o->keepttl && !o->persist;
    if (opt == "nx" && !o->xx && is_set) {
      o->nx = true;
    } else if (opt == "xx" && !o->nx && is_set) {
      o->xx = true;
    } else if (opt == "get" && is_set) {
      o->get = true;
    } else if (opt == "keepttl" && is_set && !o->persist && o->unit == Unit::kNone) {
      o->keepttl = true;
    } else if (opt == "persist" && !is_set && o->unit == Unit::kNone && !o->keepttl) {
      o->persist = true;
    } else if ((opt == "ex" || opt == "px" || opt == "exat" || opt == "pxat") && no_expiry_yet &&
               has_next) {
      Unit u = opt == "ex" ? Unit::kEx : opt == "px" ? Unit::kPx : opt == "exat" ? Unit::kExAt
                                                                                 : Unit::kPxAt;
      if (o->unit != Unit::kNone && o->unit != u) return std::string(kErrSyntax);
      o->unit = u;
      amount_arg = args[++j];
    } else {
      return std::string(kErrSyntax);
    }
  }
  o->amount_text = amount_arg;
  if (o->unit != Unit::kNone && is_set) {
    if (!ParseInt64(amount_arg, &o->amount)) return std::string(kErrNotInteger);
    // Check the amount at once, so that a bad one never reaches the log.
    int64_t abs;
    std::string err;
    if (!o->Resolve(now_ms, args[0], &abs, &err)) return err;
  }
  return "";
}

}  // namespace flin::server

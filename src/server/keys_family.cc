// Keys and expiry: DEL UNLINK EXISTS TYPE RENAME RENAMENX COPY EXPIRE PEXPIRE EXPIREAT
// PEXPIREAT EXPIRETIME PEXPIRETIME TTL PTTL PERSIST SCAN KEYS RANDOMKEY DBSIZE FLUSHDB FLUSHALL,
// and the internal command active expiry sends through the log.

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <random>

#include "common/strings.h"
#include "server/client_conn.h"
#include "server/command.h"
#include "server/keyspace.h"
#include "server/server.h"
#include "storage/encoding.h"

namespace flin::server {
namespace {

// ---- reads ----

// Reads are templates: see string_family.cc.
template <typename Ctx>
void ExistsCmd(Ctx& ctx) {
  MultiKeyRead whole(ctx, ctx.args.size() - 1);
  int64_t n = 0;
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    n += ReadValue(ctx, ctx.args[i], nullptr, nullptr, nullptr);
  }
  ctx.out.Integer(n);
}

template <typename Ctx>
void TypeCmd(Ctx& ctx) {
  storage::ValueType type;
  if (!ReadValue(ctx, ctx.args[1], &type, nullptr, nullptr)) return ctx.out.Simple("none");
  ctx.out.Simple(TypeName(type));
}

// TTL PTTL EXPIRETIME PEXPIRETIME
template <typename Ctx>
void TtlCmd(Ctx& ctx) {
  int64_t expire_at;
  if (!ReadValue(ctx, ctx.args[1], nullptr, nullptr, &expire_at)) return ctx.out.Integer(-2);
  if (expire_at == 0) return ctx.out.Integer(-1);
  const std::string name = ToLower(ctx.args[0]);
  const bool absolute = name == "expiretime" || name == "pexpiretime";
  const bool ms = name == "pttl" || name == "pexpiretime";
  // A live key expires after now_ms; the difference passes INT64_MAX only for a log entry's
  // extreme timestamp (it may be anything), where it saturates.
  int64_t v = expire_at;
  if (!absolute) {
    if (__builtin_sub_overflow(expire_at, ctx.now_ms, &v)) v = INT64_MAX;
    v = std::max<int64_t>(0, v);
  }
  // Rounded to the nearest second, as Redis's (v + 500) / 1000, which overflows for times
  // within 500 ms of INT64_MAX (PXAT accepts them).
  ctx.out.Integer(ms ? v : v / 1000 + (v % 1000 >= 500));
}

// What the walk needs from the command's context, taken at dispatch, so that it can run on
// the background worker (CommandContext::Offload) after the handler returned and still see
// the store as of the command's place among its connection's commands (a write pipelined
// after it may be applied before the walk gets there).
struct KeyWalk {
  explicit KeyWalk(CommandContext& ctx)
      : server(&ctx.server),
        it(ctx.server.store().NewIterator()),
        readonly(ctx.conn.readonly()),
        now(ctx.now_ms) {}
  Server* server;
  std::shared_ptr<rocksdb::Iterator> it;  // the store as of dispatch
  bool readonly;                          // the connection sent READONLY
  int64_t now;
};

// Calls fn(user_key, value) for live keys in storage order from `from` (a storage key), until
// fn returns false or `max_examined` keys were looked at. Returns the storage key to resume
// from, or "" at the end. In a cluster only the partitions this node may serve to this
// connection are visited (as Redis Cluster's KEYS and SCAN cover the node's own slots).
template <typename Fn>
std::string ForEachKey(const KeyWalk& walk, const std::string& from, size_t max_examined,
                       Fn fn) {
  Server& server = *walk.server;
  const int64_t now = walk.now;
  rocksdb::Iterator* it = walk.it.get();
  it->Seek(from.empty() ? std::string(1, storage::kDataPrefix) : from);
  size_t examined = 0;
  while (it->Valid()) {
    int partition;
    std::string_view key;
    std::string_view sk(it->key().data(), it->key().size());
    if (!storage::DecodeDataKey(sk, &partition, &key)) break;
    if (!server.LocalReadable(partition, walk.readonly)) {
      it->Seek(storage::PartitionPrefix(partition + 1));
      continue;
    }
    if (examined++ == max_examined) return std::string(sk);
    auto v = storage::DecodeValue(std::string_view(it->value().data(), it->value().size()));
    const bool live = v && !v->Expired(now);
    const bool more = !live || fn(key, *v);
    it->Next();
    if (!more) break;
  }
  if (!it->Valid()) return "";
  std::string_view sk(it->key().data(), it->key().size());
  return sk.empty() || sk[0] != storage::kDataPrefix ? "" : std::string(sk);
}

// KEYS and DBSIZE walk every key: on the background worker, not this I/O thread.
void KeysCmd(CommandContext& ctx) {
  ctx.Offload([walk = KeyWalk(ctx), pattern = std::string(ctx.args[1])](
                  protocol::ReplyWriter& out) {
    std::vector<std::string> keys;
    const bool all = pattern == "*";
    ForEachKey(walk, "", SIZE_MAX, [&](std::string_view k, const auto&) {
      if (all || GlobMatch(pattern, k)) keys.emplace_back(k);
      return true;
    });
    out.ArrayHeader(keys.size());
    for (const auto& k : keys) out.Bulk(k);
  });
}

void DbSizeCmd(CommandContext& ctx) {
  ctx.Offload([walk = KeyWalk(ctx)](protocol::ReplyWriter& out) {
    int64_t n = 0;
    ForEachKey(walk, "", SIZE_MAX, [&](std::string_view, const auto&) {
      ++n;
      return true;
    });
    out.Integer(n);
  });
}

void ScanCmd(CommandContext& ctx) {
  uint64_t c;
  if (!ParseScanCursor(ctx.args[1], &c)) return ctx.out.Error("ERR invalid cursor");
  const std::string from = c == 0 ? "" : ctx.server.cursors().Load(c, ctx.server.partitions());
  std::string_view pattern;
  bool match = false;
  int64_t count = 10;
  std::string type;
  for (size_t i = 2; i < ctx.args.size(); i += 2) {
    std::string opt = ToLower(ctx.args[i]);
    if (i + 1 >= ctx.args.size()) return ctx.out.Error(kErrSyntax);
    if (opt == "match") {
      pattern = ctx.args[i + 1];
      match = true;
    } else if (opt == "count") {
      if (!ParseInt64(ctx.args[i + 1], &count)) return ctx.out.Error(kErrNotInteger);
      if (count < 1) return ctx.out.Error(kErrSyntax);
    } else if (opt == "type") {
      type = ToLower(ctx.args[i + 1]);
    } else {
      return ctx.out.Error(kErrSyntax);
    }
  }
  std::vector<std::string> keys;
  std::string next;
  // (A type Flin does not have matches no key: the scan is complete at once.)
  if (type.empty() || type == TypeName(storage::ValueType::kString) ||
      type == TypeName(storage::ValueType::kHash) || type == TypeName(storage::ValueType::kSet) ||
      type == TypeName(storage::ValueType::kList)) {
    const bool all = !match || pattern == "*";
    next = ForEachKey(KeyWalk(ctx), from, static_cast<size_t>(count),
                      [&](std::string_view k, const storage::ValueView& v) {
                        if ((type.empty() || TypeName(v.type) == type) &&
                            (all || GlobMatch(pattern, k))) {
                          keys.emplace_back(k);
                        }
                        return true;
                      });
  }
  ctx.out.ArrayHeader(2);
  if (next.empty()) {
    ctx.out.Bulk("0");
  } else {
    int partition = -1;  // (none: a lost cursor then starts over)
    std::string_view user_key;
    storage::DecodeDataKey(next, &partition, &user_key);
    ctx.out.Bulk(std::to_string(ctx.server.cursors().Save(partition, std::move(next))));
  }
  ctx.out.ArrayHeader(keys.size());
  for (const auto& k : keys) ctx.out.Bulk(k);
}

void RandomKeyCmd(CommandContext& ctx) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  const int parts = ctx.server.partitions();
  const int first = static_cast<int>(rng() % parts);
  auto it = ctx.server.store().NewIterator();
  for (int i = 0; i < parts; ++i) {
    const int p = (first + i) % parts;
    if (!ctx.server.LocalReadable(p, ctx.conn.readonly())) continue;
    const std::string prefix = storage::PartitionPrefix(p);
    // Start at a random point of the partition, wrapping to its beginning.
    std::string target = prefix;
    for (int b = 0; b < 8; ++b) target.push_back(static_cast<char>(rng() & 0xff));
    for (int pass = 0; pass < 2; ++pass) {
      it->Seek(pass == 0 ? target : prefix);
      for (int tries = 0; it->Valid() && tries < 100; ++tries, it->Next()) {
        std::string_view sk(it->key().data(), it->key().size());
        if (sk.substr(0, prefix.size()) != prefix) break;
        auto v = storage::DecodeValue(std::string_view(it->value().data(), it->value().size()));
        if (v && !v->Expired(ctx.now_ms)) return ctx.out.Bulk(sk.substr(prefix.size()));
      }
    }
  }
  ctx.out.Null();
}

// ---- writes ----

void ProposeKey1(CommandContext& ctx) { ctx.Propose(ctx.Partition(ctx.args[1])); }

void DelApply(ApplyContext& ctx) {
  int64_t n = 0;
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    if (ctx.Exists(ctx.args[i])) {
      ctx.Delete(ctx.args[i]);
      ctx.Notify(kNotifyGeneric, "del", ctx.args[i]);
      ++n;
    }
  }
  ctx.out.Integer(n);
}

void RenameApply(ApplyContext& ctx) {
  const bool nx = ToLower(ctx.args[0]) == "renamenx";
  std::string v;
  int64_t expire_at;
  storage::ValueType type;
  if (!ctx.GetValue(ctx.args[1], &type, &v, &expire_at)) return ctx.out.Error(kErrNoSuchKey);
  if (ctx.args[1] == ctx.args[2]) return nx ? ctx.out.Integer(0) : ctx.out.Ok();
  if (nx && ctx.Exists(ctx.args[2])) return ctx.out.Integer(0);
  ctx.Delete(ctx.args[1]);
  // Redis deletes the destination and adds it again: "new" either way.
  if (ctx.events != nullptr && ctx.Exists(ctx.args[2])) {
    ctx.Notify(kNotifyNew, "new", ctx.args[2]);
  }
  ctx.PutValue(ctx.args[2], type, v, expire_at);
  ctx.Notify(kNotifyGeneric, "rename_from", ctx.args[1]);
  ctx.Notify(kNotifyGeneric, "rename_to", ctx.args[2]);
  nx ? ctx.out.Integer(1) : ctx.out.Ok();
}

// COPY source destination [DB destination-db] [REPLACE]
std::string ParseCopy(Args args, bool* replace) {
  *replace = false;
  for (size_t i = 3; i < args.size(); ++i) {
    std::string opt = ToLower(args[i]);
    if (opt == "replace") {
      *replace = true;
    } else if (opt == "db" && i + 1 < args.size()) {
      int64_t db;
      if (!ParseInt64(args[++i], &db)) return std::string(kErrNotInteger);
      if (db != 0) return "ERR DB index is out of range";
    } else {
      return std::string(kErrSyntax);
    }
  }
  if (args[1] == args[2]) return "ERR source and destination objects are the same";
  return "";
}

void CopyCheck(CommandContext& ctx) {
  bool replace;
  std::string err = ParseCopy(ctx.args, &replace);
  if (!err.empty()) return ctx.out.Error(err);
  ctx.Propose(ctx.Partition(ctx.args[1]));
}

void CopyApply(ApplyContext& ctx) {
  bool replace;
  std::string err = ParseCopy(ctx.args, &replace);
  if (!err.empty()) return ctx.out.Error(err);
  std::string v;
  int64_t expire_at;
  storage::ValueType type;
  if (!ReadValue(ctx, ctx.args[1], &type, &v, &expire_at)) {
    return ctx.out.Integer(0);  // (a keymiss, as Redis's COPY reads its source)
  }
  const bool replaced = ctx.Exists(ctx.args[2]);
  if (!replace && replaced) return ctx.out.Integer(0);
  // Redis deletes the destination and adds it again: "new" either way.
  if (replaced) ctx.Notify(kNotifyNew, "new", ctx.args[2]);
  ctx.PutValue(ctx.args[2], type, v, expire_at);
  ctx.Notify(kNotifyGeneric, "copy_to", ctx.args[2]);
  ctx.out.Integer(1);
}

// EXPIRE key seconds [NX | XX | GT | LT] and friends.
struct ExpireArgs {
  int64_t when = 0;
  bool nx = false, xx = false, gt = false, lt = false;
};

std::string ParseExpire(Args args, int64_t now_ms, ExpireArgs* e) {
  const std::string name = ToLower(args[0]);
  // The options first, then the time, in Redis's order (which error a request with both
  // wrong gets).
  for (size_t i = 3; i < args.size(); ++i) {
    std::string opt = ToLower(args[i]);
    if (opt == "nx") {
      e->nx = true;
    } else if (opt == "xx") {
      e->xx = true;
    } else if (opt == "gt") {
      e->gt = true;
    } else if (opt == "lt") {
      e->lt = true;
    } else {
      return "ERR Unsupported option " + std::string(args[i]);
    }
  }
  if (e->nx && (e->xx || e->gt || e->lt)) {
    return "ERR NX and XX, GT or LT options at the same time are not compatible";
  }
  if (e->gt && e->lt) return "ERR GT and LT options at the same time are not compatible";
  int64_t amount;
  if (!ParseInt64(args[2], &amount)) return std::string(kErrNotInteger);
  const bool seconds = name == "expire" || name == "expireat";
  const bool relative = name == "expire" || name == "pexpire";
  if (!ExpireToAbsolute(amount, seconds, relative, now_ms, &e->when)) {
    return ErrInvalidExpire(name);
  }
  return "";
}

void ExpireCheck(CommandContext& ctx) {
  ExpireArgs e;
  std::string err = ParseExpire(ctx.args, ctx.now_ms, &e);
  if (!err.empty()) return ctx.out.Error(err);
  ctx.Propose(ctx.Partition(ctx.args[1]));
}

void ExpireApply(ApplyContext& ctx) {
  ExpireArgs e;
  std::string err = ParseExpire(ctx.args, ctx.now_ms, &e);
  if (!err.empty()) return ctx.out.Error(err);
  std::string v;
  int64_t cur;
  storage::ValueType type;
  if (!ctx.GetValue(ctx.args[1], &type, &v, &cur)) return ctx.out.Integer(0);
  // A key without expiry counts as expiring never (infinitely late) for GT and LT.
  if ((e.nx && cur != 0) || (e.xx && cur == 0) || (e.gt && (cur == 0 || e.when <= cur)) ||
      (e.lt && cur != 0 && e.when >= cur)) {
    return ctx.out.Integer(0);
  }
  if (e.when <= ctx.now_ms) {
    ctx.Delete(ctx.args[1]);
    ctx.Notify(kNotifyGeneric, "del", ctx.args[1]);
  } else {
    ctx.PutValue(ctx.args[1], type, v, e.when);
    ctx.Notify(kNotifyGeneric, "expire", ctx.args[1]);
  }
  ctx.out.Integer(1);
}

void PersistApply(ApplyContext& ctx) {
  std::string v;
  int64_t cur;
  storage::ValueType type;
  if (!ctx.GetValue(ctx.args[1], &type, &v, &cur) || cur == 0) return ctx.out.Integer(0);
  ctx.PutValue(ctx.args[1], type, v, 0);
  ctx.Notify(kNotifyGeneric, "persist", ctx.args[1]);
  ctx.out.Integer(1);
}

// Gathers the replies of one command proposed to several partitions into one reply: +OK, or
// the first error. Lives until the last reply; the replies come one at a time (from the raft
// thread, or from the I/O thread when the replicator refused the proposals).
class FanInSink : public cluster::CompletionSink {
 public:
  FanInSink(cluster::CompletionSink* target, uint64_t conn_id, uint64_t seq, size_t n)
      : target_(target), conn_id_(conn_id), seq_(seq), remaining_(n) {}
  void Complete(std::vector<cluster::Completion>&& batch) override {
    for (auto& c : batch) {
      if (first_error_.empty() && !c.reply.empty() && c.reply[0] == '-') first_error_ = c.reply;
      --remaining_;
    }
    if (remaining_ > 0) return;
    std::vector<cluster::Completion> one;
    one.push_back(cluster::Completion{conn_id_, seq_, first_error_.empty() ? "+OK\r\n" : first_error_});
    target_->Complete(std::move(one));
    delete this;
  }

 private:
  cluster::CompletionSink* target_;
  uint64_t conn_id_, seq_;
  size_t remaining_;
  std::string first_error_;
};

void FlushCheck(CommandContext& ctx) {
  if (ctx.args.size() > 2) return ctx.out.Error(kErrSyntax);
  if (ctx.args.size() == 2) {
    std::string opt = ToLower(ctx.args[1]);
    if (opt != "async" && opt != "sync") return ctx.out.Error(kErrSyntax);
  }
  if (ctx.server.cluster() == nullptr) return ctx.Propose(-1);
  // In a cluster, as in Redis Cluster, FLUSHALL empties the slots this node serves: one
  // proposal to each partition it leads, answered when all of them are applied.
  std::vector<int> led;
  for (int p = 0; p < ctx.server.partitions(); ++p) {
    if (ctx.server.Leads(p)) led.push_back(p);
  }
  if (led.empty()) return ctx.out.Ok();
  std::string command;
  EncodeCommand(ctx.args, &command);
  const uint64_t seq = ctx.conn.CountProposal();
  auto* fan_in = new FanInSink(&ctx.conn.io(), ctx.conn.id(), seq, led.size());
  // Queued with the connection's other proposals, so that it keeps its place among them.
  for (int p : led) {
    cluster::Proposal prop;
    prop.partition = p;
    prop.command = command;
    prop.proto = ctx.conn.proto();
    prop.sink = fan_in;
    prop.conn_id = ctx.conn.id();
    ctx.conn.io().QueueProposal(std::move(prop));
  }
}

void FlushApply(ApplyContext& ctx) {
  Status s = ctx.partition < 0 ? ctx.txn.DeleteAllData() : ctx.txn.DeletePartition(ctx.partition);
  if (!s.ok()) return ctx.out.Error("ERR " + s.message());
  ctx.Notify(kTrackFlush, "flush", "");  // no keyspace event, as Redis; tracking: every key
  ctx.out.Ok();
}

// flin.expired key expire-at [key expire-at ...]: deletes each key that still has exactly that
// expiry and has expired by the entry's time (a key rewritten since the scan is left alone).
void ExpiredApply(ApplyContext& ctx) {
  int64_t n = 0;
  for (size_t i = 1; i + 1 < ctx.args.size(); i += 2) {
    int64_t at, cur;
    if (!ParseInt64(ctx.args[i + 1], &at)) continue;
    if (ctx.GetValueEvenIfExpired(ctx.args[i], nullptr, nullptr, &cur) && cur == at &&
        at <= ctx.now_ms) {
      ctx.Delete(ctx.args[i]);
      ctx.Notify(kNotifyExpired, "expired", ctx.args[i]);
      ++n;
    }
  }
  ctx.txn.CountOnCommit(ctx.expired_keys, static_cast<uint64_t>(n));
  ctx.out.Integer(n);
}

CommandSpec Spec(std::string name, int arity, uint32_t flags, Handler h, ApplyFn a, int first,
                 int last, int step, std::string summary) {
  return MakeCommand(std::move(name), arity, flags, h, a, "generic", std::move(summary), first,
                     last, step);
}

}  // namespace

void RegisterKeysFamily(CommandTable* t) {
  constexpr uint32_t R = kCmdReadOnly | kCmdFast, W = kCmdWrite;
  t->Add(Spec("exists", -2, R, ExistsCmd<CommandContext>, ExistsCmd<ApplyContext>, 1, -1, 1, "Determines whether one or more keys exist."));
  // Flin keeps no access times (no LRU eviction): TOUCH answers what EXISTS does.
  t->Add(Spec("touch", -2, R, ExistsCmd<CommandContext>, ExistsCmd<ApplyContext>, 1, -1, 1, "Returns the number of existing keys out of those specified after updating the time they were last accessed."));
  t->Add(Spec("type", 2, R, TypeCmd<CommandContext>, TypeCmd<ApplyContext>, 1, 1, 1, "Determines the type of value stored at a key."));
  t->Add(Spec("ttl", 2, R, TtlCmd<CommandContext>, TtlCmd<ApplyContext>, 1, 1, 1, "Returns the expiration time in seconds of a key."));
  t->Add(Spec("pttl", 2, R, TtlCmd<CommandContext>, TtlCmd<ApplyContext>, 1, 1, 1, "Returns the expiration time in milliseconds of a key."));
  t->Add(Spec("expiretime", 2, R, TtlCmd<CommandContext>, TtlCmd<ApplyContext>, 1, 1, 1, "Returns the expiration time of a key as a Unix timestamp."));
  t->Add(Spec("pexpiretime", 2, R, TtlCmd<CommandContext>, TtlCmd<ApplyContext>, 1, 1, 1, "Returns the expiration time of a key as a Unix milliseconds timestamp."));
  t->Add(Spec("keys", 2, kCmdReadOnly, KeysCmd, nullptr, 0, 0, 0, "Returns all key names that match a pattern."));
  t->Add(Spec("scan", -2, kCmdReadOnly, ScanCmd, nullptr, 0, 0, 0, "Iterates over the key names in the database."));
  t->Add(Spec("randomkey", 1, kCmdReadOnly, RandomKeyCmd, nullptr, 0, 0, 0, "Returns a random key name from the database."));
  t->Add(Spec("dbsize", 1, kCmdReadOnly | kCmdFast, DbSizeCmd, nullptr, 0, 0, 0, "Returns the number of keys in the database."));
  t->Add(Spec("del", -2, W, ProposeKey1, DelApply, 1, -1, 1, "Deletes one or more keys."));
  t->Add(Spec("unlink", -2, W | kCmdFast, ProposeKey1, DelApply, 1, -1, 1, "Asynchronously deletes one or more keys."));
  t->Add(Spec("rename", 3, W, ProposeKey1, RenameApply, 1, 2, 1, "Renames a key and overwrites the destination."));
  t->Add(Spec("renamenx", 3, W | kCmdFast, ProposeKey1, RenameApply, 1, 2, 1, "Renames a key only when the target key name doesn't exist."));
  t->Add(Spec("copy", -3, W, CopyCheck, CopyApply, 1, 2, 1, "Copies the value of a key to a new key."));
  t->Add(Spec("expire", -3, W | kCmdFast, ExpireCheck, ExpireApply, 1, 1, 1, "Sets the expiration time of a key in seconds."));
  t->Add(Spec("pexpire", -3, W | kCmdFast, ExpireCheck, ExpireApply, 1, 1, 1, "Sets the expiration time of a key in milliseconds."));
  t->Add(Spec("expireat", -3, W | kCmdFast, ExpireCheck, ExpireApply, 1, 1, 1, "Sets the expiration time of a key to a Unix timestamp."));
  t->Add(Spec("pexpireat", -3, W | kCmdFast, ExpireCheck, ExpireApply, 1, 1, 1, "Sets the expiration time of a key to a Unix milliseconds timestamp."));
  t->Add(Spec("persist", 2, W | kCmdFast, ProposeKey1, PersistApply, 1, 1, 1, "Removes the expiration time of a key."));
  t->Add(Spec("flushdb", -1, W, FlushCheck, FlushApply, 0, 0, 0, "Remove all keys from the current database."));
  t->Add(Spec("flushall", -1, W, FlushCheck, FlushApply, 0, 0, 0, "Removes all keys from all databases."));
  t->Add(Spec("flin.expired", -3, W | kCmdInternal, nullptr, ExpiredApply, 0, 0, 0, "Deletes expired keys (active expiry)."));
}

}  // namespace flin::server

// Transactions: WATCH, UNWATCH, MULTI, EXEC, DISCARD, and the log entry EXEC makes
// (transaction_family.h).

#include "server/transaction_family.h"

#include "common/slot.h"
#include "common/strings.h"
#include "server/client_conn.h"
#include "server/cluster_family.h"
#include "server/keyspace.h"
#include "server/lua_script.h"
#include "server/server.h"
#include "storage/encoding.h"

namespace flin::server {
namespace {

constexpr std::string_view kExecEntry = "flin.exec";
// What a queued command costs besides its bytes (the vector's string), for the bound.
constexpr size_t kQueuedOverhead = 64;
// EXEC's reply beyond this: each further command's reply is this error (ExecApply).
constexpr size_t kMaxExecReplyBytes = 256u << 20;
constexpr std::string_view kErrExecReplyTooLarge =
    "ERR the reply of this EXEC exceeds 256 MiB; this command's reply was dropped";

// A PUBLISH: queued in a transaction though it names no key (its element's partition is -1,
// and it runs in whichever partition's log the transaction does).
bool KeylessPublish(const CommandSpec& spec, Args args) {
  return spec.Has(kCmdPubSub) && spec.apply != nullptr && spec.KeyPositions(args).empty();
}

// An element of the flin.exec entry: the partition (decimal), a space, the encoded command;
// or "e", a space, the text of the error that is that command's reply; or "o" (+OK: UNWATCH).
std::string QueuedElement(int partition, std::string_view command) {
  std::string e = std::to_string(partition);
  e.push_back(' ');
  e.append(command);
  return e;
}
std::string ErrorElement(std::string_view message) {
  std::string e = "e ";
  e.append(message);
  return e;
}
// A watched key: "w ", then the encoded (key, "1" and its value and expiry, or "0"). A value
// of another type than a string adds its type (a fifth field: entries written before hashes
// existed have four).
std::string WatchElement(std::string_view key, bool present, uint8_t type,
                         std::string_view payload, int64_t expire_at) {
  std::string held;
  if (present) {
    std::vector<std::string> f{std::string(key), "1", std::string(payload),
                               std::to_string(expire_at)};
    if (type != 0) f.push_back(std::to_string(type));
    EncodeCommand(f, &held);
  } else {
    EncodeCommand(std::vector<std::string>{std::string(key), "0"}, &held);
  }
  return "w " + held;
}

// Whether the watched key of element `w` (after "w ") holds what it held at WATCH. A
// malformed element, or a key of another partition than the entry's, does not.
bool WatchHolds(ApplyContext& ctx, std::string_view w) {
  std::vector<std::string_view> f;
  if (!DecodeCommand(w, &f) || f.size() < 2) return false;
  if (ctx.partition >= 0 && ctx.Partition(f[0]) != ctx.partition) return false;
  std::string payload;
  int64_t expire_at = 0;
  storage::ValueType type = storage::ValueType::kString;
  const bool present = ctx.GetValue(f[0], &type, &payload, &expire_at);
  if (f[1] == "0" && f.size() == 2) return !present;
  int64_t expected, expected_type = 0;
  return f[1] == "1" && (f.size() == 4 || (f.size() == 5 && ParseInt64(f[4], &expected_type))) &&
         present && payload == f[2] && ParseInt64(f[3], &expected) && expected == expire_at &&
         expected_type == static_cast<int64_t>(type);
}

bool ParseElement(std::string_view e, int partitions, int* partition, std::string_view* command) {
  const size_t sp = e.find(' ');
  int64_t p;
  if (sp == std::string_view::npos || !ParseInt64(e.substr(0, sp), &p) || p < -1 ||
      p >= partitions) {
    return false;
  }
  *partition = static_cast<int>(p);
  *command = e.substr(sp + 1);
  return true;
}

// Takes `bytes` more for the transaction from the node's budget of queued transactions (all
// connections' together within pending-write-limit, apart from the writes in flight, which an
// idle transaction must not block) and, in a cluster, within what one log entry may carry.
// False, with the error in `err`, if it cannot.
bool ReserveForTransaction(CommandContext& ctx, ClientConn::Transaction& tx, size_t bytes,
                           protocol::ReplyWriter& err) {
  if (const cluster::MultiRaftNode* mr = ctx.server.cluster();
      mr != nullptr && tx.bytes + bytes > mr->max_entry_bytes()) {
    err.Error(cluster::EntryTooLargeError(mr->max_entry_bytes()) + " (the whole transaction)");
    return false;
  }
  const auto limit = static_cast<size_t>(ctx.server.config().pending_write_bytes.load());
  ByteBudget::Reservation r;
  if (!ctx.server.transaction_bytes().TryReserve(bytes, limit, &r)) {
    err.Error("TRYAGAIN server busy: the commands queued in transactions exceed "
              "pending-write-limit (" + std::to_string(limit) + " bytes)");
    return false;
  }
  tx.bytes += bytes;
  tx.reserved.push_back(std::move(r));
  return true;
}

void MultiCmd(CommandContext& ctx) {
  ClientConn::Transaction& tx = ctx.conn.transaction();
  if (tx.active) return ctx.out.Error("ERR MULTI calls can not be nested");
  tx.active = true;  // the watched keys (and their slot) stay
  ctx.out.Ok();
}

// WATCH key...: what each key holds now (its value and expiry, or nothing) goes into EXEC's
// entry, and the entry runs only if every watched key still holds exactly that when it is
// applied. Redis aborts on any write to a watched key; comparing what the key holds is the
// check-and-set clients rely on, decided the same way on every replica. A key written and
// written back to the same value and expiry does not abort here.
void WatchCmd(CommandContext& ctx) {
  ClientConn::Transaction& tx = ctx.conn.transaction();
  if (tx.active) return ctx.out.Error("ERR WATCH inside MULTI is not allowed");
  if (ctx.server.cluster() != nullptr) {
    // Cluster routing checked this command's keys (one slot, led here); and earlier WATCHes'.
    const int slot = KeySlot(ctx.args[1]);
    if (tx.slot >= 0 && slot != tx.slot) {
      return ctx.out.Error("CROSSSLOT Keys in request don't hash to the same slot");
    }
    tx.slot = slot;
  }
  MultiKeyRead whole(ctx, ctx.args.size() - 1);
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    ClientConn::Transaction::Watched w{std::string(ctx.args[i]), false, {}, 0};
    // (A key watched before and changed since breaks the watch here, in ReadValue.)
    storage::ValueType type = storage::ValueType::kString;
    w.present = ReadValue(ctx, ctx.args[i], &type, &w.payload, &w.expire_at);
    w.type = static_cast<uint8_t>(type);
    // Its element: the key, the value and framing.
    if (!ReserveForTransaction(ctx, tx, w.key.size() + w.payload.size() + kQueuedOverhead,
                               ctx.out)) {
      return;  // the keys watched so far stay watched
    }
    tx.watched_index[w.key] = tx.watched.size();
    tx.watched.push_back(std::move(w));
  }
  ctx.out.Ok();
}

void UnwatchCmd(CommandContext& ctx) {
  ctx.conn.transaction() = ClientConn::Transaction();  // never inside MULTI: refused there
  ctx.out.Ok();
}

void DiscardCmd(CommandContext& ctx) {
  ClientConn::Transaction& tx = ctx.conn.transaction();
  if (!tx.active) return ctx.out.Error("ERR DISCARD without MULTI");
  tx = ClientConn::Transaction();
  ctx.out.Ok();
}

// EXEC: the watched keys and the queued commands as one log entry, flin.exec element*, each
// command with the partition its own proposal would have had (-1 on a single node).
void ExecCmd(CommandContext& ctx) {
  if (!ctx.conn.transaction().active) return ctx.out.Error("ERR EXEC without MULTI");
  ClientConn::Transaction tx = std::move(ctx.conn.transaction());
  ctx.conn.transaction() = ClientConn::Transaction();
  if (tx.dirty) return ctx.out.Error("EXECABORT Transaction discarded because of previous errors.");
  if (tx.watch_broken) return ctx.out.NullArray();  // a watched key changed: nothing runs
  int partition = tx.slot >= 0 ? SlotPartition(tx.slot, ctx.server.partitions()) : -1;
  if (tx.watched.empty() && tx.slot < 0 && ctx.server.cluster() != nullptr) {
    const bool publishes =
        std::any_of(tx.queued.begin(), tx.queued.end(), [](const auto& e) { return e != "o"; });
    if (!publishes) {
      // Nothing that names a slot (only UNWATCHes, or nothing): no log to run it in, nor need.
      ctx.out.ArrayHeader(tx.queued.size());
      for (size_t i = 0; i < tx.queued.size(); ++i) ctx.out.Ok();
      return;
    }
    // Only PUBLISHes, which name no slot: in the log of the lowest partition led here, as a
    // script without keys.
    partition = ctx.server.LowestLedPartition();
    if (partition < 0) {
      return ctx.out.Error("CLUSTERDOWN this node leads no partition to run the transaction in");
    }
  }
  if (tx.queued.empty() && tx.watched.empty()) return ctx.out.ArrayHeader(0);
  std::vector<std::string> entry;
  entry.reserve(1 + tx.watched.size() + tx.queued.size());
  entry.emplace_back(kExecEntry);
  for (const auto& w : tx.watched) {
    entry.push_back(WatchElement(w.key, w.present, w.type, w.payload, w.expire_at));
  }
  for (std::string& c : tx.queued) entry.push_back(std::move(c));
  // One log: the single node's (-1), or the partition of the transaction's slot.
  tx.reserved.clear();  // the proposal takes its own share of the budget
  ctx.ProposeArgs(partition, entry);
}

// Runs every command of the entry in this one WriteTxn, replying with an array of their
// replies (an error element is its error), unless a watched key changed. Entries come from
// this server, but apply must survive any bytes (command_fuzz): an element that does not
// decode to a command with an apply function, or names another partition than the entry's in
// a cluster, or is itself a transaction or an internal command, gets an error in its place.
void ExecApply(ApplyContext& ctx) {
  // Watched keys first: if one changed, nothing runs and the reply is a null array.
  size_t first = 1;
  for (; first < ctx.args.size() && ctx.args[first].starts_with("w "); ++first) {
    if (!WatchHolds(ctx, ctx.args[first].substr(2))) return ctx.out.NullArray();
  }
  ctx.out.ArrayHeader(ctx.args.size() - first);
  // The reply is bounded (a few commands reading a large value many times would make it
  // unbounded, on every replica, and again after each restart): past kMaxExecReplyBytes each
  // command's reply is an error instead. Writes still run; reads nobody waits for do not.
  const size_t reply_start = ctx.out.buffer()->size();
  std::string overflow;
  protocol::ReplyWriter sink(&overflow, ctx.out.proto());
  std::vector<std::string_view> args;
  for (size_t i = first; i < ctx.args.size(); ++i) {
    if (ctx.args[i].starts_with("e ")) {
      ctx.out.Error(ctx.args[i].substr(2));
      continue;
    }
    if (ctx.args[i] == "o") {
      ctx.out.Ok();
      continue;
    }
    int partition;
    std::string_view command;
    const CommandSpec* spec = nullptr;
    if (ctx.commands != nullptr && ParseElement(ctx.args[i], ctx.partitions, &partition, &command) &&
        DecodeCommand(command, &args)) {
      spec = ctx.commands->Find(args[0]);
    }
    // Its partition is the entry's; a PUBLISH, which has no key, names none (-1).
    const bool placed = spec != nullptr &&
                        (ctx.partition < 0 || partition == ctx.partition ||
                         (partition == -1 && KeylessPublish(*spec, Args(args))));
    if (spec == nullptr || !placed || spec->apply == nullptr || spec->Has(kCmdInternal) ||
        !spec->ArityOk(args.size())) {
      ctx.out.Error("ERR cannot apply a malformed log entry");
      continue;
    }
    const bool over = ctx.out.buffer()->size() - reply_start > kMaxExecReplyBytes;
    // (A PUBLISH publishes on every replica, each to its own subscribers: it always runs.)
    const bool read = !spec->Writes(args) && !spec->Has(kCmdPubSub);
    if (read && (over || !ctx.reply_wanted)) {
      ctx.out.Error(kErrExecReplyTooLarge);  // (a discarded reply when nobody waits)
      continue;
    }
    overflow.clear();
    ApplyContext sub(ctx.txn, ctx.now_ms, Args(args), over ? sink : ctx.out, ctx.partitions,
                     ctx.expired_keys);
    sub.Inherit(ctx);
    sub.partition = partition;
    sub.reply_wanted = ctx.reply_wanted && !over;
    RunApply(*spec, sub);
    if (over) ctx.out.Error(kErrExecReplyTooLarge);
  }
}

CommandSpec Spec(std::string name, int arity, uint32_t flags, Handler h, ApplyFn a,
                 std::string summary) {
  return MakeCommand(std::move(name), arity, flags, h, a, "transactions", std::move(summary));
}

}  // namespace

bool IsExec(const CommandSpec& spec) { return spec.handler == ExecCmd; }

bool RunsInsideMulti(const CommandSpec& spec) {
  return spec.handler == MultiCmd || spec.handler == ExecCmd || spec.handler == DiscardCmd ||
         spec.handler == WatchCmd || spec.name == "quit" || spec.name == "reset";
}

// A command that counts its keys (SINTERCARD, LMPOP) with no valid keys in this call: its
// count is bad, which its own checks answer (at EXEC, as Redis), not a keyless command.
bool BadNumKeys(const CommandSpec& spec) {
  return spec.key_positions != nullptr && !IsScriptCommand(spec);
}

void QueueInTransaction(CommandContext& ctx) {
  ClientConn::Transaction& tx = ctx.conn.transaction();
  std::string error;  // a refusal, which aborts the transaction
  protocol::ReplyWriter err(&error, ctx.conn.proto());
  std::string element;
  if (ctx.spec.handler == UnwatchCmd) {
    element = "o";  // Redis queues it; at EXEC it does nothing (EXEC unwatches anyway)
  } else if (ctx.spec.apply == nullptr && !ctx.spec.Has(kCmdWrite)) {
    err.Error("ERR '" + std::string(ctx.args[0]) +
              "' cannot be used inside MULTI: Flin runs a transaction from its log, and this "
              "command does not go through the log");
  } else if (ctx.spec.KeyPositions(ctx.args).empty() &&
             !(ctx.server.cluster() == nullptr && IsScriptCommand(ctx.spec)) &&
             !KeylessPublish(ctx.spec, ctx.args) && !BadNumKeys(ctx.spec)) {
    // FLUSHALL, FLUSHDB: a range deletion, which WriteTxn writes apart from the batch (not
    // atomic with the commands around it), and in a cluster one entry of every partition. (A
    // script without keys runs in the single node's one log like any command.)
    err.Error("ERR '" + std::string(ctx.args[0]) +
              "' cannot be used inside MULTI: a transaction runs in one write of one log");
  } else if (CommandContext check{ctx.args, err, ctx.conn, ctx.server, ctx.spec, ctx.now_ms};
             RouteQueuedCommand(check, &tx.slot)) {
    const bool single = ctx.server.cluster() == nullptr;  // one log: partition -1
    if (ctx.spec.Writes(ctx.args)) {
      // The handler's checks (syntax, limits); what it proposes is kept, not sent.
      std::vector<CommandContext::Captured> captured;
      std::string reply;
      protocol::ReplyWriter w(&reply, ctx.conn.proto());
      CommandContext run{ctx.args, w, ctx.conn, ctx.server, ctx.spec, ctx.now_ms};
      run.capture = &captured;
      ctx.spec.handler(run);
      if (reply.empty() && captured.size() == 1) {
        element = QueuedElement(single ? -1 : captured[0].partition, captured[0].command);
      } else if (captured.empty() && reply.size() > 3 && reply[0] == '-') {
        // An error of the command itself (syntax, a limit): as in Redis, it is that
        // command's reply in EXEC's array, and the others still run.
        element = ErrorElement(std::string_view(reply).substr(1, reply.size() - 3));
      } else {
        // A handler that answered by itself (without the log) or made several proposals.
        err.Error("ERR '" + std::string(ctx.args[0]) + "' cannot be used inside MULTI here");
      }
    } else {
      // A read runs from the log, where its apply function checks its arguments.
      std::string command;
      EncodeCommand(ctx.args, &command);
      const auto keys = ctx.spec.KeyPositions(ctx.args);
      const int p = single || keys.empty() ? -1 : ctx.Partition(ctx.args[keys[0]]);
      element = QueuedElement(p, command);
    }
  }
  if (error.empty() && ReserveForTransaction(ctx, tx, element.size() + kQueuedOverhead, err)) {
    tx.queued.push_back(std::move(element));
    return ctx.out.Simple("QUEUED");
  }
  tx.dirty = true;
  ctx.out.buffer()->append(error);  // one error reply, written in this connection's protocol
}

namespace {
// The latest element of `watched` for `key`, or null.
const ClientConn::Transaction::Watched* FindWatched(const ClientConn::Transaction& tx,
                                                    std::string_view key) {
  auto it = tx.watched_index.find(absl::string_view(key.data(), key.size()));
  return it == tx.watched_index.end() ? nullptr : &tx.watched[it->second];
}
}  // namespace

void NoteWatchedRead(ClientConn::Transaction& tx, std::string_view key, bool present,
                     storage::ValueType type, std::string_view payload, int64_t expire_at) {
  const auto* w = FindWatched(tx, key);
  if (w != nullptr && (w->present != present ||
                       (present && (w->payload != payload || w->expire_at != expire_at ||
                                    w->type != static_cast<uint8_t>(type))))) {
    tx.watch_broken = true;
  }
}

void NoteReadThroughLog(CommandContext& ctx) {
  ClientConn::Transaction& tx = ctx.conn.transaction();
  if (tx.watched.empty()) return;
  for (size_t pos : ctx.spec.KeyPositions(ctx.args)) {
    if (FindWatched(tx, ctx.args[pos]) != nullptr) tx.watch_broken = true;
  }
}

void CheckWatchedKeysBeforeWrite(CommandContext& ctx) {
  ClientConn::Transaction& tx = ctx.conn.transaction();
  if (tx.watched.empty()) return;
  for (size_t pos : ctx.spec.KeyPositions(ctx.args)) {
    const std::string_view key = ctx.args[pos];
    if (FindWatched(tx, key) == nullptr) continue;
    // As ReadString reads, without counting a keyspace hit or miss (this is no read).
    std::string raw;
    const Status s = ctx.server.store().Get(ctx.Partition(key), key, ctx.now_ms, &raw);
    const auto v = s.ok() ? storage::DecodeValue(raw) : std::nullopt;
    if (v) {
      NoteWatchedRead(tx, key, true, v->type, v->payload, v->expire_at_ms);
    } else {
      NoteWatchedRead(tx, key, false, storage::ValueType::kString, {}, 0);
    }
  }
}

void RegisterTransactionFamily(CommandTable* t) {
  t->Add(Spec("multi", 1, kCmdFast, MultiCmd, nullptr, "Starts a transaction."));
  t->Add(Spec("exec", 1, 0, ExecCmd, nullptr, "Executes all commands in a transaction."));
  t->Add(Spec("discard", 1, kCmdFast, DiscardCmd, nullptr, "Discards a transaction."));
  t->Add(MakeCommand("watch", -2, kCmdReadOnly | kCmdFast, WatchCmd, nullptr, "transactions",
                     "Monitors changes to keys to determine the execution of a transaction.", 1,
                     -1, 1));
  t->Add(Spec("unwatch", 1, kCmdFast, UnwatchCmd, nullptr,
              "Forgets about watched keys of a transaction."));
  t->Add(Spec(std::string(kExecEntry), -2, kCmdWrite | kCmdInternal, nullptr, ExecApply,
              "Runs the commands of a transaction (the log entry EXEC makes)."));
}

}  // namespace flin::server

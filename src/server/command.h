#pragma once
// The command table and what a command handler sees.
//
// Every command has a spec: name, arity (Redis's convention: N exact, -N at least N), flags,
// key positions (for COMMAND INFO and cluster routing) and up to two functions:
//   - handler: runs on the connection's I/O thread. Reads answer directly from the store.
//     Writes check their syntax here (so a bad request never reaches the log) and then
//     Propose() themselves;
//   - apply: for writes, runs on the apply thread when the command comes out of the log
//     (cluster/replicator.h), against a WriteTxn, at the entry's timestamp; it writes the
//     reply the client will get.
// One file per command family (string_family.cc, keys_family.cc, ...) registers its commands.
//
// Threading: the table is built before the server starts and is read-only afterwards.

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "protocol/reply_writer.h"
#include "server/keyspace_events.h"
#include "server/pubsub.h"
#include "storage/encoding.h"
#include "storage/write_txn.h"

namespace flin::server {

class ClientConn;
class CommandTable;
class Server;
struct CommandSpec;

using Args = std::span<const std::string_view>;

enum CommandFlags : uint32_t {
  kCmdWrite = 1 << 0,     // changes data: goes through the log
  kCmdReadOnly = 1 << 1,  // reads data
  kCmdAdmin = 1 << 2,
  kCmdNoAuth = 1 << 3,    // allowed before AUTH
  kCmdFast = 1 << 4,
  kCmdInternal = 1 << 5,  // only in the log (e.g. active expiry), never from a client
  kCmdLoading = 1 << 6,
  kCmdStale = 1 << 7,
  kCmdSubscribedMode = 1 << 8,  // allowed to a RESP2 connection with subscriptions
  kCmdNoRedirect = 1 << 9,      // acts on the connection alone: never -MOVED (SUNSUBSCRIBE)
  kCmdPubSub = 1 << 10,         // a pub/sub command (COMMAND's "pubsub" flag)
};

// What a handler on an I/O thread gets.
struct CommandContext {
  Args args;                      // args[0] is the command name as sent
  protocol::ReplyWriter& out;     // the connection's output (reply here unless proposing)
  ClientConn& conn;
  Server& server;
  const CommandSpec& spec;
  int64_t now_ms;                 // wall clock when the command was dispatched
  // Set while a read of several keys runs (MultiKeyRead): every ReadString sees this state.
  const storage::Store::Snapshot* snapshot = nullptr;
  // Set by ReadString when the key holds another type than a string: the command's reply is
  // then replaced by WRONGTYPE (ClientConn::Dispatch), unless it proposed itself to the log,
  // whose apply decides.
  bool wrong_type = false;
  // Set while a command is queued inside MULTI (transaction_family.cc): what the handler
  // proposes is kept here, as (partition, encoded command), instead of going to the log.
  struct Captured {
    int partition;
    std::string command;
  };
  std::vector<Captured>* capture = nullptr;

  // Sends this command (args as they are) to the log; the reply comes from apply. The
  // proposal leaves with the rest of the I/O thread's round (IoThread::QueueProposal).
  void Propose(int partition);
  // Sends another command in its place (e.g. SETEX rewritten, or a command with resolved
  // arguments). args[0] must name a command with an apply function.
  void ProposeArgs(int partition, const std::vector<std::string>& args);
  // The partition of a key.
  int Partition(std::string_view key) const;
  // Runs `work` on the server's background worker instead of this I/O thread, for a command
  // whose cost grows with the data (DBSIZE, KEYS, INFO keyspace); its reply takes this
  // command's place in the connection's reply order. `work` runs after the handler returned:
  // it must not use this context (capture copies). If the worker's queue is full the command
  // gets an error at once.
  void Offload(std::function<void(protocol::ReplyWriter&)> work);

 private:
  void ProposeEncoded(int partition, std::string&& command);
};

// What an apply function gets, on the apply thread.
struct ApplyContext {
  ApplyContext(storage::WriteTxn& t, int64_t now, Args a, protocol::ReplyWriter& o, int parts,
               std::atomic<uint64_t>* expired)
      : txn(t), now_ms(now), args(a), out(o), partitions(parts), expired_keys(expired) {}

  storage::WriteTxn& txn;
  int64_t now_ms;                 // the log entry's timestamp
  Args args;
  protocol::ReplyWriter& out;
  int partitions;
  std::atomic<uint64_t>* expired_keys;  // keys deleted by active expiry (txn.CountOnCommit)
  int partition = -1;                   // the entry's Raft group; -1: the whole store
  const CommandTable* commands = nullptr;  // for an entry of several commands (EXEC)
  bool reply_wanted = true;  // false: nobody waits for `out` (a follower, an abandoned write)
  // Keyspace notifications (keyspace_events.h): where this entry's events go, under
  // `notify_flags`; null while none are wanted (Notify is then one test). Sub-commands of a
  // transaction or script pass both on.
  // With kTrackKeys in `notify_flags`, every change is recorded for CLIENT TRACKING too
  // (tracking.h), with `writer`: the connection that proposed the entry (0: none here).
  std::vector<KeyEvent>* events = nullptr;
  int notify_flags = 0;
  uint64_t writer = 0;
  // PUBLISH and SPUBLISH queued in a transaction: the node's subscriptions (to count the
  // receivers, this node's, as the command answers) and where the messages wait until the
  // entry is committed. Null where nothing may publish (scripts: a count that differs between
  // replicas could steer a script's writes).
  const PubSub* pubsub = nullptr;
  std::vector<PendingPublish>* publishes = nullptr;
  // For a sub-command's context (a transaction's, a script's redis.call): takes the entry's
  // partition, command table and notifications from the parent.
  void Inherit(const ApplyContext& parent) {
    partition = parent.partition;
    commands = parent.commands;
    events = parent.events;
    notify_flags = parent.notify_flags;
    writer = parent.writer;
    pubsub = parent.pubsub;
    publishes = parent.publishes;
    draws_ = parent.draws_ != nullptr ? parent.draws_ : &parent.own_draws_;
  }
  // The number of this random draw within the entry (PickRng in collection.h): counted over
  // the entry's sub-commands too, so that two like draws in one script or transaction
  // differ, while every replica makes the same ones.
  uint64_t NextDraw() const { return draws_ != nullptr ? (*draws_)++ : own_draws_++; }
  // Records event `event` of class `type` (kNotifyString, kNotifyGeneric, ...) on `key`, as
  // Redis's command of the same name raises it. After the write it reports.
  void Notify(int type, const char* event, std::string_view key) {
    if (wrong_type) return;
    if (events != nullptr && (KeyspaceEventWanted(notify_flags, type) ||
                              ((notify_flags & kTrackKeys) && KeyspaceEventChanges(type)))) {
      events->push_back(KeyEvent{type, event, std::string(key), writer});
    }
  }

  int Partition(std::string_view key) const;
  // The live string value of `key` (payload and absolute expiry, 0 = none); false if absent,
  // or if the key holds another type: that sets wrong_type.
  bool GetString(std::string_view key, std::string* payload, int64_t* expire_at_ms);
  void PutString(std::string_view key, std::string_view payload, int64_t expire_at_ms);
  // The live value of `key` whatever its type (for commands on any key: EXPIRE, RENAME, ...).
  bool GetValue(std::string_view key, storage::ValueType* type, std::string* payload,
                int64_t* expire_at_ms);
  void PutValue(std::string_view key, storage::ValueType type, std::string_view payload,
                int64_t expire_at_ms);
  void Delete(std::string_view key);
  bool Exists(std::string_view key);  // of any type
  // Like GetValue, but also returns a value that has expired (not yet deleted).
  bool GetValueEvenIfExpired(std::string_view key, storage::ValueType* type,
                             std::string* payload, int64_t* expire_at_ms);

  // A string command met a key of another type (GetString, ReadString). From then on the
  // context writes and notifies nothing, and RunApply answers WRONGTYPE in place of whatever
  // the command answered. Apply functions read what they need before they write, as Redis's
  // commands check their keys' types first.
  bool wrong_type = false;

 private:
  bool GetAt(std::string_view key, int64_t at_ms, storage::ValueType* type, std::string* payload,
             int64_t* expire_at_ms);
  std::string raw_;
  mutable uint64_t own_draws_ = 0;   // draws made by this entry (a top-level context)
  uint64_t* draws_ = nullptr;        // the entry's count, for a sub-command's context
};

// Runs spec.apply on ctx: the one way an apply function is called (the state machine, EXEC,
// a script's redis.call), so that a WRONGTYPE found anywhere in it is its answer.
void RunApply(const CommandSpec& spec, ApplyContext& ctx);

using Handler = void (*)(CommandContext& ctx);
using ApplyFn = void (*)(ApplyContext& ctx);

struct CommandSpec {
  std::string name;        // lower case
  int arity = 0;
  uint32_t flags = 0;
  int first_key = 0, last_key = 0, step = 0;
  Handler handler = nullptr;
  ApplyFn apply = nullptr;
  std::string group;       // COMMAND DOCS: "string", "generic", "connection", "server"
  std::string summary;
  std::string since = "1.0.0";
  std::string complexity = "O(1)";
  std::vector<std::string> subcommands;  // "config|get", ... (documentation only)
  // For a command whose arguments decide whether it writes (BITFIELD writes only with a SET
  // or INCRBY): true if this call writes. Unset, the flags decide. It must depend on the
  // arguments alone: routing and MULTI ask it on I/O threads, the state machine on the
  // apply thread, and every replica must get the same answer for the same entry.
  bool (*writes_if)(Args args) = nullptr;
  // For a command whose arguments say where its keys are (EVAL's numkeys): the positions of
  // the keys in `args`, which has a valid arity. Unset, first_key/last_key/step say.
  std::vector<size_t> (*key_positions)(Args args) = nullptr;
  // A command Redis flags read-only that Flin logs (PFCOUNT, which may store its cached
  // count): CLIENT TRACKING remembers its keys like a read's.
  bool tracked_as_read = false;
  bool Has(uint32_t f) const { return (flags & f) != 0; }
  // Whether this call changes data (goes through the log as a write) ...
  bool Writes(Args args) const { return writes_if != nullptr ? writes_if(args) : Has(kCmdWrite); }
  // ... or only reads data (answered on the I/O thread, or read through the log).
  bool OnlyReads(Args args) const {
    return writes_if != nullptr ? !writes_if(args) : Has(kCmdReadOnly);
  }
  bool ArityOk(size_t argc) const {
    return arity >= 0 ? argc == static_cast<size_t>(arity) : argc >= static_cast<size_t>(-arity);
  }
  // The positions of keys in `args` (for routing, CROSSSLOT and COMMAND GETKEYS).
  std::vector<size_t> KeyPositions(Args args) const;
};

// A spec with the fields every family sets; key positions default to "no keys".
CommandSpec MakeCommand(std::string name, int arity, uint32_t flags, Handler handler,
                        ApplyFn apply, std::string group, std::string summary, int first_key = 0,
                        int last_key = 0, int step = 0);

class CommandTable {
 public:
  CommandTable();  // registers every family
  // nullptr if unknown. `name` in any case.
  const CommandSpec* Find(std::string_view name) const;
  const std::vector<const CommandSpec*>& All() const { return ordered_; }
  void Add(CommandSpec spec);
  // Index of a command, dense from 0, for per-command statistics.
  size_t IndexOf(const CommandSpec* spec) const { return index_.at(spec); }

 private:
  std::unordered_map<std::string, CommandSpec> by_name_;
  std::vector<const CommandSpec*> ordered_;
  std::unordered_map<const CommandSpec*, size_t> index_;
};

void RegisterStringFamily(CommandTable* table);
void RegisterBitFamily(CommandTable* table);
void RegisterHllFamily(CommandTable* table);
void RegisterKeysFamily(CommandTable* table);
void RegisterConnectionFamily(CommandTable* table);
void RegisterServerFamily(CommandTable* table);
void RegisterClusterFamily(CommandTable* table);
void RegisterTransactionFamily(CommandTable* table);
void RegisterPersistenceFamily(CommandTable* table);
void RegisterSlowlogFamily(CommandTable* table);
void RegisterDumpFamily(CommandTable* table);
void RegisterScriptFamily(CommandTable* table);
void RegisterPubSubFamily(CommandTable* table);
void RegisterReplicationFamily(CommandTable* table);
void RegisterHashFamily(CommandTable* table);
void RegisterSetFamily(CommandTable* table);
void RegisterListFamily(CommandTable* table);

// Log entry payload: the argument vector, length-prefixed. Decode fails (false) on anything
// malformed.
void EncodeCommand(Args args, std::string* out);
void EncodeCommand(const std::vector<std::string>& args, std::string* out);
bool DecodeCommand(std::string_view in, std::vector<std::string_view>* args);

// Redis's error texts, used by several families.
inline constexpr std::string_view kErrSyntax = "ERR syntax error";
inline constexpr std::string_view kErrNotInteger = "ERR value is not an integer or out of range";
inline constexpr std::string_view kErrNotFloat = "ERR value is not a valid float";
inline constexpr std::string_view kErrOverflow = "ERR increment or decrement would overflow";
inline constexpr std::string_view kErrNoSuchKey = "ERR no such key";
inline constexpr std::string_view kErrWrongType =
    "WRONGTYPE Operation against a key holding the wrong kind of value";
inline constexpr std::string_view kErrTooBig =
    "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
std::string ErrWrongArity(std::string_view cmd);
std::string ErrInvalidExpire(std::string_view cmd);
// The error a write gets when the replicator refuses it (Admit or ProposeBatch failed).
std::string RefusalError(const Status& s);

}  // namespace flin::server

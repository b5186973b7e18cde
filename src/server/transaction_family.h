#pragma once
// Transactions: WATCH, UNWATCH, MULTI, EXEC, DISCARD (transaction_family.cc).
//
// After MULTI, a connection's commands are checked and queued, not run (+QUEUED); EXEC sends
// them to the log as one entry, which the apply thread runs as one: all of them in one write
// batch, nothing of another client's in between, and the replies as one array. A command
// refused while queueing (unknown, wrong arity, a command that does not run from the log,
// CROSSSLOT or MOVED in a cluster) makes EXEC answer -EXECABORT and run none of them. An error
// of the command itself (a syntax error, INCR of a non-integer) is that command's reply in the
// array, and the others still run, as in Redis.
//
// WATCH records what each key holds (value and expiry, or nothing); the entry carries it and
// runs only if every watched key holds exactly that when it is applied (else EXEC answers a
// null array): check-and-set, decided the same way on every replica. A read by the watching
// connection that sees a watched key hold anything else (it changed since WATCH) makes EXEC
// answer a null array too, so a transaction never commits after its client saw a state other
// than the one it commits on (a write's reply counts: see CheckWatchedKeysBeforeWrite). Unlike Redis, a key written and then written back to what it
// held, unseen by the watching client, does not abort the transaction.
//
// Not supported inside MULTI: commands that do not go through the log (SCAN, KEYS, DBSIZE,
// RANDOMKEY, connection and server commands), and FLUSHALL/FLUSHDB (a range deletion, written
// apart from the transaction's batch). In a cluster every key of a transaction, watched keys
// included, must hash to one slot (as in Redis Cluster), of a partition this node leads, and
// the whole transaction must fit in one log entry (raft-entry-max-bytes).
//
// Bounds: what transactions queue and watch is held, all connections' together, within
// pending-write-limit (a budget of its own: it cannot block other clients' writes) until
// EXEC, DISCARD or the connection's end; EXEC's reply is
// cut at 256 MiB (each further command's reply becomes an error; writes still run). Limits a
// handler checks against the current state (max-value-bytes for APPEND and SETRANGE) see the
// state before the transaction, not what earlier commands of it will have written.
//
// Threading: the connection's I/O thread; the entry's apply on the apply thread.

#include "server/client_conn.h"
#include "server/command.h"

namespace flin::server {

// True for the commands that run at once inside MULTI instead of being queued.
bool RunsInsideMulti(const CommandSpec& spec);
// True for EXEC, whose refusal before it runs (arity, NOAUTH) discards the transaction and
// its watches and answers -EXECABORT, as in Redis.
bool IsExec(const CommandSpec& spec);
// Queues the command of `ctx` in its connection's transaction and answers +QUEUED, or answers
// the error that aborts the transaction (and marks it so).
void QueueInTransaction(CommandContext& ctx);
// Called by every read of a key on an I/O thread (ReadString) while the connection watches
// keys: if `key` is watched and now holds something else than at WATCH, EXEC will abort.
void NoteWatchedRead(ClientConn::Transaction& tx, std::string_view key, bool present,
                     storage::ValueType type, std::string_view payload, int64_t expire_at);
// A read by the connection of `ctx` that goes through the log after all (a cluster leader
// without a confirmed lease): what it will see is not checked, so if it reads a watched key,
// EXEC aborts (over-eagerly: the key may not have changed).
void NoteReadThroughLog(CommandContext& ctx);
// Before a write of the watching connection runs: its reply may show what a key holds (GETEX,
// SET ... GET, INCRBY 0, COPY's source), so each watched key it names is read here first and
// checked as a read would be (NoteWatchedRead). Not exact: another client's write landing
// between this read and the write's apply, undone before EXEC, goes unnoticed (Redis, which
// aborts on any write to a watched key, would abort). A write that changes a watched key
// aborts EXEC anyway: the key no longer holds what WATCH recorded.
void CheckWatchedKeysBeforeWrite(CommandContext& ctx);

}  // namespace flin::server

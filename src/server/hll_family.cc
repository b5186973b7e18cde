// HyperLogLog: PFADD PFCOUNT PFMERGE — with Redis 7.0's semantics, errors and stored bytes
// (server/hyperloglog.h). An HLL is a string; a string that is not one answers WRONGTYPE.
// (PFDEBUG and PFSELFTEST are not implemented: they answer "unknown command".)
//
// All three go through the log, PFCOUNT included: PFCOUNT of one key whose cached
// cardinality is invalid stores the one it computed, as Redis does (Redis propagates that
// write to its replicas), so GET then returns Redis's bytes on every replica. Done on an I/O
// thread it would be a write outside the log; done by a read through the log it would be
// skipped by followers (StateMachineImpl::Apply). So PFCOUNT is registered as a write, which
// COMMAND INFO shows ("write" where Redis says "readonly"), and costs a log entry even when
// it writes nothing. PFCOUNT of several keys merges them in memory and writes nothing.

#include "server/command.h"
#include "server/hyperloglog.h"

namespace flin::server {
namespace {

void ProposeFirstKey(CommandContext& ctx) { ctx.Propose(ctx.Partition(ctx.args[1])); }

// Reads `key` for an HLL command: false if absent; an error reply and false if it is not an
// HLL (*bad set).
bool ReadHll(ApplyContext& ctx, std::string_view key, std::string* v, int64_t* expire_at,
             bool* bad) {
  if (!ctx.GetString(key, v, expire_at)) return false;
  if (hll::IsHll(*v)) return true;
  ctx.out.Error(hll::kErrWrongType);
  *bad = true;
  return false;
}

// Folds every key of args[first..] into `max`, one value in memory at a time. false after an
// error reply. `dense`: one of them was dense.
bool MergeKeys(ApplyContext& ctx, size_t first, hll::Registers* max, bool* dense) {
  std::string v;
  for (size_t i = first; i < ctx.args.size(); ++i) {
    bool bad = false;
    if (!ReadHll(ctx, ctx.args[i], &v, nullptr, &bad)) {
      if (bad) return false;
      ctx.Notify(kNotifyKeyMiss, "keymiss", ctx.args[i]);
      continue;  // a missing key is an empty HLL
    }
    if (v[4] == 0) *dense = true;
    if (!hll::MergeInto(v, max)) {
      ctx.out.Error(hll::kErrCorrupt);
      return false;
    }
  }
  return true;
}

// PFADD key [element ...]: 1 if a register changed or the key was created, else 0. Keeps
// the key's expiry.
void PfAddApply(ApplyContext& ctx) {
  std::string v;
  int64_t expire_at = 0;
  bool bad = false, changed = false;
  if (!ReadHll(ctx, ctx.args[1], &v, &expire_at, &bad)) {
    if (bad) return;
    v = hll::NewSparse();
    changed = true;
  }
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    const hll::AddResult r = hll::Add(&v, ctx.args[i]);
    if (r == hll::AddResult::kCorrupt) {
      // What the elements before changed stays, as in Redis.
      if (changed) ctx.PutString(ctx.args[1], v, expire_at);
      return ctx.out.Error(hll::kErrCorrupt);
    }
    changed |= r == hll::AddResult::kChanged;
  }
  if (changed) {
    hll::InvalidateCache(&v);
    ctx.PutString(ctx.args[1], v, expire_at);
    ctx.Notify(kNotifyString, "pfadd", ctx.args[1]);
  }
  ctx.out.Integer(changed ? 1 : 0);
}

// PFCOUNT key [key ...]. One key: the cached cardinality if valid, else computed and cached.
// Several: the cardinality of their union, nothing written.
void PfCountApply(ApplyContext& ctx) {
  if (ctx.args.size() > 2) {
    hll::Registers max{};
    bool dense = false;
    if (!MergeKeys(ctx, 1, &max, &dense)) return;
    return ctx.out.Integer(static_cast<int64_t>(hll::Count(max)));
  }
  std::string v;
  int64_t expire_at = 0;
  bool bad = false;
  if (!ReadHll(ctx, ctx.args[1], &v, &expire_at, &bad)) {
    if (!bad) {
      ctx.Notify(kNotifyKeyMiss, "keymiss", ctx.args[1]);
      ctx.out.Integer(0);
    }
    return;
  }
  uint64_t card;
  if (!hll::CachedCardinality(v, &card)) {
    if (!hll::Count(v, &card)) return ctx.out.Error(hll::kErrCorrupt);
    hll::SetCachedCardinality(&v, card);
    ctx.PutString(ctx.args[1], v, expire_at);
    // The key's bytes changed (GET shows them): no keyspace event, as Redis, but CLIENT
    // TRACKING must hear of it (Redis signals the key modified).
    ctx.Notify(kTrackWrite, "pfcount", ctx.args[1]);
  }
  ctx.out.Integer(static_cast<int64_t>(card));
}

// PFMERGE destkey [sourcekey ...]: destkey (a source too) gets the union, dense if any input
// was dense; created if missing, its expiry kept otherwise.
void PfMergeApply(ApplyContext& ctx) {
  hll::Registers max{};
  bool dense = false;
  if (!MergeKeys(ctx, 1, &max, &dense)) return;
  std::string v;
  int64_t expire_at = 0;
  if (!ctx.GetString(ctx.args[1], &v, &expire_at)) {
    v = hll::NewSparse();
    expire_at = 0;
  }
  if (!hll::StoreMax(&v, max, dense)) return ctx.out.Error(hll::kErrCorrupt);
  ctx.PutString(ctx.args[1], v, expire_at);
  ctx.Notify(kNotifyString, "pfadd", ctx.args[1]);
  ctx.out.Ok();
}

CommandSpec Write(std::string name, int arity, ApplyFn a, int last_key, std::string summary,
                  std::string complexity) {
  const uint32_t fast = name == "pfadd" ? uint32_t{kCmdFast} : 0;  // (as Redis 7.0 flags it)
  CommandSpec s = MakeCommand(std::move(name), arity, kCmdWrite | fast, ProposeFirstKey, a,
                              "hyperloglog", std::move(summary), 1, last_key, 1);
  s.since = "2.8.9";
  s.complexity = std::move(complexity);
  return s;
}

}  // namespace

void RegisterHllFamily(CommandTable* t) {
  t->Add(Write("pfadd", -2, PfAddApply, 1,
               "Adds elements to a HyperLogLog key. Creates the key if it doesn't exist.",
               "O(1) to add every element."));
  CommandSpec pfcount = Write("pfcount", -2, PfCountApply, -1,
               "Returns the approximated cardinality of the set(s) observed by the "
               "HyperLogLog key(s).",
               "O(1) with a very small average constant time when called with a single key. "
               "O(N) with N being the number of keys, and much bigger constant times, when "
               "called with multiple keys.");
  pfcount.tracked_as_read = true;  // a read in Redis, logged here for its cached count
  t->Add(std::move(pfcount));
  t->Add(Write("pfmerge", -2, PfMergeApply, -1,
               "Merges one or more HyperLogLog values into a single key.",
               "O(N) to merge N HyperLogLogs, but with high constant times."));
}

}  // namespace flin::server

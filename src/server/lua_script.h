#pragma once
// Lua scripts (EVAL and friends, script_family.cc): how a script runs.
//
// A script is replicated as itself: EVAL's log entry carries the script's body, keys and
// arguments, and every replica runs it when it applies the entry, against the entry's
// WriteTxn, at the entry's timestamp. So a script must do the same thing on every replica,
// and here it does:
//   - each run gets a Lua state of its own (Lua 5.1, as Redis; base, table, string, math,
//     cjson and bit, the last five opened when the script first names one), made for it and
//     closed after it: nothing a script leaves behind (a changed table, garbage, the garbage
//     collector's pace) reaches another run;
//   - math.random is Redis's rand48, seeded at the start of every run from the entry's
//     timestamp (Redis 7.0 never reseeds: its values cannot be the same), TIME answers the
//     entry's timestamp, and nothing reads a clock, a file or the environment (no os, io,
//     debug, loadfile);
//   - a run is stopped at a fixed budget of work (kScriptBudget: Lua instructions,
//     kScriptCallCost for each redis.call, kScriptAllocCost for each block Lua allocates or
//     grows) and of memory (kScriptMemoryBytes), counted the same way everywhere. SCRIPT KILL cannot stop a script that every replica runs, so there is
//     none; the budget takes its place.
// What a script wrote before it failed stays (as in Redis): the writes are in the entry's
// WriteTxn, committed with the entry on every replica alike.
//
// redis.call runs a command's apply function (command.h) with the script's arguments, after
// the checks Redis makes in scripts: a known command that may run from the log, its arity,
// no write from a read-only script (EVAL_RO), and in a cluster only keys of the entry's
// partition.
//
// Threading: RunScript on the thread applying the entry; ScriptCompileError on any thread
// (a state per thread, used only to compile). Nothing is shared between runs.

#include <cstdint>
#include <string>
#include <string_view>

#include "server/command.h"

namespace flin::server {

// Work a run may do: Lua VM instructions, counted every kScriptHookEvery, plus
// kScriptCallCost per redis.call/pcall and kScriptAllocCost per block allocated or grown
// (a command, or a library call that makes a string such as tostring, costs about what that
// many instructions do; without the latter, a loop of tostring filling the memory limit ran
// 5 s within the instruction budget). About a quarter of a second of one core.
inline constexpr uint64_t kScriptBudget = 50'000'000;
inline constexpr uint64_t kScriptCallCost = 500;
inline constexpr uint64_t kScriptAllocCost = 100;
inline constexpr int kScriptHookEvery = 1000;
// Memory a run's Lua state may hold.
inline constexpr size_t kScriptMemoryBytes = 256u << 20;

// EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT: what a script may not call.
bool IsScriptCommand(const CommandSpec& spec);

// A script's first line "#!lua [flags=f1,f2...]" (Redis 7): its flags, and the code to
// compile (the body from that line's newline, so line numbers stay). Flags Flin acts on:
// no-writes (the script is read-only), no-cluster (refused in a cluster); allow-oom,
// allow-stale and allow-cross-slot-keys are accepted and change nothing here (no memory
// eviction, no stale replicas serving scripts, and a script's keys are its partition's).
struct ScriptShebang {
  bool declared = false;
  bool no_writes = false;
  bool no_cluster = false;
  std::string_view code;
};
// False, with Redis's error in *err, if the shebang is not valid.
bool ParseShebang(std::string_view body, ScriptShebang* out, std::string* err);

// The SHA-1 of `body` in lower-case hex, the name EVALSHA and SCRIPT use.
std::string ScriptSha1Hex(std::string_view body);

// Empty if `body` compiles; otherwise Redis's error reply text
// ("ERR Error compiling script (new function): user_script:1: ...").
std::string ScriptCompileError(std::string_view body);

// Runs `body` with KEYS = `keys` and ARGV = `argv` against ctx (its WriteTxn, time and
// partition), and writes the script's reply, or its error, to ctx.out. `read_only`: a write
// command called from the script is an error (EVAL_RO).
void RunScript(ApplyContext& ctx, std::string_view body, Args keys, Args argv, bool read_only);

}  // namespace flin::server

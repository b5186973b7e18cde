// Scripts: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT LOAD / EXISTS / FLUSH / HELP, with
// Redis 7.0's replies and errors. A script goes through the log as itself (its body, keys and
// arguments) and runs on every replica as the entry is applied: lua_script.h says how it
// runs the same everywhere. On the I/O thread a script is only compiled (a syntax error costs
// no log entry) and kept in the node's ScriptCache for EVALSHA.
//
// Routing is by the keys EVAL declares (CommandSpec::key_positions): in a cluster they must
// share a slot, and the script may touch only keys of that slot's partition. A script with no
// keys runs in the lowest partition this node leads.

#include "common/strings.h"
#include "server/client_conn.h"
#include "server/command.h"
#include "server/lua_script.h"
#include "server/script_cache.h"
#include "server/server.h"

namespace flin::server {
namespace {

// EVAL's numkeys (args[2]); false, with Redis's error in *err, if it is not valid.
bool ParseNumKeys(Args args, int64_t* n, std::string* err) {
  if (!ParseInt64(args[2], n)) {
    *err = kErrNotInteger;
  } else if (*n < 0) {
    *err = "ERR Number of keys can't be negative";
  } else if (static_cast<uint64_t>(*n) > args.size() - 3) {
    *err = "ERR Number of keys can't be greater than number of args";
  } else {
    return true;
  }
  return false;
}

std::vector<size_t> ScriptKeys(Args args) {
  std::vector<size_t> keys;
  int64_t n;
  std::string err;
  if (!ParseNumKeys(args, &n, &err)) return keys;  // the handler answers the error
  for (int64_t i = 0; i < n; ++i) keys.push_back(static_cast<size_t>(3 + i));
  return keys;
}

bool ReadOnlyScript(std::string_view name) {
  return name.size() > 3 && ToLower(name.substr(name.size() - 3)) == "_ro";
}

// The log a script's entry goes to: its keys' partition in a cluster (routing checked they
// share a slot led here), the lowest partition led here for a script without keys; the single
// node's one log (-1). -2 if a cluster node leads no partition.
int ScriptPartition(CommandContext& ctx, int64_t numkeys) {
  if (ctx.server.cluster() == nullptr) return -1;
  if (numkeys > 0) return ctx.Partition(ctx.args[3]);
  const int p = ctx.server.LowestLedPartition();
  return p >= 0 ? p : -2;
}

// Keeps `body` in the node's cache under its SHA-1 (*sha), compiled first unless the node has
// it already (a cached script compiled when it was added). Redis's compile error, or "".
std::string CacheScript(ScriptCache& cache, std::string_view body, std::string* sha) {
  *sha = ScriptSha1Hex(body);
  if (cache.Exists(*sha)) return "";
  std::string err = ScriptCompileError(body);
  if (err.empty()) cache.Add(*sha, body);
  return err;
}

// EVAL / EVAL_RO / EVALSHA / EVALSHA_RO script-or-sha numkeys key... arg...
void EvalCmd(CommandContext& ctx) {
  int64_t numkeys;
  std::string err;
  if (!ParseNumKeys(ctx.args, &numkeys, &err)) return ctx.out.Error(err);
  const std::string name = ToLower(ctx.args[0]);
  const bool by_sha = name.starts_with("evalsha");
  std::string body;
  if (by_sha) {
    if (!ctx.server.scripts().Get(ctx.args[1], &body)) {
      return ctx.out.Error("NOSCRIPT No matching script. Please use EVAL.");
    }
  } else {
    std::string sha;
    err = CacheScript(ctx.server.scripts(), ctx.args[1], &sha);
    if (!err.empty()) return ctx.out.Error(err);
  }
  const int partition = ScriptPartition(ctx, numkeys);
  if (partition == -2) {
    return ctx.out.Error("TRYAGAIN this node leads no partition to run a script without keys "
                         "in; send it to another node");
  }
  if (!by_sha) return ctx.Propose(partition);
  // The entry carries the body: replicas need no cache, and a later SCRIPT FLUSH changes
  // nothing for a script already proposed.
  std::vector<std::string> entry;
  entry.reserve(ctx.args.size());
  entry.emplace_back(ReadOnlyScript(name) ? "eval_ro" : "eval");
  entry.push_back(std::move(body));
  for (size_t i = 2; i < ctx.args.size(); ++i) entry.emplace_back(ctx.args[i]);
  ctx.ProposeArgs(partition, entry);
}

void EvalApply(ApplyContext& ctx) {
  int64_t numkeys;
  std::string err;
  if (!ParseNumKeys(ctx.args, &numkeys, &err)) return ctx.out.Error(err);
  const auto n = static_cast<size_t>(numkeys);
  RunScript(ctx, ctx.args[1], ctx.args.subspan(3, n), ctx.args.subspan(3 + n),
            ReadOnlyScript(ctx.args[0]));
}

void ScriptCmd(CommandContext& ctx) {
  const std::string sub = ToLower(ctx.args[1]);
  const size_t argc = ctx.args.size();
  ScriptCache& cache = ctx.server.scripts();
  if (sub == "load" && argc == 3) {
    std::string sha;
    const std::string err = CacheScript(cache, ctx.args[2], &sha);
    if (!err.empty()) return ctx.out.Error(err);
    ctx.out.Bulk(sha);
  } else if (sub == "exists" && argc >= 3) {
    ctx.out.ArrayHeader(argc - 2);
    for (size_t i = 2; i < argc; ++i) ctx.out.Integer(cache.Exists(ctx.args[i]) ? 1 : 0);
  } else if (sub == "flush" &&
             (argc == 2 || (argc == 3 && (ToLower(ctx.args[2]) == "sync" ||
                                          ToLower(ctx.args[2]) == "async")))) {
    cache.Flush();
    ctx.out.Ok();
  } else if (sub == "help" && argc == 2) {
    static const char* kHelp[] = {
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Flin's cache is each node's own, in memory.",
        "    * ASYNC, SYNC: accepted, and the same (the cache is emptied at once).",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Prints this help."};
    ctx.out.ArrayHeader(std::size(kHelp));
    for (const char* line : kHelp) ctx.out.Simple(line);
  } else if (sub == "flush") {
    ctx.out.Error("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
  } else if (sub == "load" || sub == "exists" || sub == "help") {
    ctx.out.Error(ErrWrongArity("script|" + sub));
  } else {
    ctx.out.Error("ERR unknown subcommand '" + std::string(ctx.args[1]) +
                  "'. Try SCRIPT HELP.");
  }
}

CommandSpec Eval(std::string name, std::string summary) {
  // EVALSHA's entry is an EVAL's (EvalCmd): it has no apply of its own.
  const ApplyFn apply = name.starts_with("evalsha") ? nullptr : EvalApply;
  CommandSpec s = MakeCommand(std::move(name), -3, kCmdWrite, EvalCmd, apply, "scripting",
                              std::move(summary));
  s.key_positions = ScriptKeys;
  s.since = s.name.ends_with("_ro") ? "7.0.0" : "2.6.0";
  s.complexity = "Depends on the script that is executed.";
  return s;
}

}  // namespace

void RegisterScriptFamily(CommandTable* t) {
  t->Add(Eval("eval", "Executes a server-side Lua script."));
  t->Add(Eval("evalsha", "Executes a server-side Lua script by SHA1 digest."));
  t->Add(Eval("eval_ro", "Executes a read-only server-side Lua script."));
  t->Add(Eval("evalsha_ro", "Executes a read-only server-side Lua script by SHA1 digest."));
  CommandSpec script = MakeCommand("script", -2, kCmdAdmin, ScriptCmd, nullptr, "scripting",
                                   "A container for Lua scripts management commands.");
  script.since = "2.6.0";
  script.complexity = "Depends on subcommand.";
  script.subcommands = {"script|exists", "script|flush", "script|load", "script|help"};
  t->Add(std::move(script));
}

}  // namespace flin::server

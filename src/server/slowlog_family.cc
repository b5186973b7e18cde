// SLOWLOG GET / LEN / RESET / HELP, with Redis 7.0's replies and errors; what is recorded and
// when: slowlog.h. On the I/O thread; the log itself is shared by the node's threads.

#include "common/strings.h"
#include "server/client_conn.h"
#include "server/command.h"
#include "server/server.h"
#include "server/slowlog.h"

namespace flin::server {
namespace {

void SlowlogGet(CommandContext& ctx) {
  int64_t count = 10;
  if (ctx.args.size() == 3 && (!ParseInt64(ctx.args[2], &count) || count < -1)) {
    return ctx.out.Error("ERR count should be greater than or equal to -1");
  }
  const std::vector<SlowLog::Entry> entries = ctx.server.slowlog().Get(count);
  ctx.out.ArrayHeader(entries.size());
  for (const SlowLog::Entry& e : entries) {
    ctx.out.ArrayHeader(6);
    ctx.out.Integer(static_cast<int64_t>(e.id));
    ctx.out.Integer(e.unix_s);
    ctx.out.Integer(e.usec);
    ctx.out.ArrayHeader(e.args.size());
    for (const std::string& a : e.args) ctx.out.Bulk(a);
    ctx.out.Bulk(e.addr);
    ctx.out.Bulk(e.name);
  }
}

void SlowlogCmd(CommandContext& ctx) {
  const std::string sub = ToLower(ctx.args[1]);
  const size_t argc = ctx.args.size();
  if (sub == "get" && argc <= 3) {
    SlowlogGet(ctx);
  } else if (sub == "len" && argc == 2) {
    ctx.out.Integer(static_cast<int64_t>(ctx.server.slowlog().Len()));
  } else if (sub == "reset" && argc == 2) {
    ctx.server.slowlog().Reset();
    ctx.out.Ok();
  } else if (sub == "help" && argc == 2) {
    static const char* kHelp[] = {
        "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
        "HELP",
        "    Prints this help."};
    ctx.out.ArrayHeader(std::size(kHelp));
    for (const char* line : kHelp) ctx.out.Simple(line);
  } else if (sub == "len" || sub == "reset" || sub == "help") {
    ctx.out.Error(ErrWrongArity("slowlog|" + sub));
  } else if (sub == "get") {
    ctx.out.Error("ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG "
                  "HELP.");
  } else {
    ctx.out.Error("ERR unknown subcommand '" + std::string(ctx.args[1]) +
                  "'. Try SLOWLOG HELP.");
  }
}

}  // namespace

void RegisterSlowlogFamily(CommandTable* t) {
  CommandSpec slowlog = MakeCommand("slowlog", -2, kCmdAdmin | kCmdLoading | kCmdStale,
                                    SlowlogCmd, nullptr, "server",
                                    "A container for slow log commands.");
  slowlog.since = "2.2.12";
  slowlog.complexity = "Depends on subcommand.";
  slowlog.subcommands = {"slowlog|get", "slowlog|len", "slowlog|reset", "slowlog|help"};
  t->Add(std::move(slowlog));
}

}  // namespace flin::server

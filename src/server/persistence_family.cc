// Persistence commands: SAVE BGSAVE LASTSAVE, a single node's online backups (backups.h).
//
// Every acknowledged write is durable in the data directory already; these make a copy of it
// that a server can be started on (`flin-server --dir <backup>`), in <dir>-backups (or
// --backup-dir). A cluster node started on its backup rejoins recovering (backups.h).

#include "common/strings.h"
#include "server/command.h"
#include "server/server.h"

namespace flin::server {
namespace {

constexpr std::string_view kErrInProgress = "ERR Background save already in progress";

// SAVE: takes a backup and answers when it is made. It runs on the background worker, so the
// connections of this I/O thread are served meanwhile (Redis's SAVE blocks every client).
void SaveCmd(CommandContext& ctx) {
  Backups* b = ctx.server.backups();
  if (b->in_progress()) return ctx.out.Error(kErrInProgress);
  ctx.Offload([b](protocol::ReplyWriter& out) {
    Result<std::string> r = b->Save();
    if (r.ok()) return out.Ok();
    if (r.status().code() == Status::Code::kBusy) return out.Error(kErrInProgress);
    out.Error("ERR backup failed: " + r.status().message());
  });
}

// BGSAVE [SCHEDULE]: starts a backup and answers at once. With no other background job in
// Flin, SCHEDULE (Redis: wait for an AOF rewrite) starts it at once too.
void BgsaveCmd(CommandContext& ctx) {
  if (ctx.args.size() > 2 || (ctx.args.size() == 2 && ToLower(ctx.args[1]) != "schedule")) {
    return ctx.out.Error(kErrSyntax);
  }
  Backups* b = ctx.server.backups();
  if (!b->Background()) return ctx.out.Error(kErrInProgress);
  ctx.out.Simple("Background saving started");
}

// LASTSAVE: Unix time of the last successful backup (the server's start before any).
void LastsaveCmd(CommandContext& ctx) {
  ctx.out.Integer(ctx.server.backups()->last_save_unix());
}

CommandSpec Spec(std::string name, int arity, uint32_t flags, Handler h, std::string summary) {
  return MakeCommand(std::move(name), arity, flags, h, nullptr, "server", std::move(summary));
}

}  // namespace

void RegisterPersistenceFamily(CommandTable* t) {
  t->Add(Spec("save", 1, kCmdAdmin, SaveCmd,
              "Makes a backup of the data directory and answers when done."));
  t->Add(Spec("bgsave", -1, kCmdAdmin, BgsaveCmd,
              "Makes a backup of the data directory in the background."));
  t->Add(Spec("lastsave", 1, kCmdLoading | kCmdStale | kCmdFast, LastsaveCmd,
              "Returns the Unix timestamp of the last successful backup."));
}

}  // namespace flin::server

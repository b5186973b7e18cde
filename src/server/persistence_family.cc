// Persistence commands: SAVE BGSAVE LASTSAVE, a single node's online backups (backups.h).
//
// Every acknowledged write is durable in the data directory already; these make a copy of it
// that a server can be started on (`flin-server --dir <backup>`), in <dir>-backups (or
// --backup-dir). A cluster node refuses them: a copy of its data directory cannot be restored
// safely (README, "Operating one").

#include "common/strings.h"
#include "server/command.h"
#include "server/server.h"

namespace flin::server {
namespace {

constexpr std::string_view kErrInProgress = "ERR Background save already in progress";

Backups* BackupsOrError(CommandContext& ctx) {
  Backups* b = ctx.server.backups();
  if (b == nullptr) {
    ctx.out.Error("ERR a cluster node takes no backups: a copy of its data directory cannot be "
                  "restored safely");
  }
  return b;
}

// SAVE: takes a backup and answers when it is made. It runs on the background worker, so the
// connections of this I/O thread are served meanwhile (Redis's SAVE blocks every client).
void SaveCmd(CommandContext& ctx) {
  Backups* b = BackupsOrError(ctx);
  if (b == nullptr) return;
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
  Backups* b = BackupsOrError(ctx);
  if (b == nullptr) return;
  if (!b->Background()) return ctx.out.Error(kErrInProgress);
  ctx.out.Simple("Background saving started");
}

// LASTSAVE: Unix time of the last successful backup (the server's start before any).
void LastsaveCmd(CommandContext& ctx) {
  Backups* b = ctx.server.backups();
  ctx.out.Integer(b != nullptr ? b->last_save_unix() : ctx.server.start_ms() / 1000);
}

CommandSpec Spec(std::string name, int arity, uint32_t flags, Handler h, std::string summary) {
  return MakeCommand(std::move(name), arity, flags, h, nullptr, "server", std::move(summary));
}

}  // namespace

void RegisterPersistenceFamily(CommandTable* t) {
  t->Add(Spec("save", 1, kCmdAdmin, SaveCmd,
              "Makes a backup of the data directory (a single node's) and answers when done."));
  t->Add(Spec("bgsave", -1, kCmdAdmin, BgsaveCmd,
              "Makes a backup of the data directory (a single node's) in the background."));
  t->Add(Spec("lastsave", 1, kCmdLoading | kCmdStale | kCmdFast, LastsaveCmd,
              "Returns the Unix timestamp of the last successful backup."));
}

}  // namespace flin::server

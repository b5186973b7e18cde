// Connection commands: PING ECHO HELLO AUTH SELECT QUIT RESET CLIENT.

#include "common/strings.h"
#include "server/client_conn.h"
#include "server/command.h"
#include "server/io_thread.h"
#include "server/server.h"
#include "server/tracking_family.h"

namespace flin::server {
namespace {

constexpr std::string_view kWrongPass =
    "WRONGPASS invalid username-password pair or user is disabled.";

void PingCmd(CommandContext& ctx) {
  if (ctx.args.size() > 2) return ctx.out.Error(ErrWrongArity(ctx.args[0]));
  if (ctx.conn.InSubscribedMode()) {
    // As Redis: a subscribed RESP2 connection reads every reply as a message array.
    ctx.out.ArrayHeader(2);
    ctx.out.Bulk("pong");
    return ctx.out.Bulk(ctx.args.size() == 2 ? ctx.args[1] : "");
  }
  if (ctx.args.size() == 2) return ctx.out.Bulk(ctx.args[1]);
  ctx.out.Simple("PONG");
}

void EchoCmd(CommandContext& ctx) { ctx.out.Bulk(ctx.args[1]); }

// Checks credentials; on failure writes the error and returns false.
// AUTH's and HELLO's check. Without --requirepass the default user takes any password, as
// Redis's "nopass" default user does; no other user exists.
bool Authenticate(CommandContext& ctx, std::string_view user, std::string_view pass) {
  const Config& cfg = ctx.server.config();
  if (user != "default" || (cfg.has_password.load() && pass != cfg.requirepass())) {
    ctx.out.Error(kWrongPass);
    return false;
  }
  ctx.conn.set_authenticated(true);
  return true;
}

void AuthCmd(CommandContext& ctx) {
  if (ctx.args.size() > 3) return ctx.out.Error(kErrSyntax);
  const bool has_user = ctx.args.size() == 3;
  if (!has_user && !ctx.server.config().has_password.load()) {
    return ctx.out.Error(
        "ERR AUTH <password> called without any password configured for the default user. "
        "Are you sure your configuration is correct?");
  }
  if (Authenticate(ctx, has_user ? ctx.args[1] : "default", ctx.args[has_user ? 2 : 1])) {
    ctx.out.Ok();
  }
}

bool ValidClientName(std::string_view name) {
  for (char c : name) {
    if (c < '!' || c > '~') return false;
  }
  return true;
}

constexpr std::string_view kErrBadName =
    "ERR Client names cannot contain spaces, newlines or special characters.";

void HelloCmd(CommandContext& ctx) {
  int64_t proto = ctx.conn.proto();
  size_t i = 1;
  if (ctx.args.size() >= 2) {
    if (!ParseInt64(ctx.args[1], &proto)) {
      return ctx.out.Error("ERR Protocol version is not an integer or out of range");
    }
    if (proto < 2 || proto > 3) return ctx.out.Error("NOPROTO unsupported protocol version");
    i = 2;
  }
  std::string_view setname;
  bool has_setname = false;
  for (; i < ctx.args.size(); ++i) {
    std::string opt = ToLower(ctx.args[i]);
    if (opt == "auth" && i + 2 < ctx.args.size()) {
      if (!Authenticate(ctx, ctx.args[i + 1], ctx.args[i + 2])) return;
      i += 2;
    } else if (opt == "setname" && i + 1 < ctx.args.size()) {
      setname = ctx.args[++i];
      has_setname = true;
    } else {
      return ctx.out.Error("ERR Syntax error in HELLO option '" + std::string(ctx.args[i]) + "'");
    }
  }
  if (ctx.server.config().has_password.load() && !ctx.conn.authenticated()) {
    return ctx.out.Error(
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
        "HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and "
        "select the RESP protocol version at the same time");
  }
  if (has_setname) {
    if (!ValidClientName(setname)) return ctx.out.Error(kErrBadName);
    ctx.conn.io().SetName(&ctx.conn, std::string(setname));
  }
  ctx.conn.set_proto(static_cast<int>(proto));
  protocol::ReplyWriter w(ctx.out.buffer(), static_cast<int>(proto));
  w.MapHeader(7);
  w.Bulk("server");
  w.Bulk("flin");
  w.Bulk("version");
  w.Bulk("7.0.0");
  w.Bulk("proto");
  w.Integer(proto);
  w.Bulk("id");
  w.Integer(static_cast<int64_t>(ctx.conn.id()));
  w.Bulk("mode");
  w.Bulk("standalone");
  w.Bulk("role");
  w.Bulk("master");
  w.Bulk("modules");
  w.ArrayHeader(0);
}

void SelectCmd(CommandContext& ctx) {
  int64_t db;
  if (!ParseInt64(ctx.args[1], &db)) return ctx.out.Error(kErrNotInteger);
  if (db != 0 && ctx.server.cluster() != nullptr) {
    return ctx.out.Error("ERR SELECT is not allowed in cluster mode");
  }
  if (db != 0) return ctx.out.Error("ERR DB index is out of range");
  ctx.out.Ok();
}

void QuitCmd(CommandContext& ctx) {
  ctx.out.Ok();
  ctx.conn.CloseAfterReply();
}

void ResetCmd(CommandContext& ctx) {
  ctx.conn.Reset();
  ctx.out.Simple("RESET");
}

// Redis's client type of a connection: "pubsub" once subscribed to anything, else "normal"
// (Flin has no replica or master connections among its clients).
bool Subscribed(const IoThread::ClientInfo& c) { return c.sub + c.psub + c.ssub > 0; }

// One CLIENT LIST line, with Redis's field names. Flags: x inside MULTI, r after READONLY,
// P subscribed to anything, t tracking (R its redirection broken, B in BCAST mode), N for none.
std::string ClientLine(const IoThread::ClientInfo& c) {
  std::string flags =  // in Redis's order
      std::string(Subscribed(c) ? "P" : "") + (c.multi >= 0 ? "x" : "") +
      (c.tracking ? "t" : "") + (c.tracking_broken ? "R" : "") + (c.tracking_bcast ? "B" : "") +
      (c.readonly ? "r" : "");
  if (flags.empty()) flags = "N";
  return "id=" + std::to_string(c.id) + " addr=" + c.addr + " laddr=" + c.laddr +
         " fd=" + std::to_string(c.fd) + " name=" + c.name + " age=" + std::to_string(c.age_s) +
         " idle=" + std::to_string(c.idle_s) +
         " flags=" + flags + " db=0 sub=" + std::to_string(c.sub) +
         " psub=" + std::to_string(c.psub) + " ssub=" + std::to_string(c.ssub) +
         " multi=" + std::to_string(c.multi) +
         " qbuf=" + std::to_string(c.qbuf) + " qbuf-free=0 argv-mem=0 multi-mem=" +
         std::to_string(c.multi_bytes) + " rbs=0 rbp=0 obl=0 oll=0 omem=" +
         std::to_string(c.obuf) + " tot-mem=" + std::to_string(c.qbuf + c.obuf + c.multi_bytes) +
         " events=r cmd=" + c.cmd + " user=default redir=" + std::to_string(c.redir) + " resp=" + std::to_string(c.proto) + "\n";
}

// `subscribed`: -1 every client, 0 TYPE normal, 1 TYPE pubsub.
void ClientList(CommandContext& ctx, const std::vector<uint64_t>& ids, int subscribed = -1) {
  std::string out;
  for (auto& t : ctx.server.io_threads()) {
    for (const auto& c : t->ListClients()) {
      if (!ids.empty() && std::find(ids.begin(), ids.end(), c.id) == ids.end()) continue;
      if (subscribed >= 0 && Subscribed(c) != (subscribed == 1)) continue;
      out += ClientLine(c);
    }
  }
  ctx.out.Verbatim(out);
}

void ClientKill(CommandContext& ctx) {
  if (ctx.args.size() == 3) {  // CLIENT KILL addr:port (old form)
    int n = 0;
    for (auto& t : ctx.server.io_threads()) n += t->Kill(0, std::string(ctx.args[2]), "", 0);
    if (n == 0) return ctx.out.Error("ERR No such client");
    // Killed itself: nothing it sent after this runs (Kill closes it only after this batch).
    if (ctx.conn.peer() == ctx.args[2]) ctx.conn.CloseAfterReply();
    return ctx.out.Ok();
  }
  uint64_t id = 0;
  std::string addr, laddr;
  bool skipme = true;
  int subscribed = -1;
  if (ctx.args.size() % 2 != 0) return ctx.out.Error(kErrSyntax);
  for (size_t i = 2; i + 1 < ctx.args.size(); i += 2) {
    std::string f = ToLower(ctx.args[i]);
    std::string_view v = ctx.args[i + 1];
    int64_t n;
    if (f == "id") {
      if (!ParseInt64(v, &n) || n <= 0) {
        return ctx.out.Error("ERR client-id should be greater than 0");
      }
      id = static_cast<uint64_t>(n);
    } else if (f == "addr") {
      addr = v;
    } else if (f == "laddr") {
      laddr = v;
    } else if (f == "skipme") {
      std::string y = ToLower(v);
      if (y != "yes" && y != "no") return ctx.out.Error(kErrSyntax);
      skipme = y == "yes";
    } else if (f == "user") {
      if (v != "default") return ctx.out.Error("ERR No such user '" + std::string(v) + "'");
    } else if (f == "type") {
      std::string ty = ToLower(v);
      if (ty != "normal" && ty != "master" && ty != "replica" && ty != "slave" && ty != "pubsub") {
        return ctx.out.Error("ERR Unknown client type '" + std::string(v) + "'");
      }
      if (ty != "normal" && ty != "pubsub") return ctx.out.Integer(0);
      subscribed = ty == "pubsub" ? 1 : 0;
    } else {
      return ctx.out.Error(kErrSyntax);
    }
  }
  int n = 0;
  for (auto& t : ctx.server.io_threads()) {
    n += t->Kill(id, addr, laddr, skipme ? ctx.conn.id() : 0, subscribed);
  }
  // Killed itself: nothing it sent after this runs (Kill closes it only after this batch).
  if (!skipme && (id == 0 || id == ctx.conn.id()) && (addr.empty() || addr == ctx.conn.peer()) &&
      (laddr.empty() || laddr == ctx.conn.local()) &&
      (subscribed < 0 || (ctx.conn.subscriptions().Total() > 0) == (subscribed == 1))) {
    ctx.conn.CloseAfterReply();
  }
  ctx.out.Integer(n);
}

// CLIENT PAUSE timeout [WRITE|ALL]: every command (or each that may write) of every client,
// this one's included, waits until `timeout` ms have passed or CLIENT UNPAUSE (Server::Pause).
void ClientPause(CommandContext& ctx) {
  int64_t ms;
  if (!ParseInt64(ctx.args[2], &ms)) {
    return ctx.out.Error("ERR timeout is not an integer or out of range");
  }
  if (ms < 0) return ctx.out.Error("ERR timeout is negative");
  bool writes_only = false;
  if (ctx.args.size() == 4) {
    const std::string mode = ToLower(ctx.args[3]);
    if (mode != "write" && mode != "all") {
      return ctx.out.Error("ERR CLIENT PAUSE mode must be WRITE or ALL");
    }
    writes_only = mode == "write";
  }
  ctx.server.Pause(net::MonotonicMs() + std::min<int64_t>(ms, int64_t{1} << 40), writes_only);
  ctx.out.Ok();
}

void ClientCmd(CommandContext& ctx) {
  const std::string sub = ToLower(ctx.args[1]);
  const size_t argc = ctx.args.size();
  if (ClientTrackingSubcommand(ctx, sub)) return;
  if (sub == "id" && argc == 2) {
    ctx.out.Integer(static_cast<int64_t>(ctx.conn.id()));
  } else if (sub == "setname" && argc == 3) {
    if (!ValidClientName(ctx.args[2])) return ctx.out.Error(kErrBadName);
    ctx.conn.io().SetName(&ctx.conn, std::string(ctx.args[2]));
    ctx.out.Ok();
  } else if (sub == "getname" && argc == 2) {
    std::string name = ctx.conn.io().GetName(&ctx.conn);
    name.empty() ? ctx.out.Null() : ctx.out.Bulk(name);
  } else if (sub == "setinfo" && argc == 4) {
    std::string attr = ToLower(ctx.args[2]);
    if (attr != "lib-name" && attr != "lib-ver") {
      return ctx.out.Error("ERR Unrecognized option '" + std::string(ctx.args[2]) + "'");
    }
    ctx.out.Ok();
  } else if (sub == "list") {
    std::vector<uint64_t> ids;
    int subscribed = -1;
    for (size_t i = 2; i < argc; ++i) {
      std::string opt = ToLower(ctx.args[i]);
      if (opt == "type" && i + 1 < argc) {
        std::string ty = ToLower(ctx.args[++i]);
        if (ty != "normal" && ty != "master" && ty != "replica" && ty != "pubsub") {
          return ctx.out.Error("ERR Unknown client type '" + std::string(ctx.args[i]) + "'");
        }
        if (ty != "normal" && ty != "pubsub") return ctx.out.Verbatim("");
        subscribed = ty == "pubsub" ? 1 : 0;
      } else if (opt == "id" && i + 1 < argc) {
        for (++i; i < argc; ++i) {
          int64_t id;
          if (!ParseInt64(ctx.args[i], &id) || id <= 0) return ctx.out.Error("ERR Invalid client ID");
          ids.push_back(static_cast<uint64_t>(id));
        }
      } else {
        return ctx.out.Error(kErrSyntax);
      }
    }
    ClientList(ctx, ids, subscribed);
  } else if (sub == "info" && argc == 2) {
    ClientList(ctx, {ctx.conn.id()});
  } else if (sub == "kill" && argc >= 3) {
    ClientKill(ctx);
  } else if (sub == "pause" && (argc == 3 || argc == 4)) {
    ClientPause(ctx);
  } else if (sub == "reply" && argc == 3) {
    const std::string mode = ToLower(ctx.args[2]);
    if (mode == "on") {
      ctx.conn.SetReplyMode(ClientConn::ReplyMode::kOn);
      ctx.out.Ok();
    } else if (mode == "off" || mode == "skip") {
      ctx.conn.SetReplyMode(mode == "off" ? ClientConn::ReplyMode::kOff
                                          : ClientConn::ReplyMode::kSkip);
    } else {
      ctx.out.Error(kErrSyntax);
    }
  } else if (sub == "unpause" && argc == 2) {
    ctx.server.Unpause();
    ctx.out.Ok();
  } else if (sub == "help" && argc == 2) {
    static const char* kHelp[] = {
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ID", "    Return the ID of the current connection.",
        "GETNAME", "    Return the name of the current connection.",
        "SETNAME <name>", "    Assign the name <name> to the current connection.",
        "SETINFO <LIB-NAME|LIB-VER> <value>", "    Accept client library information.",
        "LIST [TYPE normal|pubsub] [ID <id> [<id> ...]]", "    Return information about client connections.",
        "INFO", "    Return information about the current client connection.",
        "KILL <ip:port>", "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are: ID, ADDR, LADDR, USER default, TYPE normal|pubsub, SKIPME yes|no.",
        "PAUSE <timeout> [WRITE|ALL]",
        "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "UNPAUSE", "    Stop the current client pause, resuming traffic.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection:",
        "    * ON - Reply to all commands (default).",
        "    * OFF - Do not reply to any command, including errors.",
        "    * SKIP - Skip the reply of the next command.",
        "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix>] [OPTIN] [OPTOUT] [NOLOOP]",
        "    Control server assisted client side caching.",
        "CACHING (YES|NO)",
        "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
        "GETREDIR", "    Return the client ID we are redirecting to when tracking is enabled.",
        "TRACKINGINFO", "    Report tracking status for the current connection.",
        "HELP", "    Print this help."};
    ctx.out.ArrayHeader(std::size(kHelp));
    for (const char* line : kHelp) ctx.out.Simple(line);
  } else if (sub == "pause") {
    ctx.out.Error("ERR unknown subcommand or wrong number of arguments for '" +
                  std::string(ctx.args[1]) + "'. Try CLIENT HELP.");
  } else if (sub == "id" || sub == "setname" || sub == "getname" || sub == "setinfo" ||
             sub == "info" || sub == "kill" || sub == "help" || sub == "unpause" ||
             sub == "reply") {
    ctx.out.Error(ErrWrongArity("client|" + sub));
  } else {
    ctx.out.Error("ERR unknown subcommand '" + std::string(ctx.args[1]) + "'. Try CLIENT HELP.");
  }
}

CommandSpec Spec(std::string name, int arity, uint32_t flags, Handler h, std::string summary) {
  return MakeCommand(std::move(name), arity, flags, h, nullptr, "connection", std::move(summary));
}

}  // namespace

void RegisterConnectionFamily(CommandTable* t) {
  t->Add(Spec("ping", -1, kCmdFast | kCmdSubscribedMode, PingCmd, "Returns the server's liveliness response."));
  t->Add(Spec("echo", 2, kCmdFast, EchoCmd, "Returns the given string."));
  t->Add(Spec("hello", -1, kCmdNoAuth | kCmdFast, HelloCmd, "Handshakes with the Redis server."));
  t->Add(Spec("auth", -2, kCmdNoAuth | kCmdFast, AuthCmd, "Authenticates the connection."));
  t->Add(Spec("select", 2, kCmdFast, SelectCmd, "Changes the selected database."));
  t->Add(Spec("quit", -1, kCmdNoAuth | kCmdFast | kCmdSubscribedMode, QuitCmd, "Closes the connection."));
  t->Add(Spec("reset", 1, kCmdNoAuth | kCmdFast | kCmdSubscribedMode, ResetCmd, "Resets the connection."));
  CommandSpec client = Spec("client", -2, 0, ClientCmd, "A container for client connection commands.");
  client.subcommands = {"client|id", "client|setname", "client|getname", "client|setinfo",
                        "client|list", "client|info", "client|kill", "client|pause",
                        "client|unpause", "client|reply", "client|tracking",
                        "client|caching", "client|getredir", "client|trackinginfo",
                        "client|help"};
  t->Add(std::move(client));
}

}  // namespace flin::server

#include "server/tracking_family.h"

#include <algorithm>
#include <cstring>

#include "common/strings.h"
#include "server/client_conn.h"
#include "server/io_thread.h"
#include "server/server.h"

namespace flin::server {
namespace {

// Do two prefixes overlap (one starts the other: some key would match both)?
bool Overlap(std::string_view a, std::string_view b) {
  const size_t n = std::min(a.size(), b.size());
  return a.substr(0, n) == b.substr(0, n);
}

// CLIENT TRACKING ON|OFF [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN] [OPTOUT] [NOLOOP]
void TrackingCmd(CommandContext& ctx) {
  ClientConn::TrackingMode mode;
  std::vector<std::string> prefixes;
  bool redirect_given = false;
  int64_t redirect = 0;
  IoThread* redirect_thread = nullptr;
  for (size_t i = 3; i < ctx.args.size(); ++i) {
    const std::string opt = ToLower(ctx.args[i]);
    const bool more = i + 1 < ctx.args.size();
    if (opt == "redirect" && more) {
      ++i;
      if (redirect_given) {
        return ctx.out.Error("ERR A client can only redirect to a single other client");
      }
      if (!ParseInt64(ctx.args[i], &redirect)) return ctx.out.Error(kErrNotInteger);
      // It must exist now (it may go later: the client then hears tracking-redir-broken).
      redirect_thread = redirect > 0 ? ctx.server.FindClient(static_cast<uint64_t>(redirect))
                                     : nullptr;
      if (redirect_thread == nullptr) {
        return ctx.out.Error("ERR The client ID you want redirect to does not exist");
      }
      redirect_given = true;
    } else if (opt == "bcast") {
      mode.bcast = true;
    } else if (opt == "optin") {
      mode.optin = true;
    } else if (opt == "optout") {
      mode.optout = true;
    } else if (opt == "noloop") {
      mode.noloop = true;
    } else if (opt == "prefix" && more) {
      prefixes.emplace_back(ctx.args[++i]);
    } else {
      return ctx.out.Error(kErrSyntax);
    }
  }
  ClientConn::TrackingMode& current = ctx.conn.tracking();
  const std::string on = ToLower(ctx.args[2]);
  if (on == "off") {
    ctx.conn.StopTracking();
    return ctx.out.Ok();
  }
  if (on != "on") return ctx.out.Error(kErrSyntax);
  if (!mode.bcast && !prefixes.empty()) {
    return ctx.out.Error("ERR PREFIX option requires BCAST mode to be enabled");
  }
  if (current.on && current.bcast != mode.bcast) {
    return ctx.out.Error(
        "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and "
        "then re-enabling it with a different mode.");
  }
  if (mode.bcast && (mode.optin || mode.optout)) {
    return ctx.out.Error("ERR OPTIN and OPTOUT are not compatible with BCAST");
  }
  if (mode.optin && mode.optout) {
    return ctx.out.Error("ERR You can't specify both OPTIN mode and OPTOUT mode");
  }
  if (current.on && ((current.optin && mode.optout) || (current.optout && mode.optin))) {
    return ctx.out.Error(
        "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and "
        "then re-enabling it with a different mode.");
  }
  for (size_t i = 0; i < prefixes.size(); ++i) {
    for (const std::string& have : current.prefixes) {
      if (Overlap(have, prefixes[i])) {
        return ctx.out.Error("ERR Prefix '" + prefixes[i] + "' overlaps with an existing prefix '" +
                             have + "'. Prefixes for a single client must not overlap.");
      }
    }
    for (size_t j = i + 1; j < prefixes.size(); ++j) {
      if (Overlap(prefixes[i], prefixes[j])) {
        return ctx.out.Error("ERR Prefix '" + prefixes[i] +
                             "' overlaps with another provided prefix '" + prefixes[j] +
                             "'. Prefixes for a single client must not overlap.");
      }
    }
  }
  Tracking::Mode node_mode;
  node_mode.bcast = mode.bcast;
  node_mode.noloop = mode.noloop;
  node_mode.redirect = static_cast<uint64_t>(redirect);
  node_mode.redirect_sink = redirect_thread;
  node_mode.prefixes = std::move(prefixes);
  mode.prefixes = ctx.server.tracking().Enable(&ctx.conn.io(), ctx.conn.id(), node_mode);
  // The target may have closed since it was found, before this client counted as tracking
  // (a closing connection tells Tracking only while some client tracks: ClientConn::Close).
  // Looked for again now: if it is still there, its close will tell.
  if (node_mode.redirect != 0 && ctx.server.FindClient(node_mode.redirect) == nullptr) {
    ctx.server.tracking().Closed(node_mode.redirect);
  }
  // The rest of the mode is replaced; a BCAST client's prefixes add up (Enable's answer).
  mode.on = true;
  mode.redirect = node_mode.redirect;
  current = std::move(mode);
  ctx.conn.tracking_on.store(true, std::memory_order_relaxed);
  ctx.conn.tracking_bcast.store(current.bcast, std::memory_order_relaxed);
  ctx.conn.tracking_redirect.store(current.redirect, std::memory_order_relaxed);
  ctx.out.Ok();
}

// CLIENT CACHING YES|NO: whether the next command's keys are tracked (OPTIN / OPTOUT).
void Caching(CommandContext& ctx) {
  ClientConn::TrackingMode& t = ctx.conn.tracking();
  if (!t.on) {
    return ctx.out.Error(
        "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or "
        "OPTOUT mode enabled");
  }
  const std::string opt = ToLower(ctx.args[2]);
  if (opt == "yes") {
    if (!t.optin) {
      return ctx.out.Error(
          "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.");
    }
  } else if (opt == "no") {
    if (!t.optout) {
      return ctx.out.Error(
          "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.");
    }
  } else {
    return ctx.out.Error(kErrSyntax);
  }
  t.caching = true;
  ctx.out.Ok();
}

void TrackingInfo(CommandContext& ctx) {
  const ClientConn::TrackingMode& t = ctx.conn.tracking();
  std::vector<std::string> flags;
  flags.emplace_back(t.on ? "on" : "off");
  if (t.bcast) flags.emplace_back("bcast");
  if (t.optin) {
    flags.emplace_back("optin");
    if (t.caching) flags.emplace_back("caching-yes");
  }
  if (t.optout) {
    flags.emplace_back("optout");
    if (t.caching) flags.emplace_back("caching-no");
  }
  if (t.noloop) flags.emplace_back("noloop");
  if (t.on && ctx.server.tracking().RedirectBroken(ctx.conn.id())) {
    flags.emplace_back("broken_redirect");
  }
  ctx.out.MapHeader(3);
  ctx.out.Bulk("flags");
  ctx.out.SetHeader(flags.size());
  for (const std::string& f : flags) ctx.out.Bulk(f);
  ctx.out.Bulk("redirect");
  ctx.out.Integer(t.on ? static_cast<int64_t>(t.redirect) : -1);
  ctx.out.Bulk("prefixes");
  ctx.out.ArrayHeader(t.prefixes.size());
  for (const std::string& p : t.prefixes) ctx.out.Bulk(p);
}

}  // namespace

bool ClientTrackingSubcommand(CommandContext& ctx, const std::string& sub) {
  const size_t argc = ctx.args.size();
  if (sub == "tracking") {
    argc >= 3 ? TrackingCmd(ctx) : ctx.out.Error(ErrWrongArity("client|tracking"));
  } else if (sub == "caching") {
    argc == 3 ? Caching(ctx) : ctx.out.Error(ErrWrongArity("client|caching"));
  } else if (sub == "getredir") {
    if (argc != 2) {
      ctx.out.Error(ErrWrongArity("client|getredir"));
    } else {
      const ClientConn::TrackingMode& t = ctx.conn.tracking();
      ctx.out.Integer(t.on ? static_cast<int64_t>(t.redirect) : -1);
    }
  } else if (sub == "trackinginfo") {
    argc == 2 ? TrackingInfo(ctx) : ctx.out.Error(ErrWrongArity("client|trackinginfo"));
  } else {
    return false;
  }
  return true;
}

}  // namespace flin::server

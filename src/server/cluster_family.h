#pragma once
// Cluster routing, with Redis Cluster's semantics, so cluster-aware clients route by
// themselves: a command whose keys live in a partition this node may not serve here gets
// -MOVED <slot> <leader host:port>; keys of different slots get -CROSSSLOT; a partition with no
// leader gets -CLUSTERDOWN (never a hang). I/O threads only.

#include "server/command.h"

namespace flin::server {

// True if the command may run on this node; otherwise writes the redirect or error.
bool RouteCommand(CommandContext& ctx);

}  // namespace flin::server

#pragma once
// CLIENT TRACKING, CLIENT CACHING, CLIENT GETREDIR and CLIENT TRACKINGINFO
// (tracking_family.cc), with Redis 7.0's options, replies and errors; the node's side is
// server/tracking.h. CLIENT's handler (connection_family.cc) hands these subcommands here.

#include <string>

#include "server/command.h"

namespace flin::server {

// Answers CLIENT `sub` (lower case) if it is one of the four, and returns true; false if it
// is another subcommand.
bool ClientTrackingSubcommand(CommandContext& ctx, const std::string& sub);

}  // namespace flin::server

#pragma once
// Cluster routing, with Redis Cluster's semantics, so cluster-aware clients route by
// themselves: a command whose keys live in a partition this node may not serve here gets
// -MOVED <slot> <leader host:port>; keys of different slots get -CROSSSLOT; a partition with no
// leader gets -TRYAGAIN (an election under way) or -CLUSTERDOWN (never a hang). I/O threads only.

#include "server/command.h"

namespace flin::server {

// True if the command may run on this node; otherwise writes the redirect or error, or (a
// read on a leader whose lease is not confirmed) sends the read through the log. While the
// partition's leadership moves (MultiRaftNode::ElectionWindowOpen) a write runs too and a read
// goes through the log: the raft thread holds their proposals until there is a leader.
bool RouteCommand(CommandContext& ctx);

// For a command queued inside MULTI: true if it may join the transaction here — its keys in
// one slot, the slot of every key queued before (*txn_slot: -1 until the first sets it), of a
// partition this node leads, or whose leadership is moving (ElectionWindowOpen: EXEC's
// proposal is then held until the partition has a leader, as a write's is). Otherwise writes
// the error (CROSSSLOT, MOVED, or CLUSTERDOWN once the window has closed). True for a keyless
// command, and always on a single node.
bool RouteQueuedCommand(CommandContext& ctx, int* txn_slot);

// The partition through whose log this read could go (all its keys in one slot that this node
// leads, and the command has an apply function), or -1.
int LogReadPartition(CommandContext& ctx);

}  // namespace flin::server

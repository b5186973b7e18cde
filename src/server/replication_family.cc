// WAIT numreplicas timeout: how many replicas hold this connection's writes.
//
// In Flin an acknowledged write is already durable on a majority of its partition's replicas
// (the leader's and enough followers' fsynced logs). WAIT tells how many of the partition's
// followers hold it, which is what Redis's WAIT counts (replicas that acknowledged the
// client's writes): with 3 replicas, `WAIT 2 <ms>` waits until both followers have every
// write this connection made before it. The count is the least over the partitions the
// connection wrote to (cluster::MultiRaftNode::FollowersHolding, on their leader's view);
// where this node no longer leads a partition, it counts what the write's commit proves: a
// majority, so replicas/2 followers. A connection that wrote nothing counts every follower.
// As Redis, WAIT answers at once when the count reaches `numreplicas`, else when `timeout` ms
// have passed (0: never) with the count then. A single node has no replicas: WAIT answers 0,
// at once for numreplicas <= 0, else after its timeout, as a Redis without replicas does.

#include "common/strings.h"
#include "server/client_conn.h"
#include "server/command.h"
#include "server/io_thread.h"
#include "server/server.h"

namespace flin::server {
namespace {

int64_t ReplicasHolding(Server& server, const ClientConn& conn) {
  cluster::MultiRaftNode* mr = server.cluster();
  if (mr == nullptr) return 0;
  const int followers = mr->topology().replicas() - 1;
  int64_t least = followers;
  for (const auto& [partition, pos] : conn.last_writes()) {
    int n = mr->FollowersHolding(partition, pos.term, pos.index);
    if (n < 0) n = mr->topology().replicas() / 2;  // committed: on a majority
    least = std::min<int64_t>(least, n);
  }
  return least;
}

// Keeps the raft thread publishing its followers' progress while a WAIT waits.
struct Watch {
  explicit Watch(cluster::MultiRaftNode* mr) : mr(mr) {
    if (mr) mr->WatchReplication(+1);
  }
  ~Watch() {
    if (mr) mr->WatchReplication(-1);
  }
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;
  cluster::MultiRaftNode* mr;
};

void WaitCmd(CommandContext& ctx) {
  int64_t wanted = 0, timeout_ms = 0;
  if (!ParseInt64(ctx.args[1], &wanted)) return ctx.out.Error(kErrNotInteger);
  if (!ParseInt64(ctx.args[2], &timeout_ms)) {
    return ctx.out.Error("ERR timeout is not an integer or out of range");
  }
  if (timeout_ms < 0) return ctx.out.Error("ERR timeout is negative");
  // The writes before it are answered already: a WAIT waits for them like any read.
  const int64_t now = ReplicasHolding(ctx.server, ctx.conn);
  if (now >= wanted) return ctx.out.Integer(now);
  auto watch = std::make_shared<Watch>(ctx.server.cluster());
  const uint64_t seq = ctx.conn.CountProposal();
  const int64_t deadline =
      timeout_ms == 0 ? 0
                      : net::MonotonicMs() + std::min<int64_t>(timeout_ms, int64_t{1} << 40);
  Server* server = &ctx.server;
  const int proto = ctx.conn.proto();
  ctx.conn.io().AddWaiter(
      ctx.conn.id(), seq, deadline,
      [server, wanted, proto, watch](ClientConn& conn, bool expired, std::string* reply) {
        const int64_t n = ReplicasHolding(*server, conn);
        if (n < wanted && !expired) return false;
        protocol::ReplyWriter(reply, proto).Integer(n);
        return true;
      });
}

}  // namespace

void RegisterReplicationFamily(CommandTable* t) {
  CommandSpec wait = MakeCommand("wait", 3, 0, WaitCmd, nullptr, "generic",
                                 "Blocks until the asynchronous replication of all preceding "
                                 "write commands sent by the connection is completed.");
  wait.since = "3.0.0";
  t->Add(std::move(wait));
}

}  // namespace flin::server

// Pub/sub: SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBLISH, the sharded SSUBSCRIBE
// SUNSUBSCRIBE SPUBLISH, and PUBSUB CHANNELS / NUMSUB / NUMPAT / SHARDCHANNELS / SHARDNUMSUB /
// HELP, with Redis 7.0's replies and texts.
//
// Nothing here goes through the log (pubsub.h). In a cluster, PUBLISH reaches the subscribers
// of every node: this node's at once, the others' through a node message to each peer; its
// answer counts this node's receivers only, as Redis Cluster's. SPUBLISH is routed like a read
// of its channel's slot (the leader, or a READONLY connection on a replica) and reaches the
// shard subscribers of every node holding a replica of that partition, so a subscriber keeps
// its messages when leadership moves. SSUBSCRIBE is routed the same way; SUNSUBSCRIBE is
// never redirected (it only changes the connection).

#include "common/slot.h"
#include "common/strings.h"
#include "server/client_conn.h"
#include "server/command.h"
#include "server/io_thread.h"
#include "server/pubsub.h"
#include "server/server.h"

namespace flin::server {
namespace {

using Space = PubSub::Space;

absl::flat_hash_set<std::string>& SetOf(ClientConn::Subscriptions& subs, Space space) {
  switch (space) {
    case Space::kChannel: return subs.channels;
    case Space::kPattern: return subs.patterns;
    case Space::kShard: return subs.shard_channels;
  }
  return subs.channels;
}

// The count a (un)subscribe confirmation carries: channels and patterns together, shard
// channels apart (Redis 7.0).
size_t CountFor(const ClientConn::Subscriptions& subs, Space space) {
  return space == Space::kShard ? subs.shard_channels.size() : subs.Count();
}

void Confirm(CommandContext& ctx, std::string_view kind, const std::string_view* name,
             size_t count) {
  ctx.out.PushHeader(3);
  ctx.out.Bulk(kind);
  if (name != nullptr) {
    ctx.out.Bulk(*name);
  } else {
    ctx.out.Null();
  }
  ctx.out.Integer(static_cast<int64_t>(count));
}

void Subscribe(CommandContext& ctx, Space space, std::string_view kind) {
  ClientConn::Subscriptions& subs = ctx.conn.subscriptions();
  auto& mine = SetOf(subs, space);
  const PubSub::Subscriber me{&ctx.conn.io(), ctx.conn.id()};
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    const std::string_view name = ctx.args[i];
    if (mine.emplace(absl::string_view(name.data(), name.size())).second) {
      ctx.server.pubsub().Subscribe(space, name, me);
    }
    Confirm(ctx, kind, &name, CountFor(subs, space));
  }
  ctx.conn.CountSubscriptions();
}

void Unsubscribe(CommandContext& ctx, Space space, std::string_view kind) {
  ClientConn::Subscriptions& subs = ctx.conn.subscriptions();
  auto& mine = SetOf(subs, space);
  const PubSub::Subscriber me{&ctx.conn.io(), ctx.conn.id()};
  auto leave = [&](std::string_view name) {
    if (auto it = mine.find(absl::string_view(name.data(), name.size())); it != mine.end()) {
      ctx.server.pubsub().Unsubscribe(space, name, me);
      mine.erase(it);
    }
    Confirm(ctx, kind, &name, CountFor(subs, space));
  };
  if (ctx.args.size() > 1) {
    for (size_t i = 1; i < ctx.args.size(); ++i) leave(ctx.args[i]);
  } else if (mine.empty()) {
    Confirm(ctx, kind, nullptr, CountFor(subs, space));
  } else {
    const std::vector<std::string> all(mine.begin(), mine.end());
    for (const std::string& name : all) leave(name);
  }
  ctx.conn.CountSubscriptions();
}

void SubscribeCmd(CommandContext& ctx) { Subscribe(ctx, Space::kChannel, "subscribe"); }
void PSubscribeCmd(CommandContext& ctx) { Subscribe(ctx, Space::kPattern, "psubscribe"); }
void SSubscribeCmd(CommandContext& ctx) { Subscribe(ctx, Space::kShard, "ssubscribe"); }
void UnsubscribeCmd(CommandContext& ctx) { Unsubscribe(ctx, Space::kChannel, "unsubscribe"); }
void PUnsubscribeCmd(CommandContext& ctx) { Unsubscribe(ctx, Space::kPattern, "punsubscribe"); }
void SUnsubscribeCmd(CommandContext& ctx) { Unsubscribe(ctx, Space::kShard, "sunsubscribe"); }

// This node's subscribers at once; in a cluster, the other nodes' through node messages (to
// every peer, or for a shard channel to the peers holding a replica of its partition).
size_t Publish(CommandContext& ctx, bool shard) {
  const std::string_view channel = ctx.args[1], message = ctx.args[2];
  const size_t n = ctx.server.pubsub().Publish(shard, channel, message);
  cluster::MultiRaftNode* mr = ctx.server.cluster();
  if (mr != nullptr) {
    const cluster::Topology& topology = mr->topology();
    std::vector<uint64_t> to;
    if (shard) {
      to = topology.Replicas(SlotPartition(KeySlot(channel), ctx.server.partitions()));
    } else {
      for (const auto& node : topology.nodes()) to.push_back(node.id);
    }
    const std::string body = EncodePublishMessage(shard, channel, message);
    for (uint64_t id : to) {
      if (id != topology.self_id()) mr->SendNodeMessage(id, body);
    }
  }
  return n;
}

void PublishCmd(CommandContext& ctx) {
  ctx.out.Integer(static_cast<int64_t>(Publish(ctx, false)));
}

void SPublishCmd(CommandContext& ctx) {
  ctx.out.Integer(static_cast<int64_t>(Publish(ctx, true)));
}

// PUBLISH or SPUBLISH queued in a transaction, applied with it from the log on every replica:
// each publishes to its own node's subscribers once the entry is committed, and answers how
// many there are on its node (the leader's answer is the client's).
void PublishApply(ApplyContext& ctx) {
  if (ctx.pubsub == nullptr || ctx.publishes == nullptr) {
    return ctx.out.Error("ERR This Redis command is not allowed from script");
  }
  const bool shard = ToLower(ctx.args[0]) == "spublish";
  ctx.out.Integer(static_cast<int64_t>(ctx.pubsub->CountReceivers(shard, ctx.args[1])));
  ctx.publishes->push_back(
      PendingPublish{shard, std::string(ctx.args[1]), std::string(ctx.args[2])});
}

void PubSubCmd(CommandContext& ctx) {
  const std::string sub = ToLower(ctx.args[1]);
  const size_t argc = ctx.args.size();
  const PubSub& registry = ctx.server.pubsub();
  if (sub == "channels" || sub == "shardchannels") {
    if (argc > 3) {
      return ctx.out.Error("ERR unknown subcommand or wrong number of arguments for '" +
                           std::string(ctx.args[1]) + "'. Try PUBSUB HELP.");
    }
    const std::string pattern = argc == 3 ? std::string(ctx.args[2]) : std::string();
    const auto names = registry.Channels(sub == "shardchannels", argc == 3 ? &pattern : nullptr);
    ctx.out.ArrayHeader(names.size());
    for (const auto& n : names) ctx.out.Bulk(n);
  } else if (sub == "numsub" || sub == "shardnumsub") {
    ctx.out.ArrayHeader((argc - 2) * 2);
    for (size_t i = 2; i < argc; ++i) {
      ctx.out.Bulk(ctx.args[i]);
      ctx.out.Integer(
          static_cast<int64_t>(registry.NumSubscribers(sub == "shardnumsub", ctx.args[i])));
    }
  } else if (sub == "numpat" && argc == 2) {
    ctx.out.Integer(static_cast<int64_t>(registry.NumPatterns()));
  } else if (sub == "help" && argc == 2) {
    static const char* kHelp[] = {
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: "
        "'*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help."};
    ctx.out.ArrayHeader(std::size(kHelp));
    for (const char* line : kHelp) ctx.out.Simple(line);
  } else if (sub == "numpat" || sub == "help") {
    ctx.out.Error(ErrWrongArity("pubsub|" + sub));
  } else {
    ctx.out.Error("ERR unknown subcommand '" + std::string(ctx.args[1]) +
                  "'. Try PUBSUB HELP.");
  }
}

CommandSpec Spec(std::string name, int arity, uint32_t flags, Handler h, std::string summary,
                 int first_key = 0, int last_key = 0, ApplyFn apply = nullptr) {
  CommandSpec s = MakeCommand(std::move(name), arity, flags | kCmdPubSub | kCmdLoading |
                                                          kCmdStale, h, apply, "pubsub",
                              std::move(summary), first_key, last_key, first_key ? 1 : 0);
  s.since = "2.0.0";
  s.complexity = "O(N)";
  return s;
}

}  // namespace

void RegisterPubSubFamily(CommandTable* t) {
  const uint32_t mode = kCmdSubscribedMode;
  t->Add(Spec("subscribe", -2, mode, SubscribeCmd,
              "Listens for messages published to channels."));
  t->Add(Spec("unsubscribe", -1, mode, UnsubscribeCmd,
              "Stops listening to messages posted to channels."));
  t->Add(Spec("psubscribe", -2, mode, PSubscribeCmd,
              "Listens for messages published to channels that match one or more patterns."));
  t->Add(Spec("punsubscribe", -1, mode, PUnsubscribeCmd,
              "Stops listening to messages published to channels that match one or more "
              "patterns."));
  t->Add(Spec("publish", 3, kCmdFast, PublishCmd, "Posts a message to a channel.", 0, 0,
              PublishApply));
  CommandSpec ssub = Spec("ssubscribe", -2, mode, SSubscribeCmd,
                          "Listens for messages published to shard channels.", 1, -1);
  CommandSpec sunsub = Spec("sunsubscribe", -1, mode | kCmdNoRedirect, SUnsubscribeCmd,
                            "Stops listening to messages posted to shard channels.", 1, -1);
  CommandSpec spub = Spec("spublish", 3, kCmdFast, SPublishCmd,
                          "Post a message to a shard channel", 1, 1, PublishApply);
  for (CommandSpec* s : {&ssub, &sunsub, &spub}) s->since = "7.0.0";
  t->Add(std::move(ssub));
  t->Add(std::move(sunsub));
  t->Add(std::move(spub));
  CommandSpec pubsub = Spec("pubsub", -2, 0, PubSubCmd,
                            "A container for Pub/Sub commands.");
  pubsub.since = "2.8.0";
  pubsub.complexity = "Depends on subcommand.";
  pubsub.subcommands = {"pubsub|channels", "pubsub|numsub", "pubsub|numpat",
                        "pubsub|shardchannels", "pubsub|shardnumsub", "pubsub|help"};
  t->Add(std::move(pubsub));
}

}  // namespace flin::server

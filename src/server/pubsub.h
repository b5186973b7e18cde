#pragma once
// PubSub: this node's subscriptions, and the fan-out of a published message to them.
//
// Redis's pub/sub, which keeps nothing: a message reaches the clients subscribed at the moment
// it is published and is then gone. Three name spaces, as Redis 7's:
//   - channels (SUBSCRIBE, PUBLISH), with patterns (PSUBSCRIBE: glob-style) matched against
//     every channel published;
//   - shard channels (SSUBSCRIBE, SPUBLISH), which belong to the slot of their name.
// In a cluster a PUBLISH reaches every node's subscribers (server/pubsub_family.cc forwards it
// as a node message, cluster::MultiRaftNode::SendNodeMessage) and an SPUBLISH those of the
// nodes holding a replica of the channel's partition; each node fans out to its own clients
// here. Nothing of it goes through a log: a restart or a lost node message loses messages, as
// Redis Cluster's bus does.
//
// A subscriber is a connection on an I/O thread, named by the thread's PushSink and the
// connection's id. Publish() groups the matching subscribers by sink and hands each sink one
// PushBatch; the sink (IoThread) writes the messages into its connections' output on its own
// thread, where the connection checks it is still subscribed (it may have unsubscribed while
// the batch was on its way), and drops a connection whose unsent output passes the hard limit
// (a subscriber that does not read).
//
// Threading: every method from any thread; one reader-writer lock over the registry.
// Publish() calls the sinks' Push() with no lock held.
// Ownership: borrows the sinks, which must outlive their subscriptions (a connection
// unsubscribes from everything as it closes).

#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace flin::server {

// The messages of one Publish() for the subscribers behind one sink.
// Also carries CLIENT TRACKING's messages (tracking.h): kInvalidate, whose `message` is the
// RESP array of keys (null: every key), and kRedirBroken, whose `message` is the id the
// client redirected to.
struct PushBatch {
  enum class Kind { kMessage, kPMessage, kSMessage, kInvalidate, kRedirBroken };
  struct Target {
    uint64_t conn_id;
    Kind kind;
    std::string pattern;  // kPMessage: the pattern that matched
    bool redirected = false;  // kInvalidate: sent on behalf of another client (REDIRECT)
  };
  std::shared_ptr<const std::string> channel, message;  // shared by the batches of a Publish
  std::vector<Target> targets;
  // Bytes this batch will write, about: what a bounded queue of batches counts.
  size_t Bytes() const;
};

class PushSink {
 public:
  virtual ~PushSink() = default;
  // Any thread; must not call back into PubSub's subscribe methods synchronously while a
  // lock of PubSub could be held (Publish holds none when it calls this).
  virtual void Push(PushBatch&& batch) = 0;
};

class PubSub {
 public:
  enum class Space { kChannel, kPattern, kShard };
  struct Subscriber {
    PushSink* sink;
    uint64_t conn_id;
    bool operator==(const Subscriber& o) const { return sink == o.sink && conn_id == o.conn_id; }
  };

  // Adds (or removes) `s` under `name`; false if it was already there (or was not).
  bool Subscribe(Space space, std::string_view name, Subscriber s);
  bool Unsubscribe(Space space, std::string_view name, Subscriber s);

  // Hands `message` to every subscriber of `channel` on this node: for a channel (shard
  // false) its subscribers and every pattern's that matches it, once per subscription; for a
  // shard channel its shard subscribers. Returns how many deliveries it started (PUBLISH's
  // answer: a client subscribed by two matching patterns counts twice).
  size_t Publish(bool shard, std::string_view channel, std::string_view message);
  // What Publish(shard, channel, ...) would answer now, delivering nothing.
  size_t CountReceivers(bool shard, std::string_view channel) const;

  // PUBSUB: the active channels (or shard channels) matching `pattern` (all if null), the
  // subscribers of one, and the number of distinct patterns.
  std::vector<std::string> Channels(bool shard, const std::string* pattern) const;
  size_t NumSubscribers(bool shard, std::string_view channel) const;
  size_t NumPatterns() const;
  size_t NumChannels(bool shard) const;

 private:
  using Registry = absl::flat_hash_map<std::string, std::vector<Subscriber>>;
  Registry& RegistryOf(Space space);
  const Registry& RegistryOf(Space space) const;

  mutable std::shared_mutex mu_;
  Registry channels_, patterns_, shard_channels_;
};

// A message an applied entry publishes once it is committed (PUBLISH inside a transaction).
struct PendingPublish {
  bool shard;
  std::string channel, message;
};

// The body of the node message that carries a PUBLISH (or SPUBLISH) to another node, and its
// decoding (false for anything malformed: a peer's bytes are checked like a client's).
std::string EncodePublishMessage(bool shard, std::string_view channel, std::string_view message);
bool DecodePublishMessage(std::string_view body, bool* shard, std::string_view* channel,
                          std::string_view* message);

}  // namespace flin::server

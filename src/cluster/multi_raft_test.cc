// MultiRaftNode and a peer that sends what no correct peer does: nodes 1 and 2 are real
// MultiRaftNodes in this process (each with its own store), node 3 is a bare Transport the
// test speaks through. Whatever node 3 sends, the real nodes keep their leaders and their
// logs, and count what they refused (INFO: raft_peer_messages_refused).

#include "cluster/multi_raft.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "cluster/transport.h"
#include "net/event_loop.h"
#include "net/socket.h"
#include "raft/codec.h"
#include "cluster/multi_raft_test_util.h"

namespace flin::cluster {
namespace {

using namespace flin::cluster::testing;  // NOLINT

constexpr int kPartitions = 4;
class MultiRaftHostilePeerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("flin_multi_raft_test_" + std::to_string(getpid()));
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
    for (int i = 0; i < 3; ++i) bus_[i] = FreePort();
    for (int i = 0; i < 3; ++i) {
      if (!list_.empty()) list_ += ",";
      // Client ports are only named in redirects here; nothing listens on them.
      list_ += std::to_string(i + 1) + "@127.0.0.1:" + std::to_string(16380 + i) + ":" +
               std::to_string(bus_[i]);
    }
    for (uint64_t id = 1; id <= 2; ++id) {
      StartReal(id);
      if (HasFatalFailure()) return;
    }
    auto topo = Topology::Parse(list_, 3, kPartitions, 3);
    ASSERT_TRUE(topo.ok()) << topo.status().ToString();
    TransportOptions to;
    to.node_id = 3;
    to.cluster_id = topo->cluster_id();
    // A node that has run before and never met these two: they take themselves for new.
    to.fill_handshake = [](uint64_t, Handshake* h) { h->incarnation = 0x3333; };
    to.bind_port = bus_[2];
    for (uint64_t id = 1; id <= 2; ++id) {
      PeerAddress a;
      a.id = id;
      a.host = "127.0.0.1";
      a.port = bus_[id - 1];
      to.peers.push_back(a);
    }
    hostile_ = std::make_unique<Transport>(to, [](uint64_t, std::string&&) {});
    ASSERT_TRUE(hostile_->Start().ok());
  }

  void TearDown() override {
    hostile_.reset();
    for (auto& n : nodes_) {
      if (n.node) n.node->Stop();
      n.node.reset();
      n.store.reset();
    }
    std::filesystem::remove_all(root_);
  }

  void StartReal(uint64_t id) {
    Real& n = nodes_[id - 1];
    const std::string dir = root_ + "/n" + std::to_string(id);
    storage::StoreOptions so;
    so.dir = dir;
    so.block_cache_bytes = 8 << 20;
    so.insert_hint_prefix = GroupKeyInsertHint();
    auto store = storage::Store::Open(so);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    n.store = std::move(store).value();
    auto topo = Topology::Parse(list_, id, kPartitions, 3);
    ASSERT_TRUE(topo.ok()) << topo.status().ToString();
    MultiRaftOptions mo;
    mo.tick_ms = 10;
    mo.balance_leaders = false;  // node 3 never answers: no leadership is handed to it
    mo.snapshot_dir = dir + "/snapshots";
    n.node = std::make_unique<MultiRaftNode>(n.store.get(), &machine_, std::move(topo).value(), mo);
    ASSERT_TRUE(n.node->Start().ok());
  }

  MultiRaftNode& node(uint64_t id) { return *nodes_[id - 1].node; }

  // A partition both real nodes know the same leader of, one of them; its leader and follower.
  bool SettledPartition(int* partition, uint64_t* leader, uint64_t* follower) {
    return WaitFor([&] {
      for (int p = 0; p < kPartitions; ++p) {
        const uint64_t l1 = node(1).View(p).leader.load();
        const uint64_t l2 = node(2).View(p).leader.load();
        if (l1 != l2 || (l1 != 1 && l1 != 2)) continue;
        if (node(1).View(p).term.load() != node(2).View(p).term.load()) continue;
        *partition = p;
        *leader = l1;
        *follower = 3 - l1;
        return true;
      }
      return false;
    });
  }

  // Sends `payload` as node 3 and waits until `to` refused `n` more messages than `before`.
  bool RefusedAfterSending(uint64_t to, const std::string& payload, uint64_t n = 1) {
    const uint64_t before = node(to).peer_messages_refused();
    if (!hostile_->Send(to, payload)) return false;
    return WaitFor([&] { return node(to).peer_messages_refused() >= before + n; });
  }

  struct Real {
    std::unique_ptr<storage::Store> store;
    std::unique_ptr<MultiRaftNode> node;
  };
  std::string root_;
  int bus_[3] = {0, 0, 0};
  std::string list_;
  NoopMachine machine_;
  Real nodes_[2];
  std::unique_ptr<Transport> hostile_;
};

TEST_F(MultiRaftHostilePeerTest, WhatNoCorrectPeerSendsIsRefusedAndCounted) {
  int p = 0;
  uint64_t leader = 0, follower = 0;
  ASSERT_TRUE(SettledPartition(&p, &leader, &follower));
  const uint64_t term = node(follower).View(p).term.load();
  EXPECT_EQ(node(1).peer_messages_refused(), 0u);
  EXPECT_EQ(node(2).peer_messages_refused(), 0u);

  raft::Message append;
  append.type = raft::MessageType::kAppend;
  append.from = 3;
  append.to = follower;
  append.term = term;
  append.commit = 1;
  append.entries = {raft::Entry{term, 1, raft::EntryType::kNormal, std::string(8, '\0') + "x"}};

  // Bytes that are no message; a message that says it is from node 2; one for node 1 sent to
  // node 2; a group this cluster does not have; a payload cut short.
  EXPECT_TRUE(RefusedAfterSending(follower, std::string("\x00\x00\x03\x00\x00\x00xyz", 9)));
  raft::Message spoofed = append;
  spoofed.from = leader;
  EXPECT_TRUE(RefusedAfterSending(follower, Payload(p, spoofed)));
  raft::Message elsewhere = append;
  elsewhere.to = leader;
  EXPECT_TRUE(RefusedAfterSending(follower, Payload(p, elsewhere)));
  EXPECT_TRUE(RefusedAfterSending(follower, Payload(kPartitions + 7, append)));
  const std::string whole = Payload(p, append);
  EXPECT_TRUE(RefusedAfterSending(follower, whole.substr(0, whole.size() - 1)));
  // A second leader of the partition's current term (raft::RawNode::Step refuses it): taken,
  // its entry would replace the real leader's first entry in the follower's log.
  EXPECT_TRUE(RefusedAfterSending(follower, Payload(p, append)));
  raft::Message to_leader = append;
  to_leader.to = leader;
  EXPECT_TRUE(RefusedAfterSending(leader, Payload(p, to_leader)));

  // Both still know the same leader in the same term: nothing the hostile peer said took.
  EXPECT_EQ(node(follower).View(p).leader.load(), leader);
  EXPECT_EQ(node(leader).View(p).leader.load(), leader);
  EXPECT_EQ(node(follower).View(p).term.load(), term);
  EXPECT_EQ(node(leader).View(p).term.load(), term);
}

// A message that is merely stale (an old term) is no fault of its sender's: ignored, not
// counted as refused.
TEST_F(MultiRaftHostilePeerTest, AStaleMessageIsIgnoredNotRefused) {
  int p = 0;
  uint64_t leader = 0, follower = 0;
  ASSERT_TRUE(SettledPartition(&p, &leader, &follower));
  ASSERT_GT(node(follower).View(p).term.load(), 0u);
  raft::Message stale;
  stale.type = raft::MessageType::kHeartbeat;
  stale.from = 3;
  stale.to = follower;
  stale.term = 0;  // below every term a leader was elected in
  // Sent, then a refused one behind it on the same connection: once that is counted, the
  // stale one was handled before it.
  raft::Message bad = stale;
  bad.from = leader;
  ASSERT_TRUE(hostile_->Send(follower, Payload(p, stale)));
  EXPECT_TRUE(RefusedAfterSending(follower, Payload(p, bad)));
  EXPECT_EQ(node(follower).peer_messages_refused(), 1u);
  EXPECT_EQ(node(follower).View(p).leader.load(), leader);
}

}  // namespace
}  // namespace flin::cluster

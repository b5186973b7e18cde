#include "cluster/topology.h"

#include <gtest/gtest.h>

#include <map>

namespace flin::cluster {
namespace {

constexpr char kThree[] = "1@127.0.0.1:7001,2@127.0.0.1:7002,3@127.0.0.1:7003:9000";

TEST(TopologyTest, ParsesNodesAndBusPorts) {
  auto t = Topology::Parse(kThree, 2, 64, 3);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->nodes().size(), 3u);
  EXPECT_EQ(t->self().client_port, 7002);
  EXPECT_EQ(t->self().bus_port, 17002);
  EXPECT_EQ(t->Find(3)->bus_port, 9000);
  EXPECT_EQ(t->Find(1)->ClientAddress(), "127.0.0.1:7001");
}

TEST(TopologyTest, RejectsBadLists) {
  EXPECT_FALSE(Topology::Parse("", 1, 64, 1).ok());
  EXPECT_FALSE(Topology::Parse("1@127.0.0.1", 1, 64, 1).ok());
  EXPECT_FALSE(Topology::Parse("x@127.0.0.1:1", 1, 64, 1).ok());
  EXPECT_FALSE(Topology::Parse("1@h:1,1@h:2", 1, 64, 1).ok());
  EXPECT_FALSE(Topology::Parse(kThree, 4, 64, 3).ok());  // self not listed
  EXPECT_FALSE(Topology::Parse(kThree, 1, 64, 4).ok());  // more replicas than nodes
}

TEST(TopologyTest, ReplicasAndLeadersAreSpreadEvenly) {
  auto t = Topology::Parse(kThree, 1, 64, 3);
  ASSERT_TRUE(t.ok());
  std::map<uint64_t, int> leaders, replicas;
  for (int p = 0; p < 64; ++p) {
    auto r = t->Replicas(p);
    ASSERT_EQ(r.size(), 3u);
    ++leaders[r.front()];
    for (uint64_t id : r) ++replicas[id];
  }
  for (const auto& [id, n] : leaders) EXPECT_GE(n, 21) << id;
  for (const auto& [id, n] : replicas) EXPECT_EQ(n, 64) << id;
  auto five = Topology::Parse("1@h:1,2@h:2,3@h:3,4@h:4,5@h:5", 1, 64, 3);
  ASSERT_TRUE(five.ok());
  int hosted = 0;
  for (int p = 0; p < 64; ++p) hosted += five->Hosts(p);
  EXPECT_GE(hosted, 38);  // 64 * 3 / 5 = 38.4
  EXPECT_LE(hosted, 39);
}

TEST(TopologyTest, IdentityDependsOnTheWholeCluster) {
  auto a = Topology::Parse(kThree, 1, 64, 3);
  auto b = Topology::Parse(kThree, 2, 64, 3);
  auto c = Topology::Parse("1@127.0.0.1:7001,2@127.0.0.1:7002,4@127.0.0.1:7003", 1, 64, 3);
  auto d = Topology::Parse(kThree, 1, 32, 3);
  EXPECT_EQ(a->cluster_id(), b->cluster_id());  // every node agrees
  EXPECT_NE(a->cluster_id(), c->cluster_id());
  EXPECT_NE(a->cluster_id(), d->cluster_id());
  EXPECT_EQ(a->RedisNodeId(2).size(), 40u);
  EXPECT_NE(a->RedisNodeId(1), a->RedisNodeId(2));
}

TEST(TopologyTest, AMovedNodeAnnouncesItsAddressAndKeepsTheClusterId) {
  auto listed = Topology::Parse(kThree, 2, 64, 3);
  auto moved = Topology::Parse(kThree, 2, 64, 3, "10.0.0.9:8002");
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(moved->cluster_id(), listed->cluster_id());
  EXPECT_EQ(moved->RedisNodeId(2), listed->RedisNodeId(2));
  EXPECT_EQ(moved->self().ClientAddress(), "10.0.0.9:8002");
  EXPECT_EQ(moved->self().bus_port, 18002);
  EXPECT_EQ(moved->Find(1)->ClientAddress(), "127.0.0.1:7001");
  EXPECT_EQ(moved->Listed(2)->ClientAddress(), "127.0.0.1:7002");
  EXPECT_TRUE(moved->announced());
  EXPECT_FALSE(listed->announced());
  EXPECT_FALSE(Topology::Parse(kThree, 2, 64, 3, "127.0.0.1:7002")->announced());  // same place
  auto bus = Topology::Parse(kThree, 2, 64, 3, "h-2.example:8002:9002");
  ASSERT_TRUE(bus.ok());
  EXPECT_EQ(bus->self().bus_port, 9002);
  EXPECT_FALSE(Topology::Parse(kThree, 2, 64, 3, "10.0.0.9").ok());
  EXPECT_FALSE(Topology::Parse(kThree, 2, 64, 3, "bad host:1").ok());
  EXPECT_FALSE(Topology::Parse(kThree, 2, 64, 3, "h:70000").ok());
}

TEST(TopologyTest, PeersLearnWhereANodeMoved) {
  auto t = Topology::Parse(kThree, 1, 64, 3);
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->SetAddress(NodeInfo{2, "10.0.0.9", 8002, 18002}));
  EXPECT_FALSE(t->SetAddress(NodeInfo{2, "10.0.0.9", 8002, 18002}));  // nothing new
  EXPECT_EQ(t->Find(2)->ClientAddress(), "10.0.0.9:8002");
  EXPECT_EQ(t->nodes()[1].bus_port, 18002);
  EXPECT_FALSE(t->SetAddress(NodeInfo{1, "10.0.0.8", 8001, 18001}));  // its own: --announce
  EXPECT_FALSE(t->SetAddress(NodeInfo{4, "10.0.0.8", 8004, 18004}));  // not a node
  EXPECT_FALSE(t->SetAddress(NodeInfo{3, "a b", 8003, 18003}));       // not a host
  EXPECT_FALSE(t->SetAddress(NodeInfo{3, "h", 0, 18003}));
  EXPECT_EQ(t->Find(3)->bus_port, 9000);
  EXPECT_EQ(t->Listed(2)->ClientAddress(), "127.0.0.1:7002");  // the list is kept
  Topology copy = t.value();
  EXPECT_EQ(copy.Find(2)->ClientAddress(), "10.0.0.9:8002");
  EXPECT_EQ(copy.Replicas(5), t->Replicas(5));
  EXPECT_TRUE(ValidHost("node-1.example_x"));
  EXPECT_FALSE(ValidHost(""));
  EXPECT_FALSE(ValidHost("a\nb"));
  EXPECT_FALSE(ValidHost(std::string(256, 'a')));
}

}  // namespace
}  // namespace flin::cluster

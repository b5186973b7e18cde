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

}  // namespace
}  // namespace flin::cluster

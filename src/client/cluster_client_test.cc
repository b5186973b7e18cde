// ClusterClient against a plain server (redis-server, and flin-server when built) and against
// a 3-master Redis Cluster, all started by the test on scratch ports.

#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

#include "client/test_server.h"
#include "common/slot.h"
#include "flin/cluster.h"

namespace flin {
namespace {

using std::chrono::milliseconds;

class ClusterClientStandaloneTest : public ::testing::TestWithParam<testing::ServerKind> {};

TEST_P(ClusterClientStandaloneTest, PlainServerIsOneNodeOwningEverySlot) {
  std::string why;
  auto server = testing::TestServer::Start(GetParam(), {}, &why);
  if (!server) GTEST_SKIP() << why;
  ClusterOptions options;
  // The first seed is dead: the client must move on to the next.
  options.seeds = {{"127.0.0.1", testing::PickFreePort()}, {"127.0.0.1", server->port()}};
  auto client = ClusterClient::Connect(options);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_FALSE((*client)->is_cluster());
  EXPECT_EQ((*client)->slot_map().covered_slots(), kSlots);
  EXPECT_TRUE((*client)->Execute({"SET", "a", "1"})->IsStatus("OK"));
  EXPECT_EQ((*client)->Execute({"INCR", "a"})->integer, 2);
  std::vector<Argv> cmds;
  for (int i = 0; i < 100; ++i) cmds.push_back({"SET", "k" + std::to_string(i), "v"});
  cmds.push_back({"GET", "k7"});
  auto results = (*client)->ExecuteMany(cmds);
  ASSERT_EQ(results.size(), cmds.size());
  for (size_t i = 0; i + 1 < results.size(); ++i) ASSERT_TRUE(results[i]->IsStatus("OK"));
  EXPECT_EQ(results.back()->str, "v");
}

INSTANTIATE_TEST_SUITE_P(Servers, ClusterClientStandaloneTest,
                         ::testing::Values(testing::ServerKind::kRedis, testing::ServerKind::kFlin),
                         [](const auto& info) { return testing::KindName(info.param); });

// A cluster node that serves no slot answers CLUSTERDOWN to every keyed command: the client
// retries a bounded number of times, then hands back the error reply, never a success.
TEST(ClusterClientSeedTest, ClusterDownIsRetriedThenReturned) {
  std::string why;
  auto node = testing::TestServer::Start(
      testing::ServerKind::kRedis,
      {"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"}, &why);
  if (!node) GTEST_SKIP() << why;
  ClusterOptions options;
  options.seeds = {{"127.0.0.1", node->port()}};
  options.max_attempts = 3;
  options.backoff_initial = milliseconds(1);
  auto client = ClusterClient::Connect(options);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  Result<Reply> r = (*client)->Execute({"GET", "k"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->IsError());
  EXPECT_TRUE(r->str.starts_with("CLUSTERDOWN")) << r->str;
}

TEST(ClusterClientSeedTest, NoReachableSeedFails) {
  ClusterOptions options;
  options.seeds = {{"127.0.0.1", testing::PickFreePort()}};
  EXPECT_FALSE(ClusterClient::Connect(options).ok());
  EXPECT_FALSE(ClusterClient::Connect(ClusterOptions{}).ok());
}

// Three masters, no replicas, slots split evenly by redis-cli.
class RedisClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (std::system("command -v redis-cli >/dev/null 2>&1") != 0) {
      GTEST_SKIP() << "redis-cli is not installed";
    }
    std::string create = "redis-cli --cluster create";
    for (int i = 0; i < 3; ++i) {
      auto node = testing::TestServer::Start(
          testing::ServerKind::kRedis, {"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
           "--cluster-node-timeout", "1000"},
          &why);
      if (!node) GTEST_SKIP() << why;
      create += " 127.0.0.1:" + std::to_string(node->port());
      nodes_.push_back(std::move(node));
    }
    // redis-cli itself waits until every node agrees on the configuration.
    ASSERT_EQ(std::system((create + " --cluster-yes >/dev/null 2>&1").c_str()), 0);
    // Nodes report cluster_state:ok once gossip settles; no event announces it, so poll it
    // with a deadline.
    for (auto& node : nodes_) {
      auto conn = Connection::Connect("127.0.0.1", node->port(), {});
      ASSERT_TRUE(conn.ok());
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while ((*conn)->Command({"CLUSTER", "INFO"})->str.find("cluster_state:ok") ==
             std::string::npos) {
        ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "cluster never became ok";
        std::this_thread::sleep_for(milliseconds(20));
      }
    }
  }

  std::unique_ptr<ClusterClient> Client() {
    ClusterOptions options;
    options.seeds = {{"127.0.0.1", nodes_[0]->port()}};
    options.max_attempts = 20;
    auto client = ClusterClient::Connect(options);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(client).value() : nullptr;
  }

  std::unique_ptr<Connection> Direct(int port) {
    auto conn = Connection::Connect("127.0.0.1", port, {});
    return conn.ok() ? std::move(conn).value() : nullptr;
  }

  std::vector<std::unique_ptr<testing::TestServer>> nodes_;
};

TEST_F(RedisClusterTest, RoutesEveryKeyToItsOwner) {
  auto client = Client();
  ASSERT_TRUE(client);
  EXPECT_TRUE(client->is_cluster());
  SlotMap map = client->slot_map();
  EXPECT_EQ(map.covered_slots(), kSlots);
  EXPECT_EQ(map.nodes().size(), 3u);
  std::vector<Argv> sets;
  for (int i = 0; i < 300; ++i) sets.push_back({"SET", "key:" + std::to_string(i), "v"});
  for (auto& r : client->ExecuteMany(sets)) ASSERT_TRUE(r.ok() && r->IsStatus("OK"));
  // Each key landed on the node the map names (a direct GET there finds it).
  for (int i = 0; i < 300; i += 37) {
    std::string key = "key:" + std::to_string(i);
    auto conn = Direct(map.Master(KeySlot(key))->port);
    ASSERT_TRUE(conn);
    EXPECT_EQ(conn->Command({"GET", key})->str, "v");
  }
  EXPECT_EQ(client->Execute({"GET", "key:5"})->str, "v");
  EXPECT_TRUE(client->Execute({"PING"})->IsStatus("PONG"));
}

// Moves one slot between masters behind the client's back: during the migration the client
// must follow ASK, and afterwards MOVED (updating its map).
TEST_F(RedisClusterTest, FollowsAskDuringMigrationAndMovedAfter) {
  auto client = Client();
  ASSERT_TRUE(client);
  const int slot = KeySlot("foo");
  const SlotMap before = client->slot_map();
  const NodeAddress from = *before.Master(slot);
  NodeAddress to;
  for (const auto& n : before.nodes()) {
    if (!(n == from)) to = n;
  }
  ASSERT_TRUE(client->Execute({"SET", "foo", "bar"})->IsStatus("OK"));
  auto src = Direct(from.port);
  auto dst = Direct(to.port);
  ASSERT_TRUE(src && dst);
  const std::string src_id = src->Command({"CLUSTER", "MYID"})->str;
  const std::string dst_id = dst->Command({"CLUSTER", "MYID"})->str;
  const std::string s = std::to_string(slot);
  ASSERT_TRUE(dst->Command({"CLUSTER", "SETSLOT", s, "IMPORTING", src_id})->IsStatus("OK"));
  ASSERT_TRUE(src->Command({"CLUSTER", "SETSLOT", s, "MIGRATING", dst_id})->IsStatus("OK"));

  // A new key of the migrating slot: the source answers ASK, the client asks the target.
  Result<Reply> set = client->Execute({"SET", "{foo}new", "v2"});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_TRUE(set->IsStatus("OK")) << set->ToString();
  dst->Append({"ASKING"});
  dst->Append({"GET", "{foo}new"});
  ASSERT_TRUE(dst->ReadReply().ok());
  EXPECT_EQ(dst->ReadReply()->str, "v2");
  // The existing key is still served by the source.
  EXPECT_EQ(client->Execute({"GET", "foo"})->str, "bar");

  // Finish the migration; the client's map still names the source.
  Result<Reply> migrated = src->Command(
      {"MIGRATE", "127.0.0.1", std::to_string(to.port), "", "0", "5000", "KEYS", "foo"});
  ASSERT_TRUE(migrated.ok() && migrated->IsStatus("OK")) << migrated->ToString();
  for (auto& node : nodes_) {
    auto conn = Direct(node->port());
    ASSERT_TRUE(conn->Command({"CLUSTER", "SETSLOT", s, "NODE", dst_id})->IsStatus("OK"));
  }
  EXPECT_EQ(*client->slot_map().Master(slot), from);
  EXPECT_EQ(client->Execute({"GET", "foo"})->str, "bar");
  EXPECT_EQ(*client->slot_map().Master(slot), to);
}

// A master dies; its replica takes over. The client finds its pooled connection dead, cannot
// reconnect, refreshes the map from the surviving nodes (with back-off) until the promoted
// replica appears in it, and the command succeeds there.
TEST_F(RedisClusterTest, MovesToThePromotedReplicaWhenAMasterDies) {
  auto client = Client();
  ASSERT_TRUE(client);
  const SlotMap before = client->slot_map();
  const NodeAddress master = *before.Master(KeySlot("foo"));
  int master_index = 0;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i]->port() == master.port) master_index = static_cast<int>(i);
  }
  std::string why;
  auto replica = testing::TestServer::Start(
      testing::ServerKind::kRedis,
      {"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
       "--cluster-node-timeout", "1000"},
      &why);
  ASSERT_TRUE(replica) << why;
  auto direct_master = Direct(master.port);
  ASSERT_TRUE(direct_master);
  const std::string master_id = direct_master->Command({"CLUSTER", "MYID"})->str;
  const std::string add = "redis-cli --cluster add-node 127.0.0.1:" +
                          std::to_string(replica->port()) + " 127.0.0.1:" +
                          std::to_string(master.port) + " --cluster-slave --cluster-master-id " +
                          master_id + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(add.c_str()), 0);
  auto direct_replica = Direct(replica->port());
  ASSERT_TRUE(direct_replica);
  // Replication has no event to await from here: poll its state with a deadline.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (direct_replica->Command({"INFO", "replication"})->str.find("master_link_status:up") ==
         std::string::npos) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "replica never synced";
    std::this_thread::sleep_for(milliseconds(20));
  }
  // WAIT waits for the writes of the connection it is sent on: the SET must go on the same
  // one (sent on another, WAIT returned at once and the master could die before the write
  // reached the replica, which was then promoted without it: the flakiness this test had).
  ASSERT_TRUE(direct_master->Command({"SET", "foo", "bar"})->IsStatus("OK"));
  ASSERT_EQ(direct_master->Command({"WAIT", "1", "10000"})->integer, 1);
  ASSERT_TRUE(direct_replica->Command({"READONLY"})->IsStatus("OK"));
  ASSERT_EQ(direct_replica->Command({"GET", "foo"})->str, "bar");

  nodes_[master_index]->Kill();
  Result<Reply> r = client->Execute({"GET", "foo"});
  // Failover takes node-timeout plus an election; the client's bounded retries may run out
  // first (or meet the replica before it is promoted), so retry until a generous deadline.
  const auto failover_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!(r.ok() && r->str == "bar") && std::chrono::steady_clock::now() < failover_deadline) {
    std::this_thread::sleep_for(milliseconds(100));
    r = client->Execute({"GET", "foo"});
  }
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->str, "bar");
  EXPECT_EQ(client->slot_map().Master(KeySlot("foo"))->port, replica->port());
}

}  // namespace
}  // namespace flin

#include <gtest/gtest.h>

#include "common/slot.h"
#include "flin/cluster.h"

namespace flin {
namespace {

Reply Int(int64_t v) {
  Reply r;
  r.type = ReplyType::kInteger;
  r.integer = v;
  return r;
}
Reply Str(std::string s) {
  Reply r;
  r.type = ReplyType::kString;
  r.str = std::move(s);
  return r;
}
Reply Arr(std::vector<Reply> items) {
  Reply r;
  r.type = ReplyType::kArray;
  r.elements = std::move(items);
  return r;
}

TEST(SlotMapTest, FromClusterSlots) {
  Reply reply = Arr({
      Arr({Int(0), Int(5460), Arr({Str("10.0.0.1"), Int(7000), Str("id1")}),
           Arr({Str("10.0.0.4"), Int(7003), Str("id4")})}),
      Arr({Int(5461), Int(10922), Arr({Str(""), Int(7001), Str("id2")})}),
      Arr({Int(10923), Int(16383), Arr({Str("10.0.0.1"), Int(7000)})}),
  });
  Result<SlotMap> map = SlotMap::FromClusterSlots(reply, "seed-host");
  ASSERT_TRUE(map.ok()) << map.status().ToString();
  EXPECT_EQ(map->covered_slots(), kSlots);
  EXPECT_EQ(map->nodes().size(), 2u);  // replicas are not masters; 7000 appears once
  EXPECT_EQ(*map->Master(0), (NodeAddress{"10.0.0.1", 7000}));
  EXPECT_EQ(*map->Master(5461), (NodeAddress{"seed-host", 7001}));
  EXPECT_EQ(*map->Master(16383), (NodeAddress{"10.0.0.1", 7000}));
  EXPECT_EQ(map->Master(16384), nullptr);
  EXPECT_EQ(map->Master(-1), nullptr);
}

TEST(SlotMapTest, PartialCoverageAndAssign) {
  Reply reply = Arr({Arr({Int(100), Int(199), Arr({Str("h"), Int(1)})})});
  Result<SlotMap> map = SlotMap::FromClusterSlots(reply, "x");
  ASSERT_TRUE(map.ok());
  EXPECT_EQ(map->covered_slots(), 100);
  EXPECT_EQ(map->Master(99), nullptr);
  map->Assign(99, NodeAddress{"h2", 2});
  EXPECT_EQ(*map->Master(99), (NodeAddress{"h2", 2}));
  EXPECT_EQ(map->nodes().size(), 2u);
}

TEST(SlotMapTest, MalformedClusterSlotsIsCorruption) {
  const Reply bad[] = {
      Str("nope"),
      Arr({Arr({Int(0), Int(5)})}),                                      // no master
      Arr({Arr({Int(5), Int(1), Arr({Str("h"), Int(1)})})}),             // first > last
      Arr({Arr({Int(0), Int(16384), Arr({Str("h"), Int(1)})})}),         // past the last slot
      Arr({Arr({Int(0), Int(1), Arr({Str("h"), Str("port")})})}),        // port not integer
      Arr({Arr({Str("0"), Int(1), Arr({Str("h"), Int(1)})})}),           // slot not integer
  };
  for (const Reply& r : bad) {
    EXPECT_EQ(SlotMap::FromClusterSlots(r, "x").status().code(), Status::Code::kCorruption)
        << r.ToString();
  }
}

TEST(SlotMapTest, SingleNodeCoversEverything) {
  SlotMap map = SlotMap::SingleNode({"127.0.0.1", 6380});
  EXPECT_EQ(map.covered_slots(), kSlots);
  EXPECT_EQ(map.Master(KeySlot("anything"))->port, 6380);
}

TEST(RedirectTest, ParsesMovedAndAsk) {
  auto moved = ParseRedirect("MOVED 3999 127.0.0.1:6381", "seed");
  ASSERT_TRUE(moved);
  EXPECT_FALSE(moved->ask);
  EXPECT_EQ(moved->slot, 3999);
  EXPECT_EQ(moved->node, (NodeAddress{"127.0.0.1", 6381}));
  auto ask = ParseRedirect("ASK 0 [::1]:7000", "seed");
  ASSERT_TRUE(ask);
  EXPECT_TRUE(ask->ask);
  EXPECT_EQ(ask->node, (NodeAddress{"::1", 7000}));
  auto bare6 = ParseRedirect("MOVED 1 fe80::1:7000", "seed");
  ASSERT_TRUE(bare6);
  EXPECT_EQ(bare6->node, (NodeAddress{"fe80::1", 7000}));
  auto nohost = ParseRedirect("MOVED 16383 :7001", "seed");
  ASSERT_TRUE(nohost);
  EXPECT_EQ(nohost->node, (NodeAddress{"seed", 7001}));
}

TEST(RedirectTest, RejectsOthers) {
  for (const char* e : {"ERR wrong", "MOVED", "MOVED 1", "MOVED x h:1", "MOVED 16384 h:1",
                        "MOVED -1 h:1", "MOVED 1 h", "MOVED 1 h:0", "MOVED 1 h:99999",
                        "ASK 1 h:x", "TRYAGAIN", "moved 1 h:1"}) {
    EXPECT_FALSE(ParseRedirect(e, "seed")) << e;
  }
}

TEST(RoutingKeyTest, KnowsKeyPositions) {
  EXPECT_EQ(RoutingKey(Argv{"GET", "k"}), "k");
  EXPECT_EQ(RoutingKey(Argv{"set", "k", "v"}), "k");
  EXPECT_EQ(RoutingKey(Argv{"MSET", "a", "1", "b", "2"}), "a");
  EXPECT_EQ(RoutingKey(Argv{"MGET", "a", "b"}), "a");
  EXPECT_EQ(RoutingKey(Argv{"EVAL", "return 1", "1", "key", "arg"}), "key");
  EXPECT_EQ(RoutingKey(Argv{"EVAL", "return 1", "0"}), std::nullopt);
  EXPECT_EQ(RoutingKey(Argv{"OBJECT", "ENCODING", "k"}), "k");
  EXPECT_EQ(RoutingKey(Argv{"PING"}), std::nullopt);
  EXPECT_EQ(RoutingKey(Argv{"ping", "hello"}), std::nullopt);
  EXPECT_EQ(RoutingKey(Argv{"CLUSTER", "SLOTS"}), std::nullopt);
  EXPECT_EQ(RoutingKey(Argv{}), std::nullopt);
  std::string_view views[] = {"INCR", "{user1}.visits"};
  EXPECT_EQ(RoutingKey(std::span<const std::string_view>(views)), "{user1}.visits");
}

TEST(NodeAddressTest, Parse) {
  EXPECT_EQ(*ParseNodeAddress("localhost:6380"), (NodeAddress{"localhost", 6380}));
  EXPECT_FALSE(ParseNodeAddress("localhost").ok());
  EXPECT_FALSE(ParseNodeAddress("localhost:").ok());
  EXPECT_FALSE(ParseNodeAddress("h:70000").ok());
}

}  // namespace
}  // namespace flin

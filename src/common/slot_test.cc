#include "common/slot.h"

#include <gtest/gtest.h>

namespace flin {

TEST(SlotTest, MatchesRedisClusterReferenceValues) {
  EXPECT_EQ(Crc16("123456789"), 0x31C3);  // the spec's check value
  EXPECT_EQ(KeySlot("foo"), 12182);       // redis-cli CLUSTER KEYSLOT foo
  EXPECT_EQ(KeySlot("bar"), 5061);
  EXPECT_EQ(KeySlot(""), 0);
}

TEST(SlotTest, HashTags) {
  EXPECT_EQ(KeySlot("{user1000}.following"), KeySlot("user1000"));
  EXPECT_EQ(KeySlot("foo{}{bar}"), KeySlot("foo{}{bar}"));  // empty tag: whole key hashed
  EXPECT_NE(KeySlot("foo{}{bar}"), KeySlot("bar"));
  EXPECT_EQ(KeySlot("foo{{bar}}zap"), KeySlot("{bar"));
  EXPECT_EQ(KeySlot("foo{bar}{zap}"), KeySlot("bar"));
}

TEST(SlotTest, PartitionsAreContiguousAndCoverAllSlots) {
  for (int parts : {1, 3, 64, 100}) {
    int prev = 0;
    for (int s = 0; s < kSlots; ++s) {
      int p = SlotPartition(s, parts);
      ASSERT_TRUE(p == prev || p == prev + 1) << parts << " " << s;
      if (p != prev) {
        ASSERT_EQ(PartitionFirstSlot(p, parts), s);
      }
      prev = p;
    }
    EXPECT_EQ(prev, parts - 1);
  }
}

}  // namespace flin

#include "server/keyspace_events.h"

#include <gtest/gtest.h>

namespace flin::server {
namespace {

std::string RoundTrip(std::string_view s) {
  int flags = -1;
  EXPECT_TRUE(ParseKeyspaceEvents(s, &flags)) << s;
  return FormatKeyspaceEvents(flags);
}

// The pairs as redis-server 7.0.15 answers CONFIG GET after CONFIG SET.
TEST(KeyspaceEventsTest, ParsesAndFormatsAsRedis) {
  EXPECT_EQ(RoundTrip(""), "");
  EXPECT_EQ(RoundTrip("KEA"), "AKE");
  EXPECT_EQ(RoundTrip("E$gxn"), "g$xnE");
  EXPECT_EQ(RoundTrip("AnE"), "AE");  // 'n' is kept, but Redis does not print it beside A
  EXPECT_EQ(RoundTrip("AKm"), "AKm");
  EXPECT_EQ(RoundTrip("K"), "K");
  EXPECT_EQ(RoundTrip("g$lshzxetd"), "A");
  EXPECT_EQ(RoundTrip("KKgg"), "gK");
  EXPECT_EQ(RoundTrip(std::string_view("Kg\0Q", 4)), "gK");  // a C string to Redis
  int flags = 7;
  EXPECT_FALSE(ParseKeyspaceEvents("KEQ", &flags));
  EXPECT_FALSE(ParseKeyspaceEvents("ke", &flags));  // case matters
  EXPECT_EQ(flags, 7);                              // untouched on error
  ASSERT_TRUE(ParseKeyspaceEvents("An", &flags));
  EXPECT_TRUE(flags & kNotifyNew);
}

TEST(KeyspaceEventsTest, WantedNeedsAClassAndAChannelKind) {
  EXPECT_FALSE(KeyspaceEventWanted(kNotifyGeneric, kNotifyGeneric));  // neither K nor E
  EXPECT_FALSE(KeyspaceEventWanted(kNotifyKeyspace | kNotifyString, kNotifyGeneric));
  EXPECT_TRUE(KeyspaceEventWanted(kNotifyKeyevent | kNotifyAll, kNotifyExpired));
  EXPECT_FALSE(KeyspaceEventWanted(kNotifyKeyevent | kNotifyAll, kNotifyNew));  // A has no n
}

TEST(KeyspaceEventsTest, MessagesByChannelKind) {
  const KeyEvent e{kNotifyString, "set", std::string("k\0y", 3)};
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(KeyEventMessages(kNotifyKeyspace | kNotifyKeyevent | kNotifyString, e),
            (Pairs{{std::string("__keyspace@0__:k\0y", 18), "set"},
                   {"__keyevent@0__:set", std::string("k\0y", 3)}}));
  EXPECT_EQ(KeyEventMessages(kNotifyKeyevent | kNotifyAll, e),
            (Pairs{{"__keyevent@0__:set", std::string("k\0y", 3)}}));
  EXPECT_TRUE(KeyEventMessages(kNotifyKeyspace | kNotifyGeneric, e).empty());
}

}  // namespace
}  // namespace flin::server

#include "server/tracking.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace flin::server {
namespace {

// Records what each target of each batch would get: "conn:kind:message" (kind i invalidate, r
// redirected invalidate, b redirect broken; message "null" for every key).
struct FakeSink : PushSink {
  std::vector<std::string> seen;
  void Push(PushBatch&& b) override {
    for (const auto& t : b.targets) {
      const char* kind = t.kind == PushBatch::Kind::kRedirBroken ? "b" : t.redirected ? "r" : "i";
      seen.push_back(std::to_string(t.conn_id) + ":" + kind + ":" +
                     (b.message ? *b.message : std::string("null")));
    }
  }
  std::vector<std::string> Take() {
    std::vector<std::string> out;
    out.swap(seen);
    std::sort(out.begin(), out.end());
    return out;
  }
};

KeyEvent Set(std::string key, uint64_t writer = 0) {
  return KeyEvent{kNotifyString, "set", std::move(key), writer};
}

std::string Keys(std::vector<std::string_view> keys) { return Tracking::EncodeKeys(keys); }

using V = std::vector<std::string>;

TEST(TrackingTest, AReadKeyIsInvalidatedOnceThenForgotten) {
  Tracking t;
  FakeSink a;
  t.Enable(&a, 1, {});
  t.Enable(&a, 2, {});
  EXPECT_TRUE(t.active());
  t.Remember(1, "k");
  t.Remember(2, "k");
  t.Remember(1, "other");
  EXPECT_EQ(t.NumKeys(), 2u);
  EXPECT_EQ(t.NumItems(), 3u);
  t.Changed({Set("k"), Set("unread")});
  EXPECT_EQ(a.Take(), (V{"1:i:" + Keys({"k"}), "2:i:" + Keys({"k"})}));
  t.Changed({Set("k")});  // forgotten until read again
  EXPECT_TRUE(a.Take().empty());
  EXPECT_EQ(t.NumKeys(), 1u);
  EXPECT_EQ(t.NumItems(), 1u);
}

TEST(TrackingTest, MissesAndNewAreNotChanges) {
  Tracking t;
  FakeSink a;
  t.Enable(&a, 1, {});
  t.Remember(1, "k");
  t.Changed({KeyEvent{kNotifyKeyMiss, "keymiss", "k"}, KeyEvent{kNotifyNew, "new", "k"}});
  EXPECT_TRUE(a.Take().empty());
  t.Changed({KeyEvent{kNotifyGeneric, "del", "k"}});
  EXPECT_EQ(a.Take(), V{"1:i:" + Keys({"k"})});
}

TEST(TrackingTest, NoloopLeavesOutTheClientsOwnChanges) {
  Tracking t;
  FakeSink a;
  Tracking::Mode noloop;
  noloop.noloop = true;
  t.Enable(&a, 1, noloop);
  t.Enable(&a, 2, {});
  t.Remember(1, "k");
  t.Remember(2, "k");
  t.Changed({Set("k", 1)});
  EXPECT_EQ(a.Take(), V{"2:i:" + Keys({"k"})});
  t.Remember(1, "k");
  t.Changed({Set("k", 2)});
  EXPECT_EQ(a.Take(), V{"1:i:" + Keys({"k"})});
}

TEST(TrackingTest, RedirectionAndItsBreaking) {
  Tracking t;
  FakeSink a, b;
  Tracking::Mode m;
  m.redirect = 9;
  m.redirect_sink = &b;
  t.Enable(&a, 1, m);
  t.Remember(1, "k");
  t.Changed({Set("k")});
  EXPECT_TRUE(a.Take().empty());
  EXPECT_EQ(b.Take(), V{"9:r:" + Keys({"k"})});
  EXPECT_FALSE(t.RedirectBroken(1));
  t.Closed(9);  // the target went away
  EXPECT_FALSE(t.RedirectBroken(1));  // known once a message could not go there, as Redis
  t.Remember(1, "k");
  t.Changed({Set("k")});
  EXPECT_EQ(a.Take(), V{"1:b:9"});
  EXPECT_TRUE(b.Take().empty());
  EXPECT_TRUE(t.RedirectBroken(1));
  // Enabled again with another target: mended.
  m.redirect = 8;
  t.Enable(&a, 1, m);
  EXPECT_FALSE(t.RedirectBroken(1));
  t.Closed(9);
  t.InvalidateAll();
  EXPECT_EQ(b.Take(), V{"8:r:null"});
  EXPECT_FALSE(t.RedirectBroken(1));
}

TEST(TrackingTest, BroadcastSendsEachPrefixsKeysTogether) {
  Tracking t;
  FakeSink a;
  Tracking::Mode bcast;
  bcast.bcast = true;
  bcast.prefixes = {"a:", "b:"};
  t.Enable(&a, 1, bcast);
  Tracking::Mode all;
  all.bcast = true;
  all.noloop = true;
  t.Enable(&a, 2, all);  // no prefix: every key
  EXPECT_EQ(t.NumPrefixes(), 3u);
  t.Changed({Set("a:1"), Set("c:1", 1), Set("a:2", 2), Set("b:1"), Set("a:1", 2)});
  EXPECT_EQ(a.Take(), (V{"1:i:" + Keys({"b:1"}), "1:i:" + Keys({"a:1", "a:2"}),
                         // 2 wrote a:2 and (last) a:1 itself
                         "2:i:" + Keys({"c:1", "b:1"})}));  // (sorted: *1 before *2)
  // Prefixes add up when enabled again; one already there is not doubled.
  bcast.prefixes = {"c:", "a:"};
  t.Enable(&a, 1, bcast);
  EXPECT_EQ(t.NumPrefixes(), 4u);
  t.Changed({Set("c:9")});
  EXPECT_EQ(a.Take(), (V{"1:i:" + Keys({"c:9"}), "2:i:" + Keys({"c:9"})}));
  t.Disable(1);
  t.Disable(2);
  EXPECT_EQ(t.NumPrefixes(), 0u);
  EXPECT_FALSE(t.active());
  t.Changed({Set("a:1")});
  EXPECT_TRUE(a.Take().empty());
}

TEST(TrackingTest, AFlushInvalidatesEverythingForEveryClient) {
  Tracking t;
  FakeSink a;
  t.Enable(&a, 1, {});
  Tracking::Mode bcast;
  bcast.bcast = true;
  t.Enable(&a, 2, bcast);
  t.Remember(1, "k");
  t.Changed({Set("x"), KeyEvent{kTrackFlush, "flush", ""}, KeyEvent{kTrackFlush, "flush", ""}});
  EXPECT_EQ(a.Take(), (V{"1:i:null", "2:i:" + Keys({"x"}), "2:i:null"}));
  EXPECT_EQ(t.NumKeys(), 0u);
  EXPECT_EQ(t.NumItems(), 0u);
  t.InvalidateAll();
  EXPECT_EQ(a.Take(), (V{"1:i:null", "2:i:null"}));
}

TEST(TrackingTest, OverTheBoundKeysAreInvalidatedToMakeRoom) {
  std::atomic<int64_t> max{3};
  Tracking t;
  t.set_max_keys(&max);
  FakeSink a;
  t.Enable(&a, 1, {});
  for (int i = 0; i < 10; ++i) t.Remember(1, "k" + std::to_string(i));
  EXPECT_EQ(t.NumKeys(), 3u);
  V evicted = a.Take();
  EXPECT_EQ(evicted.size(), 7u);
  EXPECT_EQ(std::adjacent_find(evicted.begin(), evicted.end()), evicted.end());
  // A command of several keys.
  t.Remember(1, std::vector<std::string_view>{"m1", "m2", "m3"});
  EXPECT_EQ(t.NumKeys(), 3u);
  EXPECT_EQ(a.Take().size(), 3u);
  max = 1;  // lowered: reached at the next read
  t.Remember(1, "z");
  EXPECT_EQ(t.NumKeys(), 1u);
  EXPECT_EQ(a.Take().size(), 3u);
  max = 0;  // no bound
  for (int i = 0; i < 10; ++i) t.Remember(1, "y" + std::to_string(i));
  EXPECT_EQ(t.NumKeys(), 11u);
}

// A key read by ever new clients, and never changed, keeps only the ids of clients still there.
TEST(TrackingTest, IdsOfClientsGoneDoNotPileUpUnderAKey) {
  Tracking t;
  FakeSink a;
  t.Enable(&a, 1, {});
  t.Remember(1, "hot");
  for (uint64_t id = 2; id < 1000; ++id) {
    t.Enable(&a, id, {});
    t.Remember(id, "hot");
    t.Closed(id);
  }
  EXPECT_LE(t.NumItems(), 11u);
  t.Changed({Set("hot")});
  EXPECT_EQ(a.Take(), V{"1:i:" + Keys({"hot"})});
}

TEST(TrackingTest, AClosedOrDisabledClientGetsNothing) {
  Tracking t;
  FakeSink a;
  t.Enable(&a, 1, {});
  t.Remember(1, "k");
  t.Disable(1);
  EXPECT_EQ(t.NumClients(), 0u);
  t.Changed({Set("k")});
  EXPECT_TRUE(a.Take().empty());
  t.Enable(&a, 2, {});
  t.Remember(2, "k");
  t.Closed(2);
  t.InvalidateAll();
  EXPECT_TRUE(a.Take().empty());
  EXPECT_FALSE(t.active());
}

// CLIENT TRACKING ... REDIRECT finds the target (Server::FindClient), then Enable()s; the
// target may close in between, before this client counted as tracking, when a closing
// connection does not tell Tracking. tracking_family.cc looks for the target again after
// Enable and, if it is gone, calls Closed() for it: the client then hears it is broken.
TEST(TrackingTest, ARedirectionToAConnectionClosedBeforeEnableIsBroken) {
  Tracking t;
  FakeSink a, b;
  Tracking::Mode m;
  m.redirect = 9;
  m.redirect_sink = &b;
  t.Enable(&a, 1, m);
  t.Closed(9);  // the look after Enable did not find it
  t.Remember(1, "k");
  t.Changed({Set("k")});
  EXPECT_TRUE(b.Take().empty()) << "sent to connection 9, which is gone";
  EXPECT_EQ(a.Take(), (V{"1:b:9"}));
  EXPECT_TRUE(t.RedirectBroken(1));
}

// One committed batch that changes many tracked keys (a DEL or MSET of many keys): one message
// per key and client, none lost or doubled. (Review: the messages were grouped by a scan of
// every earlier one, quadratic in the keys under Tracking's mutex; now by a hash index.)
TEST(TrackingTest, ManyChangedKeysInOneBatchEachGetOneMessage) {
  Tracking t;
  FakeSink a, b;
  t.Enable(&a, 1, {});
  t.Enable(&b, 2, {});
  constexpr int kKeys = 50000;
  std::vector<KeyEvent> events;
  for (int i = 0; i < kKeys; ++i) {
    const std::string key = "key:" + std::to_string(i);
    t.Remember(1, key);
    if (i % 2 == 0) t.Remember(2, key);
    events.push_back(Set(key));
  }
  t.Changed(events);
  const V got = a.Take();
  EXPECT_EQ(got.size(), static_cast<size_t>(kKeys));
  EXPECT_EQ(std::adjacent_find(got.begin(), got.end()), got.end());
  EXPECT_EQ(b.Take().size(), static_cast<size_t>(kKeys / 2));
  EXPECT_EQ(t.NumKeys(), 0u);
}

}  // namespace
}  // namespace flin::server

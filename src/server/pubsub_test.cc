#include "server/pubsub.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace flin::server {
namespace {

struct FakeSink : PushSink {
  std::vector<PushBatch> batches;
  void Push(PushBatch&& b) override { batches.push_back(std::move(b)); }
  // "kind:conn:pattern:channel:message" for every target, sorted.
  std::vector<std::string> Seen() const {
    std::vector<std::string> out;
    for (const auto& b : batches) {
      for (const auto& t : b.targets) {
        const char* kind = t.kind == PushBatch::Kind::kMessage    ? "m"
                           : t.kind == PushBatch::Kind::kPMessage ? "p"
                                                                  : "s";
        out.push_back(std::string(kind) + ":" + std::to_string(t.conn_id) + ":" + t.pattern +
                      ":" + *b.channel + ":" + *b.message);
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }
};

using Space = PubSub::Space;

TEST(PubSubTest, ChannelsPatternsAndShardsAreApart) {
  PubSub ps;
  FakeSink a, b;
  EXPECT_TRUE(ps.Subscribe(Space::kChannel, "news", {&a, 1}));
  EXPECT_FALSE(ps.Subscribe(Space::kChannel, "news", {&a, 1}));  // already there
  EXPECT_TRUE(ps.Subscribe(Space::kPattern, "n*", {&a, 1}));
  EXPECT_TRUE(ps.Subscribe(Space::kPattern, "*s", {&b, 2}));
  EXPECT_TRUE(ps.Subscribe(Space::kShard, "news", {&b, 3}));

  // Once per subscription: conn 1 by the channel and by a pattern.
  EXPECT_EQ(ps.Publish(false, "news", "hi"), 3u);
  EXPECT_EQ(a.Seen(), (std::vector<std::string>{"m:1::news:hi", "p:1:n*:news:hi"}));
  EXPECT_EQ(b.Seen(), (std::vector<std::string>{"p:2:*s:news:hi"}));
  EXPECT_EQ(a.batches.size(), 1u);  // one batch per sink and publish

  a.batches.clear();
  b.batches.clear();
  EXPECT_EQ(ps.Publish(true, "news", "s"), 1u);  // shard subscribers only
  EXPECT_TRUE(a.batches.empty());
  EXPECT_EQ(b.Seen(), (std::vector<std::string>{"s:3::news:s"}));

  EXPECT_EQ(ps.Publish(false, "nothing-matches-x", "m"), 1u);  // n* only
  EXPECT_EQ(ps.Publish(false, "zzz", "m"), 0u);
}

TEST(PubSubTest, UnsubscribeForgetsEmptyNames) {
  PubSub ps;
  FakeSink a;
  ps.Subscribe(Space::kChannel, "c", {&a, 1});
  ps.Subscribe(Space::kChannel, "c", {&a, 2});
  ps.Subscribe(Space::kPattern, "p*", {&a, 1});
  EXPECT_EQ(ps.NumSubscribers(false, "c"), 2u);
  EXPECT_EQ(ps.NumPatterns(), 1u);
  EXPECT_TRUE(ps.Unsubscribe(Space::kChannel, "c", {&a, 1}));
  EXPECT_FALSE(ps.Unsubscribe(Space::kChannel, "c", {&a, 1}));
  EXPECT_FALSE(ps.Unsubscribe(Space::kChannel, "other", {&a, 1}));
  EXPECT_EQ(ps.NumSubscribers(false, "c"), 1u);
  EXPECT_TRUE(ps.Unsubscribe(Space::kChannel, "c", {&a, 2}));
  EXPECT_EQ(ps.NumChannels(false), 0u);
  EXPECT_TRUE(ps.Channels(false, nullptr).empty());
  EXPECT_TRUE(ps.Unsubscribe(Space::kPattern, "p*", {&a, 1}));
  EXPECT_EQ(ps.NumPatterns(), 0u);
  EXPECT_EQ(ps.Publish(false, "c", "x"), 0u);
  EXPECT_TRUE(a.batches.empty());
}

TEST(PubSubTest, ChannelsListsByPatternAndSpace) {
  PubSub ps;
  FakeSink a;
  ps.Subscribe(Space::kChannel, "alpha", {&a, 1});
  ps.Subscribe(Space::kChannel, "beta", {&a, 1});
  ps.Subscribe(Space::kShard, "gamma", {&a, 1});
  auto all = ps.Channels(false, nullptr);
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, (std::vector<std::string>{"alpha", "beta"}));
  const std::string pattern = "a*";
  EXPECT_EQ(ps.Channels(false, &pattern), (std::vector<std::string>{"alpha"}));
  EXPECT_EQ(ps.Channels(true, nullptr), (std::vector<std::string>{"gamma"}));
  EXPECT_EQ(ps.NumChannels(true), 1u);
}

TEST(PubSubTest, BinaryNamesAndMessages) {
  PubSub ps;
  FakeSink a;
  const std::string name("a\0b\xff", 4), msg("\0\r\n", 3);
  ps.Subscribe(Space::kChannel, name, {&a, 7});
  EXPECT_EQ(ps.Publish(false, std::string("a\0b", 3), msg), 0u);  // another channel
  EXPECT_EQ(ps.Publish(false, name, msg), 1u);
  ASSERT_EQ(a.batches.size(), 1u);
  EXPECT_EQ(*a.batches[0].channel, name);
  EXPECT_EQ(*a.batches[0].message, msg);
  EXPECT_GE(a.batches[0].Bytes(), name.size() + msg.size());
}

TEST(PubSubTest, NodeMessagesRoundTripAndRefuseGarbage) {
  for (bool shard : {false, true}) {
    const std::string body = EncodePublishMessage(shard, std::string("c\0h", 3), "msg");
    bool s = !shard;
    std::string_view ch, msg;
    ASSERT_TRUE(DecodePublishMessage(body, &s, &ch, &msg));
    EXPECT_EQ(s, shard);
    EXPECT_EQ(ch, std::string_view("c\0h", 3));
    EXPECT_EQ(msg, "msg");
    // Every truncation that cuts into the channel is refused; the message may be empty.
    for (size_t n = 0; n < 5 + 3; ++n) {
      EXPECT_FALSE(DecodePublishMessage(body.substr(0, n), &s, &ch, &msg)) << n;
    }
    EXPECT_TRUE(DecodePublishMessage(body.substr(0, 8), &s, &ch, &msg));
    EXPECT_EQ(msg, "");
  }
  bool s;
  std::string_view ch, msg;
  EXPECT_FALSE(DecodePublishMessage("X\0\0\0\0", &s, &ch, &msg));
  EXPECT_FALSE(DecodePublishMessage(std::string("P\xff\xff\xff\xff", 5), &s, &ch, &msg));
}

}  // namespace
}  // namespace flin::server

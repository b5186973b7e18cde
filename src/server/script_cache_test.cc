#include "server/script_cache.h"

#include <gtest/gtest.h>

namespace flin::server {
namespace {

TEST(ScriptCacheTest, KeepsScriptsBySha) {
  ScriptCache c;
  c.Add("abc", "return 1");
  std::string body;
  EXPECT_TRUE(c.Get("ABC", &body));  // any case
  EXPECT_EQ(body, "return 1");
  EXPECT_TRUE(c.Exists("abc"));
  EXPECT_FALSE(c.Exists("abd"));
  c.Add("abc", "return 1");
  EXPECT_EQ(c.size(), 1u);
  c.Flush();
  EXPECT_FALSE(c.Get("abc", &body));
  EXPECT_EQ(c.bytes(), 0u);
}

TEST(ScriptCacheTest, ForgetsTheOldestPastItsBounds) {
  ScriptCache by_bytes(100, 1000);
  by_bytes.Add("a", std::string(40, 'x'));
  by_bytes.Add("b", std::string(40, 'y'));
  by_bytes.Add("c", std::string(40, 'z'));
  EXPECT_FALSE(by_bytes.Exists("a"));
  EXPECT_TRUE(by_bytes.Exists("b"));
  EXPECT_TRUE(by_bytes.Exists("c"));
  EXPECT_LE(by_bytes.bytes(), 100u);
  ScriptCache by_count(1 << 20, 2);
  for (const char* sha : {"a", "b", "c"}) by_count.Add(sha, "return 1");
  EXPECT_EQ(by_count.size(), 2u);
  EXPECT_FALSE(by_count.Exists("a"));
  // One script larger than the bound is still kept (until the next one).
  ScriptCache tiny(10, 10);
  tiny.Add("big", std::string(100, 'x'));
  EXPECT_TRUE(tiny.Exists("big"));
}

}  // namespace
}  // namespace flin::server

// SlowLog: what an entry keeps of a command, and the bound on entries.

#include "server/slowlog.h"

#include <gtest/gtest.h>

namespace flin::server {
namespace {

std::vector<std::string> Recorded(std::vector<std::string_view> args) {
  SlowLog log;
  log.Record(5, Args(args), "1.2.3.4:5", "n", 10);
  auto got = log.Get(-1);
  EXPECT_EQ(got.size(), 1u);
  return got.empty() ? std::vector<std::string>() : got[0].args;
}

TEST(SlowLogTest, PasswordsAreRedacted) {
  EXPECT_EQ(Recorded({"config", "set", "maxclients", "5", "requirepass", "pw"}),
            (std::vector<std::string>{"config", "set", "maxclients", "5", "requirepass",
                                      "(redacted)"}));
  EXPECT_EQ(Recorded({"HELLO", "3", "AUTH", "u", "pw", "SETNAME", "x"}),
            (std::vector<std::string>{"HELLO", "3", "AUTH", "(redacted)", "(redacted)",
                                      "SETNAME", "x"}));
  EXPECT_EQ(Recorded({"hello", "3", "auth", "u"}),  // incomplete: nothing to hide
            (std::vector<std::string>{"hello", "3", "auth", "u"}));
  EXPECT_EQ(Recorded({"auth", "pw"}), (std::vector<std::string>{"auth", "(redacted)"}));
}

TEST(SlowLogTest, ArgumentsAreCutAsRedisCutsThem) {
  std::string long_arg(129, 'x');
  std::vector<std::string_view> args = {"mget"};
  for (int i = 0; i < 32; ++i) args.push_back(long_arg);
  auto kept = Recorded(args);
  ASSERT_EQ(kept.size(), 32u);
  EXPECT_EQ(kept[1], std::string(128, 'x') + "... (1 more bytes)");
  EXPECT_EQ(kept[31], "... (2 more arguments)");
  args.resize(32);  // exactly 32: all kept
  EXPECT_EQ(Recorded(args).size(), 32u);
}

TEST(SlowLogTest, BoundedNewestFirst) {
  SlowLog log;
  std::vector<std::string_view> args = {"get", "k"};
  for (int i = 0; i < 5; ++i) log.Record(i, Args(args), "", "", 3);
  auto all = log.Get(-1);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].id, 4u);
  EXPECT_EQ(all[2].id, 2u);
  EXPECT_EQ(log.Get(0).size(), 0u);
  log.Record(9, Args(args), "", "", 0);  // max-len 0 keeps nothing
  EXPECT_EQ(log.Len(), 0u);
  EXPECT_TRUE(SlowLog::Slow(0, 0));
  EXPECT_FALSE(SlowLog::Slow(100, -1));
  EXPECT_FALSE(SlowLog::Slow(9, 10));
}

}  // namespace
}  // namespace flin::server

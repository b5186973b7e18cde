#include "tools/bench_options.h"

#include <gtest/gtest.h>

namespace flin::bench {
namespace {

Result<BenchOptions> Parse(std::vector<std::string> args, bool* help = nullptr) {
  args.insert(args.begin(), "flin-bench");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  bool h = false;
  return ParseOptions(static_cast<int>(argv.size()), argv.data(), help ? help : &h);
}

TEST(BenchOptionsTest, ParsesFlagsBothWays) {
  auto o = Parse({"--port", "7000", "--connections=128", "--pipeline", "16", "--mix",
                  "get=90,set=10,incr", "--key-dist", "zipf", "--duration", "2.5", "--json",
                  "--cluster", "a:1,b:2"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->port, 7000);
  EXPECT_EQ(o->connections, 128);
  EXPECT_EQ(o->pipeline, 16);
  EXPECT_EQ(o->MixString(), "get=90,set=10,incr=1");
  EXPECT_EQ(o->key_dist, KeyDist::kZipf);
  EXPECT_DOUBLE_EQ(o->duration_s, 2.5);
  EXPECT_TRUE(o->json);
  ASSERT_EQ(o->cluster.size(), 2u);
  EXPECT_EQ(o->cluster[1], (NodeAddress{"b", 2}));
}

TEST(BenchOptionsTest, BadFlagsSayWhich) {
  const std::vector<std::vector<std::string>> bad = {
      {"--bogus"},           {"--port"},          {"--port", "x"},
      {"--port", "70000"},   {"--mix", "foo=1"},  {"--mix", "get=0"},
      {"--key-dist", "hot"}, {"--duration", "-1"}, {"--cluster", "nohost"},
      {"--connections", "0"}};
  for (const auto& args : bad) {
    auto o = Parse(args);
    ASSERT_FALSE(o.ok()) << args[0];
    EXPECT_NE(o.status().message().find(args[0]), std::string::npos) << o.status().message();
  }
}

TEST(BenchOptionsTest, Help) {
  bool help = false;
  ASSERT_TRUE(Parse({"--help"}, &help).ok());
  EXPECT_TRUE(help);
  EXPECT_NE(Usage().find("--pipeline"), std::string::npos);
}

}  // namespace
}  // namespace flin::bench

#include "common/strings.h"

#include <gtest/gtest.h>

namespace flin {

TEST(StringsTest, ParseInt64LikeRedis) {
  int64_t v;
  EXPECT_TRUE(ParseInt64("0", &v));
  EXPECT_TRUE(ParseInt64("-9223372036854775808", &v));
  EXPECT_EQ(v, INT64_MIN);
  EXPECT_TRUE(ParseInt64("9223372036854775807", &v));
  EXPECT_FALSE(ParseInt64("9223372036854775808", &v));
  EXPECT_FALSE(ParseInt64("-0", &v));
  EXPECT_FALSE(ParseInt64("01", &v));
  EXPECT_FALSE(ParseInt64(" 1", &v));
  EXPECT_FALSE(ParseInt64("+1", &v));
  EXPECT_FALSE(ParseInt64("1a", &v));
  EXPECT_FALSE(ParseInt64("", &v));
}

TEST(StringsTest, ParseFloats) {
  long double ld;
  EXPECT_TRUE(ParseLongDouble("10.5", &ld));
  EXPECT_TRUE(ParseLongDouble("5.0e3", &ld));
  EXPECT_FALSE(ParseLongDouble("nan", &ld));
  EXPECT_TRUE(ParseLongDouble("inf", &ld));
  // Out of range is not a number (Redis's string2ld), but "inf" is, and so is a denormal.
  EXPECT_FALSE(ParseLongDouble("1e5000", &ld));
  EXPECT_FALSE(ParseLongDouble("-1e5000", &ld));
  EXPECT_FALSE(ParseLongDouble("1e-5000", &ld));
  EXPECT_TRUE(ParseLongDouble("1e-4940", &ld));
  EXPECT_TRUE(ParseLongDouble(std::string(5119, '0'), &ld));
  EXPECT_FALSE(ParseLongDouble(std::string(5120, '0'), &ld));
  EXPECT_FALSE(ParseLongDouble(" 1", &ld));
  double d;
  EXPECT_TRUE(ParseDouble("-inf", &d));
  EXPECT_FALSE(ParseDouble("1x", &d));
}

TEST(StringsTest, ParseMemory) {
  int64_t v;
  EXPECT_TRUE(ParseMemory("64mb", &v));
  EXPECT_EQ(v, 64 << 20);
  EXPECT_TRUE(ParseMemory("1k", &v));
  EXPECT_EQ(v, 1000);
  EXPECT_TRUE(ParseMemory("123", &v));
  EXPECT_FALSE(ParseMemory("-1", &v));
  EXPECT_FALSE(ParseMemory("mb", &v));
}

TEST(StringsTest, GlobMatch) {
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_TRUE(GlobMatch("h?llo", "hello"));
  EXPECT_TRUE(GlobMatch("h*llo", "heeeello"));
  EXPECT_TRUE(GlobMatch("h[ae]llo", "hallo"));
  EXPECT_FALSE(GlobMatch("h[ae]llo", "hillo"));
  EXPECT_TRUE(GlobMatch("h[^e]llo", "hallo"));
  EXPECT_FALSE(GlobMatch("h[^e]llo", "hello"));
  EXPECT_TRUE(GlobMatch("h[a-b]llo", "hbllo"));
  EXPECT_TRUE(GlobMatch("h\\*llo", "h*llo"));
  EXPECT_FALSE(GlobMatch("h\\*llo", "hello"));
  EXPECT_TRUE(GlobMatch("MAX*", "maxclients", true));
  EXPECT_FALSE(GlobMatch("a*b", "acd"));
  EXPECT_FALSE(GlobMatch(std::string(60, '*') + "x", std::string(100, 'a')));
}

}  // namespace flin

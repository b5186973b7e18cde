#include "common/strings.h"

#include <gtest/gtest.h>

#include <cctype>
#include <random>

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
  EXPECT_FALSE(GlobMatch("*", ""));  // Redis's stringmatchlen: "" matches only ""
  EXPECT_FALSE(GlobMatch("**", ""));
  EXPECT_FALSE(GlobMatch("?*", ""));
  EXPECT_TRUE(GlobMatch("", ""));
  EXPECT_TRUE(GlobMatch("a*", "a"));
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
  EXPECT_TRUE(GlobMatch(std::string(2000, '*') + "x", std::string(100, 'a') + "x"));
}

// A pattern of many stars against a string it almost matches: a matcher that tries every way
// of splitting the string among the stars takes about 3^stars steps (hours for 25; any client
// could send one in KEYS or SCAN MATCH and stall the server), one that backtracks only to the
// last star takes pattern x string steps.
TEST(StringsTest, GlobMatchIsNotExponential) {
  std::string pattern;
  for (int i = 0; i < 25; ++i) pattern += "*a";
  EXPECT_FALSE(GlobMatch(pattern + "b", std::string(60, 'a')));
  EXPECT_TRUE(GlobMatch(pattern + "b", std::string(60, 'a') + "b"));
  EXPECT_FALSE(GlobMatch(pattern + "?b", std::string(25, 'a') + "b"));
  EXPECT_TRUE(GlobMatch(pattern + "?b", std::string(26, 'a') + "b"));
  EXPECT_FALSE(GlobMatch(pattern + "[bc]", std::string(60, 'a') + "d", true));
  std::string many;  // more stars than any recursion could go deep
  for (int i = 0; i < 5000; ++i) many += "*a";
  EXPECT_TRUE(GlobMatch(many, std::string(5000, 'a')));
  EXPECT_FALSE(GlobMatch(many, std::string(4999, 'a')));
}

namespace {
// The matcher's semantics, Redis's stringmatchlen (as checked against redis-server 7.0 by
// thousands of random patterns), written the obvious exponential way: the oracle for the
// random comparison below, on inputs small enough for it.
bool ReferenceMatch(const char* p, size_t plen, const char* s, size_t slen, bool nocase) {
  auto fold = [nocase](char c) {
    return nocase ? static_cast<char>(tolower(static_cast<unsigned char>(c))) : c;
  };
  // An empty string matches only the empty pattern, not even "*": the loop never runs, so
  // the trailing stars it strips stay (redis-server 7.0.15: KEYS ** does not list the key "",
  // PUBLISH "" does not reach PSUBSCRIBE *). Recursive calls always have a character left.
  while (plen && slen) {
    switch (*p) {
      case '*':
        while (plen > 1 && p[1] == '*') ++p, --plen;
        if (plen == 1) return true;
        for (; slen; ++s, --slen) {
          if (ReferenceMatch(p + 1, plen - 1, s, slen, nocase)) return true;
        }
        return false;
      case '?':
        ++s, --slen;
        break;
      case '[': {
        ++p, --plen;
        const bool negate = plen && *p == '^';
        if (negate) ++p, --plen;
        bool matched = false;
        for (; plen; ++p, --plen) {
          if (*p == '\\' && plen >= 2) {
            ++p, --plen;
            matched |= *p == *s;
          } else if (*p == ']') {
            break;
          } else if (plen >= 3 && p[1] == '-') {
            char lo = fold(p[0]), hi = fold(p[2]), c = fold(*s);
            if (lo > hi) std::swap(lo, hi);
            matched |= c >= lo && c <= hi;
            p += 2, plen -= 2;
          } else {
            matched |= fold(*p) == fold(*s);
          }
        }
        if (negate) matched = !matched;
        if (!matched) return false;
        ++s, --slen;
        if (plen == 0) return slen == 0;
        break;
      }
      case '\\':
        if (plen >= 2) ++p, --plen;
        [[fallthrough]];
      default:
        if (fold(*p) != fold(*s)) return false;
        ++s, --slen;
        break;
    }
    ++p, --plen;
    if (slen == 0) {
      while (plen && *p == '*') ++p, --plen;
      break;
    }
  }
  return plen == 0 && slen == 0;
}
}  // namespace

TEST(StringsTest, GlobMatchAgreesWithTheReferenceOnRandomInputs) {
  std::mt19937 rng(20261201);
  const std::string pattern_chars = "ab*?[]^-\\A";
  const std::string string_chars = "abAB-]^\\*?";
  for (int i = 0; i < 1000000; ++i) {
    std::string p, s;
    for (size_t n = rng() % 9; n > 0; --n) p += pattern_chars[rng() % pattern_chars.size()];
    for (size_t n = rng() % 9; n > 0; --n) s += string_chars[rng() % string_chars.size()];
    const bool nocase = rng() % 2;
    ASSERT_EQ(GlobMatch(p, s, nocase), ReferenceMatch(p.data(), p.size(), s.data(), s.size(), nocase))
        << "pattern '" << p << "' string '" << s << "' nocase " << nocase;
  }
}

}  // namespace flin

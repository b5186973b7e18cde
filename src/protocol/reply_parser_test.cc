#include "protocol/reply_parser.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>

namespace flin::protocol {
namespace {

using State = ReplyParser::State;

// Parses exactly one reply from `wire` fed in one piece.
Reply ParseOne(std::string_view wire) {
  ReplyParser p;
  p.Feed(wire);
  Reply r;
  EXPECT_EQ(p.Next(&r), State::kReply) << p.error();
  EXPECT_EQ(p.buffered(), 0u);
  return r;
}

State ParseState(std::string_view wire) {
  ReplyParser p;
  p.Feed(wire);
  Reply r;
  return p.Next(&r);
}

TEST(ReplyParserTest, Resp2Scalars) {
  EXPECT_TRUE(ParseOne("+OK\r\n").IsStatus("OK"));
  Reply e = ParseOne("-ERR wrong\r\n");
  EXPECT_TRUE(e.IsError());
  EXPECT_EQ(e.str, "ERR wrong");
  EXPECT_EQ(ParseOne(":-42\r\n").integer, -42);
  Reply b = ParseOne(std::string("$5\r\na\r\0b\n\r\n", 11));
  EXPECT_EQ(b.type, ReplyType::kString);
  EXPECT_EQ(b.str, std::string("a\r\0b\n", 5));
  EXPECT_EQ(ParseOne("$0\r\n\r\n").str, "");
  EXPECT_TRUE(ParseOne("$-1\r\n").IsNil());
  EXPECT_TRUE(ParseOne("*-1\r\n").IsNil());
}

TEST(ReplyParserTest, Resp3Types) {
  EXPECT_TRUE(ParseOne("_\r\n").IsNil());
  EXPECT_EQ(ParseOne(",3.5\r\n").str, "3.5");
  EXPECT_EQ(ParseOne("#t\r\n").integer, 1);
  EXPECT_EQ(ParseOne("#f\r\n").type, ReplyType::kBoolean);
  EXPECT_EQ(ParseOne("(-1234567890123456789012\r\n").str, "-1234567890123456789012");
  Reply v = ParseOne("=8\r\ntxt:abcd\r\n");
  EXPECT_EQ(v.type, ReplyType::kVerbatim);
  EXPECT_EQ(v.str, "abcd");
  Reply be = ParseOne("!9\r\nERR oops!\r\n");
  EXPECT_TRUE(be.IsError());
  EXPECT_EQ(be.str, "ERR oops!");
  Reply m = ParseOne("%2\r\n+a\r\n:1\r\n+b\r\n*1\r\n:2\r\n");
  ASSERT_EQ(m.type, ReplyType::kMap);
  ASSERT_EQ(m.elements.size(), 4u);
  EXPECT_EQ(m.elements[3].elements[0].integer, 2);
  EXPECT_EQ(ParseOne("~1\r\n+x\r\n").type, ReplyType::kSet);
  EXPECT_EQ(ParseOne(">2\r\n+message\r\n+x\r\n").type, ReplyType::kPush);
}

TEST(ReplyParserTest, AttributesAreDropped) {
  Reply r = ParseOne("|1\r\n+ttl\r\n:3\r\n*2\r\n:1\r\n|0\r\n:2\r\n");
  ASSERT_EQ(r.type, ReplyType::kArray);
  ASSERT_EQ(r.elements.size(), 2u);
  EXPECT_EQ(r.elements[1].integer, 2);
}

TEST(ReplyParserTest, NestedAndEmptyAggregates) {
  Reply r = ParseOne("*3\r\n*0\r\n*2\r\n$1\r\nx\r\n*-1\r\n:7\r\n");
  ASSERT_EQ(r.elements.size(), 3u);
  EXPECT_TRUE(r.elements[0].elements.empty());
  EXPECT_EQ(r.elements[1].elements[0].str, "x");
  EXPECT_TRUE(r.elements[1].elements[1].IsNil());
  EXPECT_EQ(r.elements[2].integer, 7);
  EXPECT_EQ(r.ToString(), "[[], [\"x\", (nil)], (integer) 7]");
}

TEST(ReplyParserTest, ByteAtATimeMatchesWholeAndKeepsOrder) {
  const std::string wire =
      "*2\r\n$3\r\nfoo\r\n%1\r\n+k\r\n*2\r\n:1\r\n$-1\r\n"
      "+OK\r\n"
      "$4\r\nab\r\n\r\n";
  ReplyParser p;
  std::vector<Reply> got;
  for (char c : wire) {
    p.Feed(std::string_view(&c, 1));
    Reply r;
    State s;
    while ((s = p.Next(&r)) == State::kReply) got.push_back(r);
    ASSERT_EQ(s, State::kIncomplete) << p.error();
  }
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].ToString(), "[\"foo\", {k: [(integer) 1, (nil)]}]");
  EXPECT_EQ(got[0].elements[1].elements[1].elements[0].integer, 1);
  EXPECT_TRUE(got[1].IsStatus("OK"));
  EXPECT_EQ(got[2].str, "ab\r\n");
  EXPECT_EQ(p.buffered(), 0u);
}

TEST(ReplyParserTest, PrepareWriteCommit) {
  ReplyParser p;
  size_t cap = 0;
  char* dst = p.PrepareWrite(5, &cap);
  ASSERT_GE(cap, 5u);
  std::memcpy(dst, ":12\r\n", 5);
  p.Commit(5);
  Reply r;
  ASSERT_EQ(p.Next(&r), State::kReply);
  EXPECT_EQ(r.integer, 12);
}

TEST(ReplyParserTest, MalformedInputIsAnErrorAndSticky) {
  const char* bad[] = {
      "?x\r\n",           // unknown type
      ":12a\r\n",         // bad integer
      ":\r\n",            // empty integer
      ":99999999999999999999\r\n",  // overflow
      "$-2\r\n",          // bad length
      "$3\r\nabcd\r\n",   // payload longer than declared
      "$x\r\n",           // non-numeric length
      "*-5\r\n",          // bad count
      "%-1\r\n",          // null map
      "!-1\r\n",          // null error
      "#x\r\n",           // bad boolean
      "_x\r\n",           // bad null
      "=3\r\nabc\r\n",    // verbatim without format
      "(12x\r\n",         // bad big number
      "+OK\rX",           // CR without LF
      "$?\r\n",           // streamed string
      "*?\r\n",           // streamed aggregate
  };
  for (const char* wire : bad) {
    ReplyParser p;
    p.Feed(wire);
    Reply r;
    EXPECT_EQ(p.Next(&r), State::kError) << wire;
    EXPECT_FALSE(p.error().empty());
    p.Feed("+OK\r\n");
    EXPECT_EQ(p.Next(&r), State::kError) << "error must be sticky: " << wire;
  }
}

TEST(ReplyParserTest, HugeDeclaredBulkAllocatesOnlyWhatArrives) {
  ReplyParser p;
  p.Feed("$536870912\r\nabc");
  Reply r;
  EXPECT_EQ(p.Next(&r), State::kIncomplete);
  EXPECT_LT(p.buffered(), 64u);
  EXPECT_EQ(ParseState("$536870913\r\n"), State::kError);  // over the 512 MiB limit
}

TEST(ReplyParserTest, HugeDeclaredArrayAllocatesOnlyWhatArrives) {
  ReplyParser p;
  p.Feed("*4294967296\r\n:1\r\n:2\r\n");
  Reply r;
  EXPECT_EQ(p.Next(&r), State::kIncomplete);
  EXPECT_EQ(ParseState("*4294967297\r\n"), State::kError);
}

TEST(ReplyParserTest, LimitsAreEnforced) {
  ReplyParser::Limits limits;
  limits.max_depth = 3;
  limits.max_line_bytes = 8;
  limits.max_bulk_bytes = 4;
  {
    ReplyParser p(limits);
    p.Feed("*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n");
    Reply r;
    EXPECT_EQ(p.Next(&r), State::kError);
  }
  {
    ReplyParser p(limits);
    p.Feed("+0123456789");  // no CRLF yet, already over the line limit
    Reply r;
    EXPECT_EQ(p.Next(&r), State::kError);
  }
  {
    ReplyParser p(limits);
    p.Feed("$5\r\n");
    Reply r;
    EXPECT_EQ(p.Next(&r), State::kError);
  }
}

// Random and mutated inputs: the parser must return, never crash or overrun (run under ASan
// in `make asan-test`), and never buffer more than it was given.
TEST(ReplyParserTest, RandomInputNeverCrashes) {
  std::mt19937 rng(12345);
  const std::string seeds[] = {"*2\r\n$3\r\nfoo\r\n:1\r\n", "%1\r\n+a\r\n|1\r\n+b\r\n_\r\n",
                               "=8\r\ntxt:abcd\r\n", "!3\r\nERR\r\n", ",1.5\r\n#t\r\n"};
  const char alphabet[] = "*$%~>|!=+-:_,#(\r\n0123456789-?xt";
  for (int iter = 0; iter < 20000; ++iter) {
    std::string wire = seeds[iter % 5];
    int edits = 1 + rng() % 4;
    for (int e = 0; e < edits; ++e) {
      size_t at = rng() % (wire.size() + 1);
      char c = alphabet[rng() % (sizeof(alphabet) - 1)];
      if (rng() % 2 && at < wire.size()) {
        wire[at] = c;
      } else {
        wire.insert(wire.begin() + at, c);
      }
    }
    ReplyParser p;
    size_t fed = 0;
    while (fed < wire.size()) {
      size_t n = 1 + rng() % 5;
      n = std::min(n, wire.size() - fed);
      p.Feed(std::string_view(wire).substr(fed, n));
      fed += n;
      Reply r;
      State s;
      while ((s = p.Next(&r)) == State::kReply) {
      }
      ASSERT_LE(p.buffered(), fed);
      if (s == State::kError) break;
    }
  }
}

}  // namespace
}  // namespace flin::protocol

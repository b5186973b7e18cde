#include "protocol/request_parser.h"

#include <gtest/gtest.h>

#include <random>

namespace flin::protocol {
namespace {

using R = RequestParser::Result;

std::vector<std::string> ParseAll(std::string_view in, R expect = R::kOk) {
  RequestParser p;
  size_t consumed = 0;
  EXPECT_EQ(p.Parse(in, true, &consumed), expect) << p.error();
  return {p.args().begin(), p.args().end()};
}

TEST(RequestParserTest, Multibulk) {
  auto args = ParseAll("*3\r\n$3\r\nSET\r\n$1\r\na\r\n$0\r\n\r\n");
  ASSERT_EQ(args.size(), 3u);
  EXPECT_EQ(args[0], "SET");
  EXPECT_EQ(args[1], "a");
  EXPECT_EQ(args[2], "");
}

TEST(RequestParserTest, BinarySafeArguments) {
  std::string v("a\0b\r\nc", 6);
  std::string req = "*2\r\n$3\r\nGET\r\n$6\r\n" + v + "\r\n";
  auto args = ParseAll(req);
  ASSERT_EQ(args.size(), 2u);
  EXPECT_EQ(args[1], v);
}

TEST(RequestParserTest, ResumesAcrossPartialReadsAtEveryByte) {
  std::string req = "*3\r\n$3\r\nSET\r\n$5\r\nhello\r\n$11\r\nhello world\r\n*1\r\n$4\r\nPING\r\n";
  RequestParser p;
  std::string buf;
  std::vector<std::vector<std::string>> got;
  for (char c : req) {
    buf.push_back(c);
    size_t consumed;
    R r = p.Parse(buf, true, &consumed);
    ASSERT_NE(r, R::kError) << p.error();
    if (r == R::kOk) {
      got.emplace_back(p.args().begin(), p.args().end());
      buf.erase(0, consumed);
    }
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0][2], "hello world");
  EXPECT_EQ(got[1][0], "PING");
  EXPECT_TRUE(buf.empty());
}

TEST(RequestParserTest, InlineCommandsWithQuotes) {
  auto args = ParseAll("SET \"a b\" 'c\\'d' \"\\x41\\n\"\r\n");
  ASSERT_EQ(args.size(), 4u);
  EXPECT_EQ(args[0], "SET");
  EXPECT_EQ(args[1], "a b");
  EXPECT_EQ(args[2], "c'd");
  EXPECT_EQ(args[3], "A\n");
  args = ParseAll("ECHO \"\\x41\\n\"\n");
  EXPECT_EQ(args[1], "A\n");
  EXPECT_TRUE(ParseAll("\r\n").empty());
}

TEST(RequestParserTest, ProtocolErrors) {
  struct Case { std::string in, err; };
  std::vector<Case> cases = {
      {"*2\r\n$3\r\nGET\r\n+a\r\n", "Protocol error: expected '$', got '+'"},
      {"*2\r\n$-3\r\nGET\r\n", "Protocol error: invalid bulk length"},
      {"*x\r\n", "Protocol error: invalid multibulk length"},
      {"*99999999999\r\n", "Protocol error: invalid multibulk length"},
      {"*1\r\n$999999999999\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$3\r\nGETXX", "Protocol error: expected CRLF after bulk data"},
      {"SET \"a b\r\n", "Protocol error: unbalanced quotes in request"},
      {"SET \"a\"b\r\n", "Protocol error: unbalanced quotes in request"},
  };
  for (const auto& c : cases) {
    RequestParser p;
    size_t consumed;
    EXPECT_EQ(p.Parse(c.in, true, &consumed), R::kError) << c.in;
    EXPECT_EQ(p.error(), c.err) << c.in;
  }
}

TEST(RequestParserTest, LimitsBoundMemory) {
  ParserLimits lim;
  lim.max_inline_bytes = 16;
  lim.max_bulk_bytes = 10;
  lim.max_args = 3;
  RequestParser p(lim);
  size_t consumed;
  EXPECT_EQ(p.Parse(std::string(17, 'a'), true, &consumed), R::kError);
  EXPECT_EQ(p.error(), "Protocol error: too big inline request");
  EXPECT_EQ(p.Parse("*4\r\n", true, &consumed), R::kError);
  EXPECT_EQ(p.Parse("*1\r\n$11\r\n", true, &consumed), R::kError);
  EXPECT_EQ(p.Parse("*1\r\n$10\r\n", true, &consumed), R::kNeedMore);
}

TEST(RequestParserTest, UnauthenticatedLimits) {
  RequestParser p;
  size_t consumed;
  EXPECT_EQ(p.Parse("*11\r\n", false, &consumed), R::kError);
  EXPECT_EQ(p.error(), "Protocol error: unauthenticated multibulk length");
  EXPECT_EQ(p.Parse("*1\r\n$16385\r\n", false, &consumed), R::kError);
  EXPECT_EQ(p.error(), "Protocol error: unauthenticated bulk length");
}

TEST(RequestParserTest, EmptyMultibulkIsSkipped) {
  RequestParser p;
  size_t consumed;
  EXPECT_EQ(p.Parse("*0\r\n*-1\r\n", true, &consumed), R::kOk);
  EXPECT_EQ(consumed, 4u);
  EXPECT_TRUE(p.args().empty());
}

// Random bytes must never crash the parser, and every kOk must consume something.
TEST(RequestParserTest, RandomInputNeverCrashes) {
  std::mt19937 rng(42);
  const char alphabet[] = "*$\r\n0123456789-abc \"'\\x";
  for (int iter = 0; iter < 20000; ++iter) {
    std::string in;
    int n = rng() % 40;
    for (int i = 0; i < n; ++i) in.push_back(alphabet[rng() % (sizeof(alphabet) - 1)]);
    RequestParser p;
    size_t consumed = 0;
    std::string_view rest = in;
    for (int guard = 0; guard < 100 && !rest.empty(); ++guard) {
      R r = p.Parse(rest, true, &consumed);
      if (r != R::kOk) break;
      ASSERT_GT(consumed, 0u);
      ASSERT_LE(consumed, rest.size());
      rest.remove_prefix(consumed);
    }
  }
}

}  // namespace
}  // namespace flin::protocol

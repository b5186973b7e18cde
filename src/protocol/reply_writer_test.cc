#include "protocol/reply_writer.h"

#include <gtest/gtest.h>

namespace flin::protocol {

TEST(ReplyWriterTest, Resp2) {
  std::string out;
  ReplyWriter w(&out, 2);
  w.Ok();
  w.Error("ERR bad\r\nthing");
  w.Integer(-5);
  w.Bulk("ab");
  w.Null();
  w.MapHeader(1);
  w.Double(1.5);
  w.Bool(true);
  w.PushHeader(3);
  EXPECT_EQ(out, "+OK\r\n-ERR bad  thing\r\n:-5\r\n$2\r\nab\r\n$-1\r\n*2\r\n$3\r\n1.5\r\n:1\r\n*3\r\n");
}

TEST(ReplyWriterTest, Resp3) {
  std::string out;
  ReplyWriter w(&out, 3);
  w.Null();
  w.MapHeader(2);
  w.Double(2);
  w.Bool(false);
  w.Verbatim("hi");
  w.PushHeader(4);
  EXPECT_EQ(out, "_\r\n%2\r\n,2\r\n#f\r\n=6\r\ntxt:hi\r\n>4\r\n");
}

TEST(ReplyWriterTest, FormatsLikeRedisIncrByFloat) {
  EXPECT_EQ(FormatLongDouble(10.5L), "10.5");
  EXPECT_EQ(FormatLongDouble(5000.0L), "5000");
  EXPECT_EQ(FormatLongDouble(10.1L), "10.1");
  EXPECT_EQ(FormatLongDouble(-0.0L), "0");
}

}  // namespace flin::protocol

// Keyspace helpers shared by the command families.

#include "server/keyspace.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace flin::server {
namespace {

TEST(ExpireToAbsoluteTest, ConvertsAndRejectsOverflow) {
  int64_t out = 0;
  EXPECT_TRUE(ExpireToAbsolute(10, true, true, 1000, &out));
  EXPECT_EQ(out, 11000);
  EXPECT_TRUE(ExpireToAbsolute(-5, false, true, 1000, &out));
  EXPECT_EQ(out, 995);
  EXPECT_TRUE(ExpireToAbsolute(INT64_MAX / 1000, true, false, 0, &out));
  EXPECT_FALSE(ExpireToAbsolute(INT64_MAX / 1000 + 1, true, false, 0, &out));
  EXPECT_FALSE(ExpireToAbsolute(INT64_MIN / 1000 - 1, true, false, 0, &out));
  EXPECT_FALSE(ExpireToAbsolute(INT64_MAX, false, true, 1, &out));
}

// Found by command_fuzz: an entry timestamp (a log entry's, so possibly damaged) at or below
// zero made the overflow check itself overflow (INT64_MAX - now_ms), and a negative amount
// plus a very negative timestamp overflowed unchecked.
TEST(ExpireToAbsoluteTest, NegativeTimestampsDoNotOverflow) {
  int64_t out = 0;
  EXPECT_TRUE(ExpireToAbsolute(5, false, true, -1, &out));
  EXPECT_EQ(out, 4);
  EXPECT_TRUE(ExpireToAbsolute(INT64_MAX, false, true, -1, &out));
  EXPECT_EQ(out, INT64_MAX - 1);
  EXPECT_FALSE(ExpireToAbsolute(-1000, false, true, INT64_MIN, &out));
  EXPECT_FALSE(ExpireToAbsolute(-1, true, true, INT64_MIN + 999, &out));
  EXPECT_TRUE(ExpireToAbsolute(-1, true, true, INT64_MIN + 1000, &out));
  EXPECT_EQ(out, INT64_MIN);
}

}  // namespace
}  // namespace flin::server

// WarningLimiter: once per interval, with the count of what was held back.

#include "common/warning_limiter.h"

#include <gtest/gtest.h>

namespace flin {
namespace {

TEST(WarningLimiterTest, FirstPassesThenOncePerIntervalWithTheCountHeldBack) {
  WarningLimiter limiter(1000);
  uint64_t held = 99;
  EXPECT_TRUE(limiter.Allow(5000, &held));
  EXPECT_EQ(held, 0u);
  for (int64_t t = 5001; t < 6000; t += 100) EXPECT_FALSE(limiter.Allow(t, &held)) << t;
  EXPECT_TRUE(limiter.Allow(6000, &held));
  EXPECT_EQ(held, 10u);
  EXPECT_FALSE(limiter.Allow(6999, &held));
  EXPECT_TRUE(limiter.Allow(9000, &held));  // a long quiet spell: logged at once
  EXPECT_EQ(held, 1u);
}

TEST(WarningLimiterTest, TheFirstOccurrenceAtTimeZeroIsLogged) {
  WarningLimiter limiter(60000);
  uint64_t held = 0;
  EXPECT_TRUE(limiter.Allow(0, &held));
  EXPECT_FALSE(limiter.Allow(1, &held));
}

}  // namespace
}  // namespace flin

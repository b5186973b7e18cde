#include "common/byte_budget.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace flin {

TEST(ByteBudgetTest, ReservesUpToTheLimitAndReleasesOnDestruction) {
  ByteBudget b;
  ByteBudget::Reservation r1, r2, r3;
  ASSERT_TRUE(b.TryReserve(60, 100, &r1));
  ASSERT_TRUE(b.TryReserve(40, 100, &r2));  // exactly at the limit
  EXPECT_EQ(b.used(), 100u);
  EXPECT_FALSE(b.TryReserve(1, 100, &r3));
  EXPECT_EQ(r3.bytes(), 0u);
  EXPECT_EQ(b.refusals(), 1u);
  {
    ByteBudget::Reservation moved = std::move(r1);
    EXPECT_EQ(r1.bytes(), 0u);
    EXPECT_EQ(b.used(), 100u);  // a move keeps the bytes reserved
  }
  EXPECT_EQ(b.used(), 40u);  // the moved-to reservation released them
  ASSERT_TRUE(b.TryReserve(60, 100, &r3));
  r2.Release();
  r2.Release();  // idempotent
  EXPECT_EQ(b.used(), 60u);
  r3 = ByteBudget::Reservation();  // assignment releases what it held
  EXPECT_EQ(b.used(), 0u);
  EXPECT_EQ(b.peak(), 100u);
}

TEST(ByteBudgetTest, ARequestLargerThanTheLimitGoesAlone) {
  ByteBudget b;
  ByteBudget::Reservation big, small;
  ASSERT_TRUE(b.TryReserve(500, 100, &big));  // nothing else held: granted
  EXPECT_FALSE(b.TryReserve(1, 100, &small));  // over the limit while it is held
  big.Release();
  EXPECT_TRUE(b.TryReserve(1, 100, &small));
}

TEST(ByteBudgetTest, ReservingAgainIntoAReservationReplacesIt) {
  ByteBudget b;
  ByteBudget::Reservation r;
  ASSERT_TRUE(b.TryReserve(70, 100, &r));
  ASSERT_TRUE(b.TryReserve(80, 100, &r));  // the 70 were given back first
  EXPECT_EQ(b.used(), 80u);
}

TEST(ByteBudgetTest, RacingThreadsNeverHoldMoreThanTheLimit) {
  ByteBudget b;
  constexpr size_t kLimit = 1000;
  std::atomic<bool> over{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<ByteBudget::Reservation> held(8);
      for (int i = 0; i < 20000; ++i) {
        auto& r = held[(i * 7 + t) % held.size()];
        r.Release();
        b.TryReserve(1 + (i * 37 + t) % 200, kLimit, &r);
        if (b.used() > kLimit) over = true;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_FALSE(over.load());
  EXPECT_LE(b.peak(), kLimit);
  EXPECT_EQ(b.used(), 0u);  // every reservation was destroyed
  EXPECT_GT(b.refusals(), 0u);
}

}  // namespace flin

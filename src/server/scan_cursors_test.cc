#include "server/scan_cursors.h"

#include <gtest/gtest.h>

#include "storage/encoding.h"

namespace flin::server {
namespace {

constexpr int kPartitions = 64;

std::string KeyOf(int partition, const std::string& user_key) {
  return storage::PartitionPrefix(partition) + user_key;
}

TEST(ScanCursorsTest, ACursorResumesWhereItsScanStopped) {
  ScanCursors c;
  const uint64_t a = c.Save(3, KeyOf(3, "apple"));
  const uint64_t b = c.Save(60, KeyOf(60, "berry"));
  EXPECT_NE(a, 0u);
  EXPECT_NE(a, b);
  EXPECT_EQ(c.Load(a, kPartitions), KeyOf(3, "apple"));
  EXPECT_EQ(c.Load(b, kPartitions), KeyOf(60, "berry"));
  EXPECT_EQ(c.Load(a, kPartitions), KeyOf(3, "apple"));  // a cursor may be used again
  // Exact for clients that read numbers as doubles.
  EXPECT_LT(c.Save(16383, KeyOf(16383, "k")), uint64_t{1} << 53);
}

TEST(ScanCursorsTest, APushedOutCursorResumesAtItsPartitionsStart) {
  ScanCursors c;
  const uint64_t old = c.Save(7, KeyOf(7, "middle"));
  for (size_t i = 0; i < ScanCursors::kMax; ++i) c.Save(1, KeyOf(1, "x"));
  EXPECT_EQ(c.Load(old, kPartitions), storage::PartitionPrefix(7));
  // One this server never gave (another server's, or a number made up): a partition's start
  // if it names one, else the beginning.
  ScanCursors fresh;
  EXPECT_EQ(fresh.Load(old, kPartitions), storage::PartitionPrefix(7));
  EXPECT_EQ(fresh.Load(12345, kPartitions), "");
  EXPECT_EQ(fresh.Load(UINT64_MAX, kPartitions), "");
  EXPECT_EQ(fresh.Load(uint64_t{65} << ScanCursors::kSeqBits, kPartitions), "");  // no 64
}

TEST(ScanCursorsTest, TheKeysHeldAreBoundedInBytes) {
  ScanCursors c;
  const std::string big(8 << 20, 'k');
  std::vector<uint64_t> cursors;
  for (int i = 0; i < 40; ++i) cursors.push_back(c.Save(2, KeyOf(2, big + std::to_string(i))));
  // At most kMaxBytes besides the newest: the oldest went first.
  const size_t kept = ScanCursors::kMaxBytes / KeyOf(2, big + "10").size();
  for (int i = 0; i < 40; ++i) {
    const std::string got = c.Load(cursors[i], kPartitions);
    if (i < 40 - static_cast<int>(kept)) {
      EXPECT_EQ(got, storage::PartitionPrefix(2)) << i;
    } else {
      EXPECT_EQ(got, KeyOf(2, big + std::to_string(i))) << i;
    }
  }
  // The newest is kept even if it alone is over the bound.
  const std::string huge(ScanCursors::kMaxBytes + 1, 'h');
  const uint64_t h = c.Save(2, KeyOf(2, huge));
  EXPECT_EQ(c.Load(h, kPartitions), KeyOf(2, huge));
  EXPECT_EQ(c.Load(cursors.back(), kPartitions), storage::PartitionPrefix(2));
}

}  // namespace
}  // namespace flin::server

#pragma once
// Key → slot → partition, with Redis Cluster's semantics: slot = CRC16(key) mod 16384, where
// only the part inside the first non-empty {...} is hashed if there is one. With P partitions,
// partition p owns the contiguous slots [p*16384/P, (p+1)*16384/P).
// Pure functions, thread-safe.

#include <cstdint>
#include <string_view>

namespace flin {

inline constexpr int kSlots = 16384;
inline constexpr int kDefaultPartitions = 64;

uint16_t Crc16(std::string_view data);
int KeySlot(std::string_view key);
inline int SlotPartition(int slot, int partitions) {
  return static_cast<int>(static_cast<int64_t>(slot) * partitions / kSlots);
}
// First slot owned by partition p (the range ends where p+1's begins).
inline int PartitionFirstSlot(int p, int partitions) {
  return static_cast<int>((static_cast<int64_t>(p) * kSlots + partitions - 1) / partitions);
}
inline int KeyPartition(std::string_view key, int partitions) {
  return SlotPartition(KeySlot(key), partitions);
}

}  // namespace flin

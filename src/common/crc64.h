#pragma once
// CRC-64 as Redis computes it for DUMP payloads and RDB files: the "Jones" polynomial
// 0xad93d23594c935a9, reflected input and output, initial value 0, no final xor
// (check value: Crc64(0, "123456789") == 0xe9c6d914c4b8d9ca). Table-driven, eight bytes a
// step (slicing by 8).
// Pure functions, thread-safe.

#include <cstdint>
#include <string_view>

namespace flin {

// Continues `crc` (0 to start) over `data`: Crc64(Crc64(0, a), b) == Crc64(0, a + b).
uint64_t Crc64(uint64_t crc, std::string_view data);

}  // namespace flin

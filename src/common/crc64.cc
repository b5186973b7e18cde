#include "common/crc64.h"

#include <array>
#include <bit>
#include <cstring>

namespace flin {
namespace {

// The polynomial's bits reversed: a reflected CRC shifts right.
constexpr uint64_t kReflectedPoly = 0x95ac9329ac4bc9b5ULL;

// Slicing by 8: kTables[0] advances the CRC by one byte; kTables[k] by a byte followed by k
// zero bytes, so eight lookups advance it by eight bytes at once (RESTORE checks payloads of
// up to max-value-bytes, on the I/O thread and again on apply: a byte at a time ran at
// 370 MB/s, this at 1.2 GB/s).
using Tables = std::array<std::array<uint64_t, 256>, 8>;

constexpr Tables MakeTables() {
  Tables t{};
  for (uint64_t i = 0; i < 256; ++i) {
    uint64_t c = i;
    for (int bit = 0; bit < 8; ++bit) c = (c & 1) ? (c >> 1) ^ kReflectedPoly : c >> 1;
    t[0][i] = c;
  }
  for (size_t k = 1; k < 8; ++k) {
    for (size_t i = 0; i < 256; ++i) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xff];
  }
  return t;
}

constexpr Tables kTables = MakeTables();

}  // namespace

uint64_t Crc64(uint64_t crc, std::string_view data) {
  const char* p = data.data();
  size_t n = data.size();
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
    crc ^= v;
    crc = kTables[7][crc & 0xff] ^ kTables[6][(crc >> 8) & 0xff] ^ kTables[5][(crc >> 16) & 0xff] ^
          kTables[4][(crc >> 24) & 0xff] ^ kTables[3][(crc >> 32) & 0xff] ^
          kTables[2][(crc >> 40) & 0xff] ^ kTables[1][(crc >> 48) & 0xff] ^ kTables[0][crc >> 56];
  }
  for (; n > 0; ++p, --n) crc = kTables[0][(crc ^ static_cast<uint8_t>(*p)) & 0xff] ^ (crc >> 8);
  return crc;
}

}  // namespace flin

#include "common/crc64.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace flin {

TEST(Crc64Test, RedisCheckValue) {
  // Redis's own test (src/crc64.c): crc64(0, "123456789", 9).
  EXPECT_EQ(Crc64(0, "123456789"), 0xe9c6d914c4b8d9caULL);
  EXPECT_EQ(Crc64(0, ""), 0u);
}

TEST(Crc64Test, MatchesTheFooterOfARedisDumpPayload) {
  // redis-server 7.0.15: DUMP of "hello" is 00 05 "hello" 0a 00 <crc64 LE>, the CRC over
  // the 9 bytes before it.
  const std::string dump(
      "\x00\x05hello\x0a\x00"
      "cr\xdf"
      "ve4 \n",
      17);
  uint64_t stored = 0;
  for (int i = 0; i < 8; ++i)
    stored |= uint64_t{static_cast<unsigned char>(dump[9 + i])} << (8 * i);
  EXPECT_EQ(Crc64(0, std::string_view(dump).substr(0, 9)), stored);
  EXPECT_EQ(stored, 0x0a20346576df7263ULL);
}

TEST(Crc64Test, ContinuesAcrossPieces) {
  const std::string s = "The quick brown fox jumps over the lazy dog";
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    EXPECT_EQ(Crc64(Crc64(0, s.substr(0, cut)), s.substr(cut)), Crc64(0, s)) << cut;
  }
}

}  // namespace flin

namespace flin {

// The definition, a bit at a time: the oracle for the sliced tables, at every length and
// alignment around the 8-byte steps.
uint64_t BitwiseCrc64(uint64_t crc, std::string_view data) {
  for (unsigned char b : data) {
    crc ^= b;
    for (int bit = 0; bit < 8; ++bit)
      crc = (crc & 1) ? (crc >> 1) ^ 0x95ac9329ac4bc9b5ULL : crc >> 1;
  }
  return crc;
}

TEST(Crc64Test, MatchesTheBitwiseDefinition) {
  std::mt19937_64 rng(3);
  std::string buf(300, '\0');
  for (char& c : buf) c = static_cast<char>(rng());
  for (size_t start = 0; start < 9; ++start) {
    for (size_t len = 0; start + len <= buf.size(); ++len) {
      const std::string_view s = std::string_view(buf).substr(start, len);
      ASSERT_EQ(Crc64(0, s), BitwiseCrc64(0, s)) << start << " " << len;
      ASSERT_EQ(Crc64(12345, s), BitwiseCrc64(12345, s)) << start << " " << len;
    }
  }
}

}  // namespace flin

// Review of the hash RESTORE path (dump_payload.cc): what a malformed or hostile payload
// may make LoadDumpPayload allocate before it refuses it.
//
// dump_payload.h promises: "Nothing is allocated before it is known to fit: ... one beyond
// the caller's limit is refused before any decompression". For a string that holds. For a
// RDB_TYPE_HASH (4), each element is checked against `max_bytes` on its own, but every
// element is decoded (and kept) before the hash's total is compared with the limit, so a
// small payload of many LZF elements expands to (element count) x (max_bytes) in memory. The
// I/O thread's RestoreCheck and every replica's RestoreApply decode it whole.

#include <lzf.h>
#include <sys/resource.h>

#include <gtest/gtest.h>

#include <string>

#include "common/crc64.h"
#include "server/dump_payload.h"

namespace flin::server {
namespace {

std::string WithFooter(std::string body) {
  body.push_back(static_cast<char>(kDumpRdbVersion & 0xff));
  body.push_back(static_cast<char>(kDumpRdbVersion >> 8));
  const uint64_t crc = Crc64(0, body);
  for (int i = 0; i < 8; ++i) body.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
  return body;
}

void PutLen(uint64_t len, std::string* out) {
  if (len < 64) {
    out->push_back(static_cast<char>(len));
  } else if (len < 16384) {
    out->push_back(static_cast<char>(0x40 | (len >> 8)));
    out->push_back(static_cast<char>(len & 0xff));
  } else {
    out->push_back(static_cast<char>(0x80));
    for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(len >> shift));
  }
}

long MaxRssKb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

// A hash of `fields` fields, each value `value_bytes` zeros LZF-compressed (~1% of its size).
std::string LzfBombHash(size_t fields, size_t value_bytes) {
  const std::string zeros(value_bytes, '\0');
  std::string lzf(value_bytes, '\0');
  const unsigned n = lzf_compress(zeros.data(), static_cast<unsigned>(zeros.size()), lzf.data(),
                                  static_cast<unsigned>(value_bytes - 4));
  EXPECT_GT(n, 0u);
  lzf.resize(n);
  std::string body(1, '\x04');  // RDB_TYPE_HASH
  PutLen(fields, &body);
  for (size_t i = 0; i < fields; ++i) {
    const std::string field = "f" + std::to_string(i);
    PutLen(field.size(), &body);
    body += field;
    body.push_back(static_cast<char>(0xC3));  // LZF string
    PutLen(n, &body);
    PutLen(value_bytes, &body);
    body += lzf;
  }
  return WithFooter(body);
}

// 128 values of 1 MiB each (each within a 1 MiB limit; together 128 times it) from a
// payload of ~1.5 MB. The answer is right (too large), but only after 128 MiB were decoded.
TEST(DumpPayloadReviewTest, HashOfLzfValuesIsRefusedBeforeDecodingPastTheLimit) {
  constexpr size_t kValue = 1 << 20, kFields = 128;
  const std::string payload = LzfBombHash(kFields, kValue);
  ASSERT_LT(payload.size(), 4u << 20);
  const long before = MaxRssKb();
  const LoadedPayload p = LoadDumpPayload(payload, /*max_bytes=*/kValue, nullptr);
  const long grew_mb = (MaxRssKb() - before) / 1024;
  EXPECT_EQ(p.fault, PayloadFault::kTooLarge);
  // The limit is 1 MiB: decoding a few times that would be fair; 128 MiB is not.
  EXPECT_LT(grew_mb, 32) << "a " << payload.size() / 1024 << " KiB RESTORE payload made the "
                         << "check allocate " << grew_mb << " MiB with max_bytes = 1 MiB";
}

}  // namespace
}  // namespace flin::server

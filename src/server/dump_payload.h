#pragma once
// DUMP/RESTORE payloads of strings, byte-compatible with Redis 7.0 both ways.
//
// A payload is one RDB object and a footer:
//   <type: 1 byte, 0 = string> <the string> <RDB version: u16 LE> <CRC64 of all before: u64 LE>
// and a string is written as Redis's rdbSaveRawString writes it: a canonical integer of at
// most 11 characters that fits 32 bits as int8/16/32 (a byte 0xC0-0xC2, then the integer LE);
// a string over 20 bytes LZF-compressed (0xC3, compressed length, length, LZF data) when that
// saves more than 4 bytes; otherwise its RDB length (6, 14, 32 or 64 bits) and its bytes.
// LZF (Debian's liblzf, the algorithm Redis bundles) may compress the same input differently
// from Redis's copy, so a DUMP may differ from Redis's in those bytes; each side RESTOREs the
// other's.
//
// Reading follows Redis 7.0's RESTORE: the footer first (version <= 10, CRC64), then the
// object read from the start of the whole payload, footer included, as Redis's buffer reader
// does (a string that runs into the footer is read from it, one past the end is bad data),
// and bytes left after the string are ignored. Nothing is allocated before it is known to
// fit: a declared length past the payload is bad data, one beyond the caller's limit is
// refused before any decompression, and LZF data must expand to exactly the declared length.
//
// Pure functions; thread-safe.

#include <cstdint>
#include <string>
#include <string_view>

namespace flin::server {

// The RDB version Redis 7.0 writes (RDB_VERSION), and the newest RESTORE accepts.
inline constexpr uint16_t kDumpRdbVersion = 10;

// DUMP's payload for a string value.
std::string DumpString(std::string_view value);

// Why a payload was not restored, in the order RESTORE checks.
enum class PayloadFault {
  kNone,
  kVersionOrChecksum,  // shorter than the footer, RDB version above 10, or a CRC mismatch
  kBadFormat,          // not an object Redis 7.0 could load
  kNotString,          // an object of another type (list, set, hash...): Flin has strings only
  kTooLarge,           // a string longer than the caller's limit
};

struct LoadedPayload {
  PayloadFault fault = PayloadFault::kNone;
  int type = -1;      // the object's RDB type byte, once read
  uint64_t size = 0;  // the string's length: as declared, and as decoded if it was
};

// Checks and reads a payload. With `value` null, stops once the string's declared size is
// known (the footer and the header checked, nothing decompressed); otherwise decodes the
// string into *value. A string longer than `max_bytes` is kTooLarge.
LoadedPayload LoadDumpPayload(std::string_view payload, uint64_t max_bytes, std::string* value);

// The data type an RDB object type byte stands for ("list", "zset"...), "" if none.
std::string_view RdbTypeName(int type);

}  // namespace flin::server

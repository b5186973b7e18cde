#pragma once
// DUMP/RESTORE payloads of strings, hashes, sets and lists, compatible with Redis 7.0 both ways.
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
// A hash is dumped as RDB_TYPE_HASH (4: its field count, then each field and value as a
// string above), which Redis 7.0 restores (into a listpack while the hash is small). RESTORE
// reads that and RDB_TYPE_HASH_LISTPACK (16: one string holding a listpack), what Redis 7.0
// dumps for a small hash; either becomes a hash payload (storage/hash_payload.h). A field
// twice, an odd listpack or a listpack that is malformed anywhere is bad data.
//
// A set is dumped as Redis 7.0 dumps it: RDB_TYPE_SET_INTSET (11: one string holding an
// intset, its integers ascending) while it is one, else RDB_TYPE_SET (2: its member count,
// then each member as a string). RESTORE reads both; a member twice, or an intset not
// strictly ascending, is bad data.
//
// A list is dumped as Redis 7.0 dumps it, RDB_TYPE_LIST_QUICKLIST_2 (18: nodes, each one
// plain element or a listpack of them). RESTORE reads that, RDB_TYPE_LIST (1: a count and
// strings), and what Redis 3.2 to 6.2 dumped: a ziplist (10) or a quicklist of ziplists (14)
// for a list, a ziplist (13) for a small hash. A list is encoded as it is read (its decoding
// takes the payload's size); a hash's or set's elements are kept apart while they are read,
// each counting 64 bytes against a budget of 4x the limit, so that a payload of many tiny
// elements cannot take many times the limit in memory.
//
// Pure functions; thread-safe.

#include <cstdint>
#include <string>
#include <string_view>

#include "storage/encoding.h"

namespace flin::server {

// The RDB version Redis 7.0 writes (RDB_VERSION), and the newest RESTORE accepts.
inline constexpr uint16_t kDumpRdbVersion = 10;

// DUMP's payload for a string value.
std::string DumpString(std::string_view value);
// DUMP's payload for a hash, given its storage payload (storage/hash_payload.h); "" if that
// is malformed.
std::string DumpHash(std::string_view hash_payload);
// The same for a set, and for a list.
std::string DumpSet(std::string_view set_payload);
std::string DumpList(std::string_view list_payload);

// Why a payload was not restored, in the order RESTORE checks.
enum class PayloadFault {
  kNone,
  kVersionOrChecksum,  // shorter than the footer, RDB version above 10, or a CRC mismatch
  kBadFormat,          // not an object Redis 7.0 could load
  kNotString,          // an object of a type Flin does not have (zset, stream, module)
  kTooLarge,           // a string (a hash's payload) longer than the caller's limit
};

struct LoadedPayload {
  PayloadFault fault = PayloadFault::kNone;
  int type = -1;      // the object's RDB type byte, once read
  uint64_t size = 0;  // the string's length: as declared, and as decoded if it was
  // A string, or a hash or set whose storage payload *value is.
  storage::ValueType value_type = storage::ValueType::kString;
};

// Checks and reads a payload. With `value` null, stops once a string's declared size is
// known (the footer and the header checked, nothing decompressed); otherwise decodes the
// string into *value. A string longer than `max_bytes` is kTooLarge. A hash is decoded
// whole either way, and is kTooLarge if its storage payload passes `max_bytes`.
LoadedPayload LoadDumpPayload(std::string_view payload, uint64_t max_bytes, std::string* value);

// The data type an RDB object type byte stands for ("list", "zset"...), "" if none.
std::string_view RdbTypeName(int type);

}  // namespace flin::server

#pragma once
// How Flin lays out its data in RocksDB. Pure functions; thread-safe.
//
// Keys:   'd' | partition (u16 big-endian) | user key      — data, so that one partition is one
//                                                            contiguous range (snapshot, move)
//         'm' | name                                       — node metadata
// Values: type (u8) | flags (u8) | [expire-at ms (i64 LE) if flags & kHasExpiry] | payload
//
// A value whose expire-at is <= the caller's clock is logically absent. Expiry times are
// absolute Unix milliseconds.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace flin::storage {

inline constexpr char kDataPrefix = 'd';
inline constexpr char kMetaPrefix = 'm';

// kHash's and kSet's payloads: storage/hash_payload.h; kList's: storage/list_payload.h.
enum class ValueType : uint8_t { kString = 0, kHash = 1, kSet = 2, kList = 3 };
inline constexpr uint8_t kHasExpiry = 1;

// Appends the storage key of `user_key` in `partition` to *out (after clearing it).
void EncodeDataKey(int partition, std::string_view user_key, std::string* out);
// The prefix shared by every key of `partition` ("d" + u16).
std::string PartitionPrefix(int partition);
// Splits a storage key; false if it is not a data key.
bool DecodeDataKey(std::string_view storage_key, int* partition, std::string_view* user_key);

struct ValueView {
  ValueType type = ValueType::kString;
  int64_t expire_at_ms = 0;  // 0: no expiry
  std::string_view payload;
  bool Expired(int64_t now_ms) const { return expire_at_ms != 0 && expire_at_ms <= now_ms; }
};

void EncodeValue(ValueType type, int64_t expire_at_ms, std::string_view payload, std::string* out);
// Returns nullopt if `raw` is not a well-formed value (corruption).
std::optional<ValueView> DecodeValue(std::string_view raw);

}  // namespace flin::storage

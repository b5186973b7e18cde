#include "storage/encoding.h"

#include <cstring>

namespace flin::storage {

void EncodeDataKey(int partition, std::string_view user_key, std::string* out) {
  out->clear();
  out->reserve(3 + user_key.size());
  out->push_back(kDataPrefix);
  out->push_back(static_cast<char>((partition >> 8) & 0xff));
  out->push_back(static_cast<char>(partition & 0xff));
  out->append(user_key);
}

std::string PartitionPrefix(int partition) {
  std::string p;
  EncodeDataKey(partition, {}, &p);
  return p;
}

bool DecodeDataKey(std::string_view storage_key, int* partition, std::string_view* user_key) {
  if (storage_key.size() < 3 || storage_key[0] != kDataPrefix) return false;
  *partition = (static_cast<uint8_t>(storage_key[1]) << 8) | static_cast<uint8_t>(storage_key[2]);
  *user_key = storage_key.substr(3);
  return true;
}

void EncodeValue(ValueType type, int64_t expire_at_ms, std::string_view payload, std::string* out) {
  out->clear();
  out->reserve(10 + payload.size());
  out->push_back(static_cast<char>(type));
  out->push_back(static_cast<char>(expire_at_ms != 0 ? kHasExpiry : 0));
  if (expire_at_ms != 0) {
    uint64_t v = static_cast<uint64_t>(expire_at_ms);
    for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  out->append(payload);
}

std::optional<ValueView> DecodeValue(std::string_view raw) {
  if (raw.size() < 2 || static_cast<uint8_t>(raw[0]) > static_cast<uint8_t>(ValueType::kList)) {
    return std::nullopt;
  }
  ValueView v;
  v.type = static_cast<ValueType>(raw[0]);
  uint8_t flags = static_cast<uint8_t>(raw[1]);
  if (flags & ~kHasExpiry) return std::nullopt;
  size_t pos = 2;
  if (flags & kHasExpiry) {
    if (raw.size() < 10) return std::nullopt;
    uint64_t e = 0;
    for (int i = 0; i < 8; ++i) e |= static_cast<uint64_t>(static_cast<uint8_t>(raw[2 + i])) << (8 * i);
    v.expire_at_ms = static_cast<int64_t>(e);
    if (v.expire_at_ms == 0) return std::nullopt;
    pos = 10;
  }
  v.payload = raw.substr(pos);
  return v;
}

}  // namespace flin::storage

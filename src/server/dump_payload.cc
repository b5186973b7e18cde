#include "server/dump_payload.h"

#include <lzf.h>

#include <climits>
#include <memory>

#include "common/crc64.h"
#include "common/strings.h"

namespace flin::server {
namespace {

// RDB string encodings (Redis's rdb.h): the top two bits of a length's first byte say how
// long it is, and 0b11 means "an encoded string" with the encoding in the low six bits.
constexpr uint8_t kLen6Bit = 0, kLen14Bit = 1, kEncVal = 3;
constexpr uint8_t kLen32Bit = 0x80, kLen64Bit = 0x81;
constexpr uint8_t kEncInt8 = 0, kEncInt16 = 1, kEncInt32 = 2, kEncLzf = 3;
constexpr uint8_t kTypeString = 0;
constexpr size_t kFooterBytes = 10;  // version (2) + CRC64 (8)

void PutLen(uint64_t len, std::string* out) {
  if (len < (1 << 6)) {
    out->push_back(static_cast<char>(len | (kLen6Bit << 6)));
  } else if (len < (1 << 14)) {
    out->push_back(static_cast<char>((len >> 8) | (kLen14Bit << 6)));
    out->push_back(static_cast<char>(len & 0xff));
  } else {
    const bool wide = len > UINT32_MAX;
    out->push_back(static_cast<char>(wide ? kLen64Bit : kLen32Bit));
    for (int shift = wide ? 56 : 24; shift >= 0; shift -= 8) {  // big-endian
      out->push_back(static_cast<char>((len >> shift) & 0xff));
    }
  }
}

void PutLittleEndian(uint64_t v, int bytes, std::string* out) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// rdbTryIntegerEncoding: a canonical integer that fits 32 bits, in the fewest bytes.
bool PutIntegerEncoded(std::string_view value, std::string* out) {
  int64_t v;
  if (value.size() > 11 || !ParseInt64(value, &v)) return false;
  int bytes;
  uint8_t enc;
  if (v >= INT8_MIN && v <= INT8_MAX) {
    bytes = 1, enc = kEncInt8;
  } else if (v >= INT16_MIN && v <= INT16_MAX) {
    bytes = 2, enc = kEncInt16;
  } else if (v >= INT32_MIN && v <= INT32_MAX) {
    bytes = 4, enc = kEncInt32;
  } else {
    return false;
  }
  out->push_back(static_cast<char>((kEncVal << 6) | enc));
  PutLittleEndian(static_cast<uint64_t>(v), bytes, out);
  return true;
}

// rdbSaveLzfStringObject: only if the LZF data is at least 4 bytes shorter than the string
// (Redis gives lzf_compress a buffer of len - 4).
bool PutLzf(std::string_view value, std::string* out) {
  if (value.size() <= 20 || value.size() > UINT_MAX) return false;
  const auto room = static_cast<unsigned>(value.size() - 4);
  auto buf = std::make_unique_for_overwrite<char[]>(room);
  const unsigned n =
      lzf_compress(value.data(), static_cast<unsigned>(value.size()), buf.get(), room);
  if (n == 0) return false;
  out->push_back(static_cast<char>((kEncVal << 6) | kEncLzf));
  PutLen(n, out);
  PutLen(value.size(), out);
  out->append(buf.get(), n);
  return true;
}

// Reads the object part of a payload as Redis's rio buffer reader does: over the whole
// payload, footer included.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  size_t left() const { return in_.size() - pos_; }
  bool Bytes(size_t n, std::string_view* out) {
    if (n > left()) return false;
    *out = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool Byte(uint8_t* b) {
    std::string_view s;
    if (!Bytes(1, &s)) return false;
    *b = static_cast<uint8_t>(s[0]);
    return true;
  }
  // rdbLoadLenByRef. `encoded` null: an encoded-string marker reads as a length, as Redis's
  // rdbLoadLen(rdb, NULL) does for the lengths inside an LZF string.
  bool Len(uint64_t* len, bool* encoded) {
    uint8_t b;
    if (!Byte(&b)) return false;
    if (encoded) *encoded = false;
    switch (b >> 6) {
      case kLen6Bit:
        *len = b & 0x3f;
        return true;
      case kEncVal:
        if (encoded) *encoded = true;
        *len = b & 0x3f;
        return true;
      case kLen14Bit: {
        uint8_t lo;
        if (!Byte(&lo)) return false;
        *len = (uint64_t{b & 0x3fu} << 8) | lo;
        return true;
      }
    }
    const int bytes = b == kLen32Bit ? 4 : b == kLen64Bit ? 8 : 0;
    std::string_view s;
    if (bytes == 0 || !Bytes(bytes, &s)) return false;
    *len = 0;
    for (char c : s) *len = (*len << 8) | static_cast<uint8_t>(c);  // big-endian
    return true;
  }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

bool FooterOk(std::string_view payload) {
  if (payload.size() < kFooterBytes) return false;
  const std::string_view footer = payload.substr(payload.size() - kFooterBytes);
  const auto byte = [&](size_t i) { return uint64_t{static_cast<uint8_t>(footer[i])}; };
  if ((byte(0) | byte(1) << 8) > kDumpRdbVersion) return false;
  uint64_t stored = 0;
  for (int i = 0; i < 8; ++i) stored |= byte(2 + i) << (8 * i);
  return Crc64(0, payload.substr(0, payload.size() - 8)) == stored;
}

// The string after the type byte (rdbGenericLoadStringObject).
LoadedPayload LoadString(Reader& r, uint64_t max_bytes, std::string* value) {
  LoadedPayload out;
  out.type = kTypeString;
  const auto fail = [&](PayloadFault f) {
    out.fault = f;
    return out;
  };
  uint64_t len;
  bool encoded;
  if (!r.Len(&len, &encoded)) return fail(PayloadFault::kBadFormat);
  if (!encoded) {
    std::string_view bytes;
    if (!r.Bytes(len, &bytes)) return fail(PayloadFault::kBadFormat);
    out.size = len;
    if (len > max_bytes) return fail(PayloadFault::kTooLarge);
    if (value) value->assign(bytes);
    return out;
  }
  if (len == kEncInt8 || len == kEncInt16 || len == kEncInt32) {
    const size_t bytes = size_t{1} << len;
    std::string_view le;
    if (!r.Bytes(bytes, &le)) return fail(PayloadFault::kBadFormat);
    uint64_t u = 0;
    for (size_t i = 0; i < bytes; ++i) u |= uint64_t{static_cast<uint8_t>(le[i])} << (8 * i);
    const int shift = 64 - 8 * static_cast<int>(bytes);  // sign-extend from its width
    const std::string text = std::to_string(static_cast<int64_t>(u << shift) >> shift);
    out.size = text.size();
    if (out.size > max_bytes) return fail(PayloadFault::kTooLarge);
    if (value) *value = text;
    return out;
  }
  if (len != kEncLzf) return fail(PayloadFault::kBadFormat);
  uint64_t clen;
  std::string_view compressed;
  if (!r.Len(&clen, nullptr) || !r.Len(&out.size, nullptr) || !r.Bytes(clen, &compressed)) {
    return fail(PayloadFault::kBadFormat);
  }
  if (out.size > max_bytes) return fail(PayloadFault::kTooLarge);
  if (value == nullptr) return out;
  if (clen > UINT_MAX || out.size > UINT_MAX) return fail(PayloadFault::kBadFormat);
  value->resize(out.size);
  const unsigned n = lzf_decompress(compressed.data(), static_cast<unsigned>(clen), value->data(),
                                    static_cast<unsigned>(out.size));
  if (n != out.size) {
    value->clear();
    return fail(PayloadFault::kBadFormat);
  }
  return out;
}

}  // namespace

std::string DumpString(std::string_view value) {
  std::string out;
  out.reserve(value.size() + 24);
  out.push_back(static_cast<char>(kTypeString));
  if (!PutIntegerEncoded(value, &out) && !PutLzf(value, &out)) {
    PutLen(value.size(), &out);
    out.append(value);
  }
  PutLittleEndian(kDumpRdbVersion, 2, &out);
  PutLittleEndian(Crc64(0, out), 8, &out);
  return out;
}

LoadedPayload LoadDumpPayload(std::string_view payload, uint64_t max_bytes, std::string* value) {
  LoadedPayload out;
  if (!FooterOk(payload)) {
    out.fault = PayloadFault::kVersionOrChecksum;
    return out;
  }
  Reader r(payload);
  uint8_t type;
  if (!r.Byte(&type)) {
    out.fault = PayloadFault::kBadFormat;
    return out;
  }
  if (type == kTypeString) return LoadString(r, max_bytes, value);
  out.type = type;
  // With nothing before the footer the type is the version's first byte: version 0 reads as
  // a string (above), any other as no object at all (Redis fails to load it).
  const bool object = !RdbTypeName(type).empty() && payload.size() > kFooterBytes;
  out.fault = object ? PayloadFault::kNotString : PayloadFault::kBadFormat;
  return out;
}

std::string_view RdbTypeName(int type) {
  // Redis 7.0's object types (rdbIsObjectType: 0-7 and 9-19) by the data type they hold:
  // string, list, set, zset, hash, zset 2, module, module 2, (none), hash zipmap, list
  // ziplist, set intset, zset ziplist, hash ziplist, list quicklist, stream listpacks, hash
  // listpack, zset listpack, list quicklist 2, stream listpacks 2.
  static constexpr std::string_view kNames[] = {
      "string", "list", "set",  "zset", "hash", "zset",   "module", "module", "",     "hash",
      "list",   "set",  "zset", "hash", "list", "stream", "hash",   "zset",   "list", "stream"};
  return type >= 0 && type < static_cast<int>(std::size(kNames)) ? kNames[type] : "";
}

}  // namespace flin::server

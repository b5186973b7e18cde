#include "server/dump_payload.h"

#include <lzf.h>

#include <algorithm>
#include <climits>
#include <memory>

#include "common/crc64.h"
#include "common/strings.h"
#include "storage/hash_payload.h"
#include "storage/list_payload.h"
#include "storage/varint.h"

namespace flin::server {
namespace {

// RDB string encodings (Redis's rdb.h): the top two bits of a length's first byte say how
// long it is, and 0b11 means "an encoded string" with the encoding in the low six bits.
constexpr uint8_t kLen6Bit = 0, kLen14Bit = 1, kEncVal = 3;
constexpr uint8_t kLen32Bit = 0x80, kLen64Bit = 0x81;
constexpr uint8_t kEncInt8 = 0, kEncInt16 = 1, kEncInt32 = 2, kEncLzf = 3;
constexpr uint8_t kTypeString = 0, kTypeList = 1, kTypeSet = 2, kTypeHash = 4,
                  kTypeListZiplist = 10, kTypeSetIntset = 11, kTypeHashZiplist = 13,
                  kTypeListQuicklist = 14, kTypeHashListpack = 16, kTypeListQuicklist2 = 18;
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

// rdbSaveRawString.
void PutString(std::string_view value, std::string* out) {
  if (!PutIntegerEncoded(value, out) && !PutLzf(value, out)) {
    PutLen(value.size(), out);
    out->append(value);
  }
}

void PutFooter(std::string* out) {
  PutLittleEndian(kDumpRdbVersion, 2, out);
  PutLittleEndian(Crc64(0, *out), 8, out);
}

uint64_t LittleEndian(std::string_view s) {
  uint64_t v = 0;
  for (size_t i = 0; i < s.size(); ++i) v |= uint64_t{static_cast<uint8_t>(s[i])} << (8 * i);
  return v;
}

// Walks the elements of a listpack (Redis's listpack.c format), integers as decimal text:
// each(element) for each, which may stop the walk (false). false if it is malformed anywhere
// (its sizes, an entry's encoding or back-length, the terminator, checked first as Redis's
// shallow check does) or stopped.
template <typename Each>
bool WalkListpack(std::string_view lp, Each each) {
  if (lp.size() < 7 || LittleEndian(lp.substr(0, 4)) != lp.size() ||
      static_cast<uint8_t>(lp.back()) != 0xff) {
    return false;
  }
  uint64_t seen = 0;
  const uint64_t declared = LittleEndian(lp.substr(4, 2));
  size_t pos = 6;
  const auto have = [&](size_t n) { return lp.size() - pos >= n; };
  for (;;) {
    if (!have(1)) return false;
    const auto b = static_cast<uint8_t>(lp[pos]);
    if (b == 0xff) {
      ++pos;
      break;
    }
    const size_t start = pos;
    uint64_t len = 0;
    size_t header = 0;
    int int_bytes = 0;
    if ((b & 0x80) == 0) {  // 7-bit unsigned integer
      if (!each(std::to_string(b & 0x7f))) return false;
      pos += 1;
    } else if ((b & 0xc0) == 0x80) {  // string of up to 63 bytes
      len = b & 0x3f, header = 1;
    } else if ((b & 0xe0) == 0xc0) {  // 13-bit signed integer
      if (!have(2)) return false;
      int64_t v = ((b & 0x1f) << 8) | static_cast<uint8_t>(lp[pos + 1]);
      if (v >= 4096) v -= 8192;
      if (!each(std::to_string(v))) return false;
      pos += 2;
    } else if ((b & 0xf0) == 0xe0) {  // string of up to 4095 bytes
      if (!have(2)) return false;
      len = ((b & 0x0f) << 8) | static_cast<uint8_t>(lp[pos + 1]), header = 2;
    } else if (b == 0xf0) {  // string with a 32-bit length
      if (!have(5)) return false;
      len = LittleEndian(lp.substr(pos + 1, 4)), header = 5;
    } else if (b >= 0xf1 && b <= 0xf4) {  // 16, 24, 32 and 64-bit signed integers
      int_bytes = b == 0xf1 ? 2 : b == 0xf2 ? 3 : b == 0xf3 ? 4 : 8;
    } else {
      return false;
    }
    if (header != 0) {
      if (!have(header) || lp.size() - pos - header < len) return false;
      if (!each(lp.substr(pos + header, len))) return false;
      pos += header + len;
    } else if (int_bytes != 0) {
      if (!have(1 + int_bytes)) return false;
      const uint64_t u = LittleEndian(lp.substr(pos + 1, int_bytes));
      const int shift = 64 - 8 * int_bytes;
      if (!each(std::to_string(static_cast<int64_t>(u << shift) >> shift))) return false;
      pos += 1 + int_bytes;
    }
    // The entry's back-length: its size again, 7 bits a byte, the last byte the lowest.
    const uint64_t entry = pos - start;
    // (lpEncodeBacklen's bounds: 16383, 2097151 and 268435455 take the longer form.)
    const size_t back = entry < 128 ? 1 : entry < 16383 ? 2 : entry < 2097151 ? 3
                        : entry < 268435455 ? 4 : 5;
    if (!have(back)) return false;
    uint64_t decoded = 0;
    for (size_t i = 0; i < back; ++i) {
      const auto c = static_cast<uint8_t>(lp[pos + back - 1 - i]);
      decoded |= uint64_t{c & 0x7fu} << (7 * i);
      if ((i + 1 < back) != ((c & 0x80) != 0)) return false;
    }
    if (decoded != entry) return false;
    pos += back;
    ++seen;
  }
  return pos == lp.size() && (declared == 65535 || declared == seen);
}

// The integers of an intset (Redis's intset.c: encoding u32 = 2, 4 or 8 bytes an integer,
// count u32, then the integers LE) as decimal text; false unless it holds at least one and
// they ascend strictly, as Redis's deep integrity check demands.
bool ParseIntset(std::string_view is, std::vector<std::string>* out) {
  if (is.size() < 8) return false;
  const uint64_t width = LittleEndian(is.substr(0, 4)), count = LittleEndian(is.substr(4, 4));
  if ((width != 2 && width != 4 && width != 8) || count == 0 || is.size() - 8 != count * width) {
    return false;
  }
  const int shift = 64 - 8 * static_cast<int>(width);
  int64_t prev = 0;
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t u = LittleEndian(is.substr(8 + i * width, width));
    const int64_t v = static_cast<int64_t>(u << shift) >> shift;
    if (i > 0 && v <= prev) return false;
    prev = v;
    out->push_back(std::to_string(v));
  }
  return true;
}

// What a decoded hash or set element costs beyond its bytes while it is loaded (its string,
// its entry in the decoded value and in its index). Counted against a budget of 4x the
// limit, so that a payload of many tiny elements cannot take many times the limit in memory
// before it is refused, while a set of a million small members (Redis restores it) loads.
constexpr uint64_t kElementOverhead = 64;
uint64_t OverheadBudget(uint64_t max_bytes) {
  return max_bytes > UINT64_MAX / 4 ? UINT64_MAX : 4 * max_bytes;
}

// Reads the strings of an RDB collection one by one (`n` of them), handing each to `take`,
// which keeps it or refuses the whole (false: bad data, e.g. a member twice). Each string is
// read within what the ones before left of the limit (a few LZF bytes must not expand to the
// limit each before the whole is found too large); each counts kElementOverhead against
// *overhead, whose budget is OverheadBudget (none if null: the caller stores as it reads).
template <typename Take>
PayloadFault LoadStrings(Reader& r, uint64_t n, uint64_t max_bytes, uint64_t* overhead,
                         Take take) {
  uint64_t total = 0;
  for (uint64_t i = 0; i < n; ++i) {
    if (overhead != nullptr) {
      if (OverheadBudget(max_bytes) - *overhead < kElementOverhead) return PayloadFault::kTooLarge;
      *overhead += kElementOverhead;
    }
    std::string e;
    const LoadedPayload s = LoadString(r, max_bytes - total, &e);
    if (s.fault != PayloadFault::kNone) return s.fault;
    total += e.size();
    if (!take(std::move(e))) return PayloadFault::kBadFormat;
  }
  return PayloadFault::kNone;
}

// A loaded hash or set encoded into *value (if wanted), with Redis 7.0's encoding rules: a
// loaded listpack becomes a hashtable by its entries only (a long value stays in it), a
// type-4 hash by its entries and its values' lengths (as Set has flagged it); a set is an
// intset while it can be one, however it came.
LoadedPayload Finish(int type, bool set, storage::HashFields* h, uint64_t max_bytes,
                     std::string* value, LoadedPayload out) {
  if (type == kTypeHashListpack || type == kTypeHashZiplist) {
    h->set_hashtable(h->size() > storage::kListpackMaxEntries);
  }
  if (set) h->set_hashtable(!storage::IntsetFits(*h));
  std::string encoded;
  h->Encode(&encoded);
  out.size = encoded.size();
  if (out.size > max_bytes) {
    out.fault = PayloadFault::kTooLarge;
    return out;
  }
  if (value) *value = std::move(encoded);
  return out;
}

// Walks the elements of a ziplist (what Redis 3.2 to 6.2 dumped for small lists and hashes;
// ziplist.c), integers as decimal text: each(element) for each, which may stop the walk.
// false if it is malformed anywhere (its sizes, tail offset and count, an entry's previous
// length or encoding, the terminator) or stopped.
template <typename Each>
bool WalkZiplist(std::string_view zl, Each each) {
  if (zl.size() < 11 || LittleEndian(zl.substr(0, 4)) != zl.size() ||
      static_cast<uint8_t>(zl.back()) != 0xff) {
    return false;
  }
  const uint64_t tail = LittleEndian(zl.substr(4, 4)), declared = LittleEndian(zl.substr(8, 2));
  const auto big_endian = [&](size_t at, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(zl[at + i]);
    return v;
  };
  size_t pos = 10, last = 10;
  uint64_t seen = 0, prev = 0;
  const auto have = [&](size_t n) { return zl.size() - 1 - pos >= n; };  // (before the 0xff)
  while (pos < zl.size() - 1) {
    const size_t start = pos;
    uint64_t prevlen = static_cast<uint8_t>(zl[pos]);
    if (prevlen == 0xfe) {
      if (!have(5)) return false;
      prevlen = LittleEndian(zl.substr(pos + 1, 4));
      pos += 5;
    } else if (prevlen == 0xff) {
      return false;
    } else {
      pos += 1;
    }
    if (prevlen != prev || !have(1)) return false;
    const auto b = static_cast<uint8_t>(zl[pos]);
    uint64_t len = 0;
    size_t header = 0;
    int int_bytes = 0;
    int64_t immediate = -1;
    switch (b >> 6) {
      case 0:
        len = b & 0x3f, header = 1;
        break;
      case 1:
        if (!have(2)) return false;
        len = big_endian(pos, 2) & 0x3fff, header = 2;
        break;
      case 2:
        if (b != 0x80 || !have(5)) return false;
        len = big_endian(pos + 1, 4), header = 5;
        break;
      default:
        if (b == 0xc0) int_bytes = 2;
        else if (b == 0xd0) int_bytes = 4;
        else if (b == 0xe0) int_bytes = 8;
        else if (b == 0xf0) int_bytes = 3;
        else if (b == 0xfe) int_bytes = 1;
        else if (b >= 0xf1 && b <= 0xfd) immediate = (b & 0x0f) - 1;
        else return false;
    }
    if (header != 0) {
      if (!have(header) || zl.size() - 1 - pos - header < len) return false;
      if (!each(zl.substr(pos + header, len))) return false;
      pos += header + len;
    } else if (immediate >= 0) {
      if (!each(std::to_string(immediate))) return false;
      pos += 1;
    } else {
      if (!have(1 + int_bytes)) return false;
      const uint64_t u = LittleEndian(zl.substr(pos + 1, int_bytes));
      const int shift = 64 - 8 * int_bytes;
      if (!each(std::to_string(static_cast<int64_t>(u << shift) >> shift))) return false;
      pos += 1 + int_bytes;
    }
    prev = pos - start;
    last = start;
    ++seen;
  }
  return pos == zl.size() - 1 && (seen == 0 ? tail == 10 : tail == last) &&
         (declared == 65535 || declared == seen);
}

// One listpack entry as Redis 7.0 encodes it (listpack.c): a canonical integer in the
// narrowest of its integer encodings, else a string with a 6-bit, 12-bit or 32-bit length;
// then its back-length (its size, 7 bits a byte, the highest first, every byte but the first
// flagged 0x80).
void PutListpackEntry(std::string_view e, std::string* out) {
  const size_t start = out->size();
  int64_t v;
  if (ParseInt64(e, &v)) {
    if (v >= 0 && v <= 127) {
      out->push_back(static_cast<char>(v));
    } else if (v >= -4096 && v <= 4095) {
      const uint64_t u = static_cast<uint64_t>(v < 0 ? (1 << 13) + v : v);
      out->push_back(static_cast<char>(0xc0 | (u >> 8)));
      out->push_back(static_cast<char>(u & 0xff));
    } else {
      const int bytes = v >= INT16_MIN && v <= INT16_MAX     ? 2
                        : v >= -(1 << 23) && v < (1 << 23) ? 3
                        : v >= INT32_MIN && v <= INT32_MAX ? 4
                                                           : 8;
      out->push_back(static_cast<char>(bytes == 2 ? 0xf1 : bytes == 3 ? 0xf2 : bytes == 4 ? 0xf3 : 0xf4));
      PutLittleEndian(static_cast<uint64_t>(v), bytes, out);
    }
  } else if (e.size() < 64) {
    out->push_back(static_cast<char>(0x80 | e.size()));
    out->append(e);
  } else if (e.size() < 4096) {
    out->push_back(static_cast<char>(0xe0 | (e.size() >> 8)));
    out->push_back(static_cast<char>(e.size() & 0xff));
    out->append(e);
  } else {
    out->push_back(static_cast<char>(0xf0));
    PutLittleEndian(e.size(), 4, out);
    out->append(e);
  }
  const uint64_t len = out->size() - start;
  const size_t back = len < 128 ? 1 : len < 16383 ? 2 : len < 2097151 ? 3 : len < 268435455 ? 4 : 5;
  for (size_t i = back; i-- > 0;) {
    out->push_back(static_cast<char>(((len >> (7 * i)) & 0x7f) | (i + 1 < back ? 0x80 : 0)));
  }
}

size_t ListpackEntrySize(std::string_view e) {
  std::string tmp;
  PutListpackEntry(e, &tmp);
  return tmp.size();
}

// A listpack of `elements`: total bytes (u32), count (u16; 65535 past it), the entries, 0xff.
std::string Listpack(const std::vector<std::string_view>& elements) {
  std::string lp(6, '\0');
  for (std::string_view e : elements) PutListpackEntry(e, &lp);
  lp.push_back(static_cast<char>(0xff));
  std::string header;
  PutLittleEndian(lp.size(), 4, &header);
  PutLittleEndian(std::min<size_t>(elements.size(), 65535), 2, &header);
  lp.replace(0, 6, header);
  return lp;
}

// A hash or set object after its type byte: RDB_TYPE_HASH's count and field-value strings,
// RDB_TYPE_SET's count and member strings, or a listpack (a hash) or an intset (a set) in one
// string. Decoded into *value (a storage payload) whether or not the caller wants it, as only
// the whole tells whether it is valid; a field or member twice is found as it is read.
LoadedPayload LoadCollection(Reader& r, int type, uint64_t max_bytes, std::string* value) {
  LoadedPayload out;
  out.type = type;
  const bool set = type == kTypeSet || type == kTypeSetIntset;
  out.value_type = set ? storage::ValueType::kSet : storage::ValueType::kHash;
  const auto fail = [&](PayloadFault f) {
    out.fault = f;
    return out;
  };
  const size_t width = set ? 1 : 2;  // strings an element
  storage::HashFields h;
  h.Parse(storage::kEmptyHashPayload);
  if (type == kTypeHash || type == kTypeSet) {
    uint64_t n;
    if (!r.Len(&n, nullptr) || n == 0 || n > r.left() / width) {
      return fail(PayloadFault::kBadFormat);
    }
    std::string_view field;  // a hash's field, while its value is read
    bool have_field = false;
    uint64_t overhead = 0;
    const PayloadFault f = LoadStrings(r, width * n, max_bytes, &overhead, [&](std::string e) {
      const std::string_view kept = h.Keep(std::move(e));
      if (set) return h.Set(kept, {});
      have_field = !have_field;
      if (have_field) field = kept;
      return have_field || h.Set(field, kept);
    });
    if (f != PayloadFault::kNone) return fail(f);
    return Finish(type, set, &h, max_bytes, value, out);
  }
  std::string blob;
  std::vector<std::string> elements;
  const LoadedPayload s = LoadString(r, max_bytes, &blob);
  if (s.fault != PayloadFault::kNone) return fail(s.fault);
  bool too_large = false;  // (an intset holds at most 1/2 of its bytes in integers: bounded)
  const auto keep = [&](std::string_view e) {
    too_large = (elements.size() + 1) * kElementOverhead > OverheadBudget(max_bytes);
    if (!too_large) elements.emplace_back(e);
    return !too_large;
  };
  const bool parsed =
      set ? ParseIntset(blob, &elements)
          : (type == kTypeHashZiplist ? WalkZiplist(blob, keep) : WalkListpack(blob, keep)) &&
                elements.size() % 2 == 0;
  if (too_large) return fail(PayloadFault::kTooLarge);
  if (!parsed || elements.empty()) return fail(PayloadFault::kBadFormat);
  for (size_t i = 0; i < elements.size(); i += width) {
    // (An element twice is bad data.)
    if (!h.Set(elements[i], set ? std::string_view() : elements[i + 1])) {
      return fail(PayloadFault::kBadFormat);
    }
  }
  return Finish(type, set, &h, max_bytes, value, out);
}

// A list object after its type byte: RDB_TYPE_LIST's count and element strings, or
// RDB_TYPE_LIST_QUICKLIST_2's (what Redis 7.0 dumps) count of nodes, each a container kind
// (1: one plain element, not empty; 2: a listpack of elements) and a string. An empty
// listpack node is skipped, as Redis does; an empty list, or another kind, is bad data.
// Decoded into *value (a list payload) whether or not the caller wants it: each element is
// encoded as it is read, so the decoding takes the payload's size and no more.
LoadedPayload LoadList(Reader& r, int type, uint64_t max_bytes, std::string* value) {
  LoadedPayload out;
  out.type = type;
  out.value_type = storage::ValueType::kList;
  const auto fail = [&](PayloadFault f) {
    out.fault = f;
    return out;
  };
  std::string body;  // the elements as a list payload has them, after its header
  uint64_t count = 0;
  const auto add = [&](std::string_view e) {
    char len[10];
    body.append(len, storage::varint::Put(len, e.size()) - len);
    body.append(e);
    ++count;
    return body.size() <= max_bytes;
  };
  uint64_t n = 1;  // (a ziplist: one string)
  if (type != kTypeListZiplist &&
      (!r.Len(&n, nullptr) || n == 0 || n > r.left())) {
    return fail(PayloadFault::kBadFormat);
  }
  for (uint64_t i = 0; i < n; ++i) {
    // Each element a plain string (RDB_TYPE_LIST), each node a ziplist (10, 14), or a node of
    // either kind (18).
    uint64_t container = type == kTypeList ? 1 : 2;
    if (type == kTypeListQuicklist2 &&
        (!r.Len(&container, nullptr) || (container != 1 && container != 2))) {
      return fail(PayloadFault::kBadFormat);
    }
    std::string node;
    const PayloadFault f = LoadString(r, max_bytes - std::min<uint64_t>(body.size(), max_bytes),
                                      &node).fault;
    if (f != PayloadFault::kNone) return fail(f);
    if (container == 1) {
      if (type == kTypeListQuicklist2 && node.empty()) return fail(PayloadFault::kBadFormat);
      if (!add(node)) return fail(PayloadFault::kTooLarge);
      continue;
    }
    bool too_large = false;
    const auto each = [&](std::string_view e) { return !(too_large = !add(e)); };
    const bool zip = type == kTypeListZiplist || type == kTypeListQuicklist;
    if (!(zip ? WalkZiplist(node, each) : WalkListpack(node, each))) {
      return fail(too_large ? PayloadFault::kTooLarge : PayloadFault::kBadFormat);
    }
  }
  if (count == 0) return fail(PayloadFault::kBadFormat);
  std::string encoded(1, '\0');
  char c[10];
  encoded.append(c, storage::varint::Put(c, count) - c);
  encoded += body;
  out.size = encoded.size();
  if (out.size > max_bytes) return fail(PayloadFault::kTooLarge);
  if (value) *value = std::move(encoded);
  return out;
}

// A set that is an intset as Redis writes one (RDB_TYPE_SET_INTSET): its integers ascending,
// each in the narrowest of 2, 4 or 8 bytes that holds them all.
std::string DumpIntset(const storage::HashFields& set) {
  std::vector<int64_t> ints;
  ints.reserve(set.size());
  set.ForEach([&ints](std::string_view m, std::string_view) {
    int64_t v = 0;
    ParseInt64(m, &v);  // (an intset's members are integers: IntsetFits)
    ints.push_back(v);
  });
  std::sort(ints.begin(), ints.end());
  const auto fits = [&](int64_t lo, int64_t hi) { return ints.front() >= lo && ints.back() <= hi; };
  const uint32_t width = fits(INT16_MIN, INT16_MAX) ? 2 : fits(INT32_MIN, INT32_MAX) ? 4 : 8;
  std::string is;
  PutLittleEndian(width, 4, &is);
  PutLittleEndian(ints.size(), 4, &is);
  for (int64_t v : ints) PutLittleEndian(static_cast<uint64_t>(v), static_cast<int>(width), &is);
  std::string out(1, static_cast<char>(kTypeSetIntset));
  PutString(is, &out);
  PutFooter(&out);
  return out;
}

// DUMP's payload of a hash (RDB_TYPE_HASH) or a set (RDB_TYPE_SET; an intset as Redis
// writes it) from its storage payload.
std::string DumpCollection(uint8_t type, std::string_view payload) {
  storage::HashFields h;
  if (!h.Parse(payload, /*check_unique=*/false)) return "";  // (what Flin stored)
  if (type == kTypeSet && !h.hashtable() && !h.empty() && storage::IntsetFits(h)) {
    return DumpIntset(h);
  }
  std::string out;
  out.reserve(payload.size() + 24);
  out.push_back(static_cast<char>(type));
  PutLen(h.size(), &out);
  h.ForEach([&out, type](std::string_view f, std::string_view v) {
    PutString(f, &out);
    if (type == kTypeHash) PutString(v, &out);
  });
  PutFooter(&out);
  return out;
}

}  // namespace

std::string DumpString(std::string_view value) {
  std::string out;
  out.reserve(value.size() + 24);
  out.push_back(static_cast<char>(kTypeString));
  PutString(value, &out);
  PutFooter(&out);
  return out;
}

std::string DumpHash(std::string_view hash_payload) {
  return DumpCollection(kTypeHash, hash_payload);
}

std::string DumpSet(std::string_view set_payload) { return DumpCollection(kTypeSet, set_payload); }

std::string DumpList(std::string_view list_payload) {
  storage::ListElements list;
  if (!list.Parse(list_payload)) return "";  // (what Flin stored)
  // Quicklist nodes as Redis 7.0 fills them pushing at the tail (list-max-listpack-size -2:
  // a node takes an element while its bytes, the element's and 8 more stay within 8 KiB).
  std::vector<std::vector<std::string_view>> nodes;
  size_t node_bytes = 0;
  for (std::string_view e : list.items()) {
    if (nodes.empty() || node_bytes + e.size() + 8 > 8192) {
      nodes.emplace_back();
      node_bytes = 7;  // (an empty listpack's header and terminator)
    }
    nodes.back().push_back(e);
    node_bytes += ListpackEntrySize(e);
  }
  std::string out;
  out.reserve(list_payload.size() + 24);
  out.push_back(static_cast<char>(kTypeListQuicklist2));
  PutLen(nodes.size(), &out);
  for (const auto& node : nodes) {
    PutLen(2, &out);  // QUICKLIST_NODE_CONTAINER_PACKED
    PutString(Listpack(node), &out);
  }
  PutFooter(&out);
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
  if (type == kTypeHash || type == kTypeHashListpack || type == kTypeHashZiplist ||
      type == kTypeSet || type == kTypeSetIntset) {
    return LoadCollection(r, type, max_bytes, value);
  }
  if (type == kTypeList || type == kTypeListZiplist || type == kTypeListQuicklist ||
      type == kTypeListQuicklist2) {
    return LoadList(r, type, max_bytes, value);
  }
  out.type = type;
  // With nothing before the footer the type is the version's first byte: version 0 reads as
  // a string (above), any other as no object at all (Redis fails to load it).
  // An older encoding of a type Flin has (a hash zipmap, Redis 2's) is bad data too.
  const std::string_view name = RdbTypeName(type);
  const bool ours = name == "hash" || name == "set" || name == "list";
  const bool object = !name.empty() && payload.size() > kFooterBytes;
  out.fault = object && !ours ? PayloadFault::kNotString : PayloadFault::kBadFormat;
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

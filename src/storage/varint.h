#pragma once
// LEB128 varints and length-prefixed byte strings, as the hash, set and list payloads write
// them (storage/hash_payload.h, storage/list_payload.h). A varint must be in its shortest
// form (one meaning, one encoding), and a length may not pass the input's end.
//
// Pure functions; thread-safe.

#include <cstdint>
#include <cstring>
#include <string_view>

namespace flin::storage::varint {

inline size_t Size(uint64_t v) {
  size_t n = 1;
  for (; v >= 0x80; v >>= 7) ++n;
  return n;
}

// Writes `v` at p (which has Size(v) bytes); returns the end.
inline char* Put(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

// Writes a varint length and the bytes of `s` at p; returns the end.
inline char* PutBytes(char* p, std::string_view s) {
  p = Put(p, s.size());
  if (!s.empty()) std::memcpy(p, s.data(), s.size());  // (an empty view's data may be null)
  return p + s.size();
}

// The size PutBytes writes for `s`.
inline size_t BytesSize(std::string_view s) { return Size(s.size()) + s.size(); }

// Reads a varint at in[*pos], advancing *pos; false if it is cut or not in shortest form.
inline bool Get(std::string_view in, size_t* pos, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift <= 63 && *pos < in.size(); shift += 7) {
    const auto b = static_cast<uint8_t>(in[(*pos)++]);
    result |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      if (b == 0 && shift > 0) return false;  // not the shortest form
      *v = result;
      return true;
    }
  }
  return false;
}

// Reads a length-prefixed string at in[*pos] as a view into `in`, advancing *pos.
inline bool GetBytes(std::string_view in, size_t* pos, std::string_view* out) {
  uint64_t n;
  if (!Get(in, pos, &n) || n > in.size() - *pos) return false;
  *out = in.substr(*pos, n);
  *pos += n;
  return true;
}

}  // namespace flin::storage::varint

#pragma once
// The payload of a list value (storage::ValueType::kList): the whole list in one RocksDB
// value.
//
//   flags (u8, 0: none defined) | varint element count | per element, head to tail: varint
//   length, element bytes.
//
// One value per list, as a hash or a set is (storage/hash_payload.h): every replica applies
// a list command by decoding the value, changing it and writing it back, so a write costs
// time in the list's length (docs/DESIGN.md, "Lists"). The pushes have shortcuts that copy
// the stored elements without decoding them.
//
// ListElements is a decoded list that can be changed and encoded again. It borrows: the
// elements are views into the payload it parsed and into whatever the caller put in (which
// must outlive it), except strings it was asked to Keep. Not thread-safe.

#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace flin::storage {

// The payload of a list with no elements (a list being built; a stored list is never empty).
inline constexpr std::string_view kEmptyListPayload{"\0\0", 2};

class ListElements {
 public:
  // Parses a payload; false (and empty) if it is malformed.
  bool Parse(std::string_view payload);
  // Appends the encoding to *out (after clearing it).
  void Encode(std::string* out) const;

  // The elements, head first, to read and change in place.
  std::deque<std::string_view>& items() { return items_; }
  const std::deque<std::string_view>& items() const { return items_; }
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  // A copy of `s` that lives as long as this object.
  std::string_view Keep(std::string s);

  // The element count a payload declares (LLEN); false if its header is malformed.
  static bool Count(std::string_view payload, uint64_t* count);
  // `payload` with `add` pushed at the head (in order: the last ends up first, as LPUSH
  // does) or at the tail, into *out, copying the stored elements undecoded. false if the
  // payload's header is malformed.
  static bool Push(std::string_view payload, std::span<const std::string_view> add, bool head,
                   std::string* out);
  // The elements at positions [from, to) of a payload, walked up to `to` with nothing else
  // decoded (LRANGE, LINDEX), as views into it. false if the walk meets damage.
  static bool Slice(std::string_view payload, uint64_t from, uint64_t to,
                    std::vector<std::string_view>* out);
  // Up to `count` elements popped from the head or the tail of a payload (in the order they
  // are popped, as views into it) and the payload left into *rest (with *left elements),
  // copying the kept elements undecoded (LPOP, RPOP, LMPOP). false if the walk meets damage.
  static bool Pop(std::string_view payload, bool head, uint64_t count,
                  std::vector<std::string_view>* popped, std::string* rest, uint64_t* left);

 private:
  std::deque<std::string_view> items_;
  std::deque<std::string> kept_;
};

}  // namespace flin::storage

#pragma once
// The payload of a hash value (storage::ValueType::kHash): the whole hash in one RocksDB value.
//
//   flags (u8: kHashtable) | varint field count | per field: varint length, field bytes,
//   varint length, value bytes — in insertion order.
//
// One value per hash, as Redis keeps a small hash in one listpack: every replica applies a
// hash command by decoding the value, changing it and writing it back, so a write costs time
// in the hash's size (docs/DESIGN.md, "Hashes"). kHashtable records that the hash once passed
// Redis's listpack bounds (512 fields, or a field or value over 64 bytes); OBJECT ENCODING
// answers from it, and like Redis's conversion it is never undone while the key lives.
//
// A set (storage::ValueType::kSet) has the same payload with every value empty: its members
// are the fields, kept in insertion order, and kHashtable records that it is no longer what
// Redis 7.0 keeps in an intset (more than 512 members, or one that is not an integer).
//
// HashFields is a decoded hash (or set) that can be changed and encoded again. It borrows: the
// fields and values it holds are views into the payload it parsed and into the strings given
// to Set (which must outlive it), except values it was asked to Keep. Not thread-safe.

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "storage/encoding.h"

namespace flin::storage {

inline constexpr uint8_t kHashtable = 1;
// The payload of a hash with no fields (a hash being built; a stored hash is never empty).
inline constexpr std::string_view kEmptyHashPayload{"\0\0", 2};
// Redis 7.0's hash-max-listpack-entries and hash-max-listpack-value defaults.
inline constexpr size_t kListpackMaxEntries = 512;
inline constexpr size_t kListpackMaxValue = 64;
// Redis 7.0's set-max-intset-entries default.
inline constexpr size_t kIntsetMaxEntries = 512;

class HashFields {
 public:
  // Parses a payload; false (and empty) if it is malformed. `check_unique`: a field twice is
  // malformed too, which costs an index of the fields: for payloads from outside (a
  // snapshot, RESTORE). A command reading what Flin wrote (unique by construction) skips it,
  // and looks one field up by a scan, building the index only once lookups repeat.
  bool Parse(std::string_view payload, bool check_unique = true);
  // Appends the encoding to *out (after clearing it).
  void Encode(std::string* out) const;

  size_t size() const { return live_; }
  bool empty() const { return live_ == 0; }
  bool hashtable() const { return flags_ & kHashtable; }
  // Sets the encoding flag as a load decides it (RESTORE of a listpack keeps long values in
  // it, as Redis 7.0 does; Set would flag them).
  void set_hashtable(bool on) { flags_ = on ? (flags_ | kHashtable) : (flags_ & ~kHashtable); }
  // The value of `field`, or nullptr.
  const std::string_view* Find(std::string_view field) const;
  // Sets a field (kept in place if present, else appended); true if it is new.
  bool Set(std::string_view field, std::string_view value);
  // Removes a field; true if it was there.
  bool Erase(std::string_view field);
  // A copy of `s` that lives as long as this object (a computed value for Set).
  std::string_view Keep(std::string s);

  // One field's value looked up in a payload by a walk, with nothing decoded or allocated
  // (HGET of a big hash): kFound (*value set), kAbsent, or kMalformed if the walk met a
  // malformed payload before the field.
  enum class Lookup { kFound, kAbsent, kMalformed };
  static Lookup Find(std::string_view payload, std::string_view field, std::string_view* value);
  // The field count a payload declares (HLEN); false if its header is malformed.
  static bool Count(std::string_view payload, uint64_t* count);

  // The fields in order: f(field, value) for each.
  template <typename F>
  void ForEach(F&& f) const {
    for (const Entry& e : entries_) {
      if (!e.erased) f(e.field, e.value);
    }
  }

 private:
  struct Entry {
    std::string_view field, value;
    bool erased = false;
  };
  void Index() const;  // builds index_ (for a big enough hash)
  ptrdiff_t Position(std::string_view field) const;

  std::vector<Entry> entries_;
  mutable absl::flat_hash_map<std::string_view, size_t> index_;  // field -> entries_ position
  std::deque<std::string> kept_;
  size_t live_ = 0;
  mutable size_t scans_ = 0;  // lookups by scan so far (Position builds the index after a few)
  uint8_t flags_ = 0;
};

// Whether a decoded value's payload is well formed for its type (a hash's parses; a set's
// does, with empty values, and is flagged kHashtable unless it fits an intset; a list's
// parses: storage/list_payload.h; any string is). For values from outside, as a snapshot's: commands check a hash again as they read it.
bool WellFormedPayload(const ValueView& v);

// Whether a set member could be in Redis's intset: an integer in canonical form (string2ll).
bool IntsetMember(std::string_view member);
// Whether a set (a HashFields of members) is one Redis 7.0 keeps in an intset: at most 512
// members, all integers.
bool IntsetFits(const HashFields& set);

}  // namespace flin::storage

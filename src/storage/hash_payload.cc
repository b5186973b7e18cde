#include "storage/hash_payload.h"

#include "common/strings.h"
#include "storage/list_payload.h"
#include "storage/varint.h"

namespace flin::storage {

namespace {

constexpr size_t kIndexFrom = 16;  // below this many fields a scan is cheaper than a hash

using varint::BytesSize;
using varint::GetBytes;
using varint::PutBytes;

}  // namespace

bool HashFields::Parse(std::string_view payload, bool check_unique) {
  entries_.clear();
  index_.clear();
  live_ = 0;
  scans_ = 0;
  flags_ = 0;
  size_t pos = 1;
  uint64_t count;
  if (payload.empty() || (static_cast<uint8_t>(payload[0]) & ~kHashtable) != 0 ||
      !varint::Get(payload, &pos, &count) || count > (payload.size() - pos) / 2) {
    return false;
  }
  entries_.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    Entry e;
    if (!GetBytes(payload, &pos, &e.field) || !GetBytes(payload, &pos, &e.value)) {
      entries_.clear();
      return false;
    }
    entries_.push_back(e);
  }
  if (pos != payload.size()) {
    entries_.clear();
    return false;
  }
  live_ = entries_.size();
  flags_ = static_cast<uint8_t>(payload[0]);
  if (!check_unique) return true;
  Index();
  // A field twice would make the hash ambiguous: refused as corruption.
  bool twice = !index_.empty() && index_.size() != live_;
  for (size_t i = 0; index_.empty() && i < entries_.size() && !twice; ++i) {
    for (size_t j = 0; j < i && !twice; ++j) twice = entries_[i].field == entries_[j].field;
  }
  if (twice) {
    entries_.clear();
    index_.clear();
    live_ = 0;
    return false;
  }
  return true;
}

HashFields::Lookup HashFields::Find(std::string_view payload, std::string_view field,
                                    std::string_view* value) {
  size_t pos = 1;
  uint64_t count;
  if (payload.empty() || !varint::Get(payload, &pos, &count)) return Lookup::kMalformed;
  for (uint64_t i = 0; i < count; ++i) {
    std::string_view f, v;
    if (!GetBytes(payload, &pos, &f) || !GetBytes(payload, &pos, &v)) return Lookup::kMalformed;
    if (f == field) {
      *value = v;
      return Lookup::kFound;
    }
  }
  return pos == payload.size() ? Lookup::kAbsent : Lookup::kMalformed;
}

bool HashFields::Count(std::string_view payload, uint64_t* count) {
  size_t pos = 1;
  return !payload.empty() && varint::Get(payload, &pos, count) &&
         *count <= (payload.size() - pos) / 2;
}

void HashFields::Encode(std::string* out) const {
  // Sized first and written in place: a big hash is encoded on every write to it.
  size_t size = 1 + varint::Size(live_);
  ForEach([&size](std::string_view f, std::string_view v) {
    size += BytesSize(f) + BytesSize(v);
  });
  out->resize(size);
  char* p = out->data();
  *p++ = static_cast<char>(flags_);
  p = varint::Put(p, live_);
  ForEach([&p](std::string_view f, std::string_view v) {
    p = PutBytes(p, f);
    p = PutBytes(p, v);
  });
}

void HashFields::Index() const {
  if (!index_.empty() || live_ < kIndexFrom) return;
  index_.reserve(live_);
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (!entries_[i].erased) index_.emplace(entries_[i].field, i);
  }
}

ptrdiff_t HashFields::Position(std::string_view field) const {
  // One lookup scans (cheaper than hashing every field into an index); repeated ones index.
  constexpr size_t kScansBeforeIndex = 4;
  if (index_.empty() && live_ >= kIndexFrom && ++scans_ > kScansBeforeIndex) {
    Index();
  }
  if (!index_.empty()) {
    auto it = index_.find(field);
    return it == index_.end() ? -1 : static_cast<ptrdiff_t>(it->second);
  }
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (!entries_[i].erased && entries_[i].field == field) return static_cast<ptrdiff_t>(i);
  }
  return -1;
}

const std::string_view* HashFields::Find(std::string_view field) const {
  const ptrdiff_t i = Position(field);
  return i < 0 ? nullptr : &entries_[i].value;
}

bool HashFields::Set(std::string_view field, std::string_view value) {
  if (field.size() > kListpackMaxValue || value.size() > kListpackMaxValue) {
    flags_ |= kHashtable;
  }
  const ptrdiff_t i = Position(field);
  if (i >= 0) {
    entries_[i].value = value;
    return false;
  }
  entries_.push_back(Entry{field, value});
  ++live_;
  if (!index_.empty()) index_.emplace(field, entries_.size() - 1);
  if (live_ > kListpackMaxEntries) flags_ |= kHashtable;
  return true;
}

bool HashFields::Erase(std::string_view field) {
  const ptrdiff_t i = Position(field);
  if (i < 0) return false;
  entries_[i].erased = true;
  --live_;
  if (!index_.empty()) index_.erase(field);
  return true;
}

std::string_view HashFields::Keep(std::string s) {
  kept_.push_back(std::move(s));
  return kept_.back();
}

bool WellFormedPayload(const ValueView& v) {
  if (v.type == ValueType::kString) return true;
  if (v.type == ValueType::kList) {
    ListElements list;
    return list.Parse(v.payload);
  }
  HashFields h;
  if (!h.Parse(v.payload)) return false;
  if (v.type == ValueType::kHash) return true;
  bool members_only = true;  // a set: every value empty, and "intset" only if it can be one
  h.ForEach([&](std::string_view, std::string_view value) { members_only &= value.empty(); });
  return members_only && (h.hashtable() || IntsetFits(h));
}

bool IntsetMember(std::string_view member) {
  int64_t v;
  return ParseInt64(member, &v);
}

bool IntsetFits(const HashFields& set) {
  bool fits = set.size() <= kIntsetMaxEntries;
  set.ForEach([&](std::string_view m, std::string_view) { fits = fits && IntsetMember(m); });
  return fits;
}

}  // namespace flin::storage

// libFuzzer target: the stored value, hash, set and list payload and data-key decoders. Their input comes from disk and,
// through an installed snapshot, from a peer. Any bytes must decode without crashing, and
// whatever decodes must encode back to exactly the same bytes (so no two encodings share a
// meaning and nothing is silently dropped).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "storage/encoding.h"
#include "storage/hash_payload.h"
#include "storage/list_payload.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace flin::storage;
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  std::string again;
  if (auto v = DecodeValue(raw)) {
    if (v->payload.data() < raw.data() || v->payload.data() + v->payload.size() != raw.data() + raw.size()) {
      __builtin_trap();  // the payload must be the tail of the input
    }
    (void)v->Expired(0);
    (void)v->Expired(INT64_MAX);
    EncodeValue(v->type, v->expire_at_ms, v->payload, &again);
    if (again != raw) __builtin_trap();
  }
  // The same of a hash's payload (storage/hash_payload.h), and its lookups agree with a walk.
  flin::storage::HashFields h;
  if (h.Parse(raw)) {
    h.Encode(&again);
    if (again != raw) __builtin_trap();
    size_t n = 0;
    h.ForEach([&](std::string_view f, std::string_view v) {
      const std::string_view* found = h.Find(f);
      if (found == nullptr || *found != v) __builtin_trap();
      ++n;
    });
    if (n != h.size()) __builtin_trap();
  }
  // A set's payload is a hash's with empty values, flagged hashtable unless it fits an intset.
  ValueView set;
  set.type = ValueType::kSet;
  set.payload = raw;
  if (WellFormedPayload(set)) {
    if (!h.Parse(raw) || (!h.hashtable() && !IntsetFits(h))) __builtin_trap();
    h.ForEach([](std::string_view, std::string_view v) {
      if (!v.empty()) __builtin_trap();
    });
  }
  // The same of a list's payload (storage/list_payload.h).
  ListElements list;
  if (list.Parse(raw)) {
    list.Encode(&again);
    if (again != raw) __builtin_trap();
    uint64_t n = 0;
    if (!ListElements::Count(raw, &n) || n != list.size()) __builtin_trap();
  }
  int partition = -1;
  std::string_view user_key;
  if (DecodeDataKey(raw, &partition, &user_key)) {
    if (partition < 0 || partition > 0xffff) __builtin_trap();
    EncodeDataKey(partition, user_key, &again);
    if (again != raw) __builtin_trap();
    if (!std::string_view(again).starts_with(PartitionPrefix(partition))) __builtin_trap();
  }
  return 0;
}

#include "server/collection.h"

namespace flin::server {

bool LoadCollection(ApplyContext& ctx, std::string_view key, storage::ValueType type,
                    std::string* payload, storage::HashFields* h, int64_t* expire_at) {
  storage::ValueType found = type;
  *expire_at = 0;
  if (!ctx.GetValue(key, &found, payload, expire_at)) {
    h->Parse(storage::kEmptyHashPayload);
    return true;
  }
  if (found != type) {
    ctx.wrong_type = true;
    return false;
  }
  if (!h->Parse(*payload, /*check_unique=*/false)) {
    ctx.out.Error(ErrCollectionDamaged(type));
    return false;
  }
  return true;
}

bool StoreCollection(ApplyContext& ctx, std::string_view key, storage::ValueType type,
                     const storage::HashFields& h, int64_t expire_at) {
  if (h.empty()) {
    ctx.Delete(key);
    ctx.Notify(kNotifyGeneric, "del", key);
    return true;
  }
  std::string encoded;
  if (!EncodeCollection(ctx, type, h, &encoded)) return false;
  ctx.PutValue(key, type, encoded, expire_at);
  return true;
}

bool EncodeCollection(ApplyContext& ctx, storage::ValueType type, const storage::HashFields& h,
                      std::string* encoded) {
  h.Encode(encoded);
  if (static_cast<int64_t>(encoded->size()) <= kMaxStringBytes) return true;
  ctx.out.Error(ErrCollectionTooBig(type));
  return false;
}

}  // namespace flin::server

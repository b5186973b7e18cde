#include "server/collection.h"

namespace flin::server {

bool StoreEncoded(ApplyContext& ctx, std::string_view key, storage::ValueType type,
                  std::string_view encoded, uint64_t size, int64_t expire_at) {
  if (size == 0) {
    ctx.Delete(key);
    ctx.Notify(kNotifyGeneric, "del", key);
    return true;
  }
  if (static_cast<int64_t>(encoded.size()) > kMaxStringBytes) {
    ctx.out.Error(ErrCollectionTooBig(type));
    return false;
  }
  ctx.PutValue(key, type, encoded, expire_at);
  return true;
}

CommandSpec CollectionSpec(std::string group, std::string name, int arity, uint32_t flags,
                           Handler h, ApplyFn a, std::string summary, std::string since,
                           std::string complexity, int last_key) {
  CommandSpec s = MakeCommand(std::move(name), arity, flags, h, a, std::move(group),
                              std::move(summary), 1, last_key, 1);
  s.since = std::move(since);
  s.complexity = std::move(complexity);
  return s;
}

}  // namespace flin::server

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

std::vector<size_t> RandomPicks(std::mt19937_64& rng, size_t n, int64_t count) {
  std::vector<size_t> picks;
  if (count < 0) {
    picks.resize(static_cast<size_t>(-count));
    for (size_t& p : picks) p = static_cast<size_t>(rng() % n);
    return picks;
  }
  picks.resize(n);
  for (size_t i = 0; i < n; ++i) picks[i] = i;
  if (static_cast<uint64_t>(count) < n) {
    for (size_t i = 0; i < static_cast<size_t>(count); ++i) {
      std::swap(picks[i], picks[i + static_cast<size_t>(rng() % (n - i))]);
    }
    picks.resize(static_cast<size_t>(count));
  }
  return picks;
}

std::string ErrTooManyPicks(std::string_view command) {
  return "ERR " + std::string(command) + " count is too large: Flin answers at most " +
         std::to_string(kMaxRandomPicks) + " picks";
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

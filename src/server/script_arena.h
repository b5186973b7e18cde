#pragma once
// ScriptArena: the memory of a thread's Lua states (lua_script.cc), one run at a time.
//
// A script's run makes a Lua state, thousands of small blocks, and frees them all when the
// state closes; through malloc that was a quarter of a run's time. Here small blocks come
// from chunks the thread keeps between runs, with a free list per size class, and Reset()
// after the state closed makes every chunk free again in one step. Large blocks go to malloc.
// Addresses differ from malloc's, which changes nothing a script can rely on (Lua's hashing of
// tables and functions by address is already different in every process).
//
// Thread-safety: none; one arena per thread (thread_local in lua_script.cc), one run at a time.

#include <cstddef>
#include <iterator>
#include <memory>
#include <vector>

namespace flin::server {

class ScriptArena {
 public:
  static constexpr size_t kAlign = 16;
  static constexpr size_t kMaxSmall = 512;     // larger blocks: malloc
  static constexpr size_t kChunkBytes = 64 << 10;
  static constexpr size_t kKeptBytes = 4 << 20;  // chunks kept past Reset(), at most

  ScriptArena() = default;
  ScriptArena(const ScriptArena&) = delete;
  ScriptArena& operator=(const ScriptArena&) = delete;
  ~ScriptArena() { Reset(); }

  // As Lua's allocator: `old` is the block's size (0 for none), `size` 0 frees it. Null if
  // memory ran out (the block stays as it was).
  void* Reallocate(void* block, size_t old, size_t size);
  // Every block given out is free again (all must be dead: call after the state closed);
  // chunks beyond kKeptBytes go back to the system.
  void Reset();
  size_t chunks() const { return chunks_.size(); }

 private:
  static size_t Class(size_t n) { return (n + kAlign - 1) / kAlign; }
  void* Allocate(size_t n);
  void Free(void* block, size_t n);

  void* free_[kMaxSmall / kAlign + 1] = {};  // per class, a list linked through the blocks
  std::vector<std::unique_ptr<char[]>> chunks_;
  static constexpr size_t kNone = static_cast<size_t>(-1);
  size_t chunk_ = kNone;  // the chunk being cut (kNone: none yet since Reset)
  size_t used_ = 0;       // bytes of it cut
};

}  // namespace flin::server

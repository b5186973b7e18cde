#pragma once
// ScriptArena: where a script's Lua state gets its memory (lua_script.cc), the same addresses
// on every replica.
//
// Lua 5.1 hashes a table, function or coroutine used as a table key by its address (the low
// 32 bits), so pairs() goes over such keys in an order that follows where malloc put them:
// another order on another replica, or in the next run. A run's blocks therefore come from an
// arena of its thread, at an address aligned to 4 GiB (so an address's low 32 bits are its
// offset), handed out by an allocator whose choices depend only on the run's own requests
// (free lists by size class, then a bump pointer) and that starts empty at every run: the
// same run gets the same offsets on every replica. Lua passes a block's size when it frees
// or resizes it, so blocks carry no header. Under ASan, freed blocks are poisoned.
//
// (Sizes are Lua's requests; kScriptMemoryBytes, counted by lua_script.cc, bounds a run far
// below the reserved space.)
//
// Thread-safety: one arena per thread (ForThisThread), used by one run at a time.

#include <sanitizer/asan_interface.h>
#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>

namespace flin::server {

class ScriptArena {
 public:
  // This thread's arena, reserved at its first run; null if it could not be.
  static ScriptArena* ForThisThread() {
    thread_local ScriptArena arena;
    if (arena.base_ == nullptr && !arena.Reserve()) return nullptr;
    return &arena;
  }
  ~ScriptArena() {
    if (base_ != nullptr) munmap(base_, kBytes);
  }

  // Null if the arena is full (Lua's out of memory; the same on every replica).
  void* Reallocate(void* ptr, size_t osize, size_t nsize) {
    if (ptr != nullptr && ClassOf(osize) == ClassOf(nsize)) {
      ASAN_UNPOISON_MEMORY_REGION(ptr, nsize);
      return ptr;
    }
    void* p = Take(ClassOf(nsize));
    if (p == nullptr) return nullptr;
    ASAN_UNPOISON_MEMORY_REGION(p, nsize);
    if (ptr != nullptr) {
      std::memcpy(p, ptr, std::min(osize, nsize));
      Free(ptr, osize);
    }
    return p;
  }
  void Free(void* p, size_t size) {
    const int c = ClassOf(size);
    *static_cast<void**>(p) = free_[c];
    free_[c] = p;
    ASAN_POISON_MEMORY_REGION(p, SizeOf(c));
  }
  // After a run (its state closed): forgets every block, and gives the pages of a big run
  // back to the system.
  void Reset() {
    std::fill(std::begin(free_), std::end(free_), nullptr);
    if (high_ > kKeptBytes) {
      madvise(base_ + kKeptBytes, high_ - kKeptBytes, MADV_DONTNEED);
      high_ = kKeptBytes;
    }
    top_ = 0;
  }

 private:
  // Address space reserved (not memory: pages are made writable as the bump pointer reaches
  // them). Several times kScriptMemoryBytes, for size classes' rounding and free lists that
  // never merge.
  static constexpr size_t kBytes = size_t{2} << 30;
  static constexpr size_t kAlign = size_t{1} << 32;
  static constexpr size_t kCommitStep = size_t{4} << 20;
  static constexpr size_t kKeptBytes = size_t{16} << 20;
  // Classes: multiples of 16 bytes up to 1 KiB, then powers of two up to kBytes.
  static constexpr size_t kGrain = 16, kSmallMax = 1024;
  static constexpr int kSmallClasses = kSmallMax / kGrain;
  static constexpr int kClasses = kSmallClasses + 21;  // 2 KiB .. 2 GiB
  static int ClassOf(size_t n) {
    if (n <= kSmallMax) return static_cast<int>((n + kGrain - 1) / kGrain) - (n > 0 ? 1 : 0);
    return kSmallClasses + static_cast<int>(std::bit_width(n - 1)) - 11;
  }
  static size_t SizeOf(int c) {
    return c < kSmallClasses ? (c + 1) * kGrain : size_t{1} << (c - kSmallClasses + 11);
  }

  bool Reserve() {
    const size_t span = kBytes + kAlign;
    void* m = mmap(nullptr, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return false;
    const auto start = reinterpret_cast<uintptr_t>(m);
    const uintptr_t aligned = (start + kAlign - 1) & ~(kAlign - 1);
    if (aligned > start) munmap(m, aligned - start);
    munmap(reinterpret_cast<void*>(aligned + kBytes), start + span - (aligned + kBytes));
    base_ = reinterpret_cast<char*>(aligned);
    return true;
  }
  void* Take(int c) {
    if (c >= kClasses) return nullptr;
    if (void* p = free_[c]) {
      ASAN_UNPOISON_MEMORY_REGION(p, sizeof(void*));
      free_[c] = *static_cast<void**>(p);
      return p;
    }
    const size_t size = SizeOf(c);
    if (kBytes - top_ < size) return nullptr;
    if (top_ + size > committed_) {
      const size_t to = std::min(kBytes, (top_ + size + kCommitStep - 1) / kCommitStep * kCommitStep);
      if (mprotect(base_ + committed_, to - committed_, PROT_READ | PROT_WRITE) != 0) return nullptr;
      committed_ = to;
    }
    void* p = base_ + top_;
    top_ += size;
    high_ = std::max(high_, top_);
    return p;
  }

  char* base_ = nullptr;
  size_t top_ = 0;        // the bump pointer's offset
  size_t high_ = 0;       // the highest top_ since the pages above kKeptBytes were released
  size_t committed_ = 0;  // writable from base_ up to here
  void* free_[kClasses] = {};
};

}  // namespace flin::server

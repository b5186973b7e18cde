#include "server/script_arena.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

namespace flin::server {

void* ScriptArena::Allocate(size_t n) {
  if (n > kMaxSmall) return std::malloc(n);
  const size_t c = Class(n);
  if (void* b = free_[c]) {
    std::memcpy(&free_[c], b, sizeof(void*));
    return b;
  }
  const size_t bytes = c * kAlign;
  if (chunk_ == kNone || used_ + bytes > kChunkBytes) {
    const size_t next = chunk_ == kNone ? 0 : chunk_ + 1;
    if (next == chunks_.size()) {
      char* fresh = new (std::nothrow) char[kChunkBytes];
      if (fresh == nullptr) return nullptr;
      chunks_.emplace_back(fresh);
    }
    chunk_ = next;
    used_ = 0;
  }
  void* b = chunks_[chunk_].get() + used_;
  used_ += bytes;
  return b;
}

void ScriptArena::Free(void* block, size_t n) {
  if (n > kMaxSmall) return std::free(block);
  const size_t c = Class(n);
  std::memcpy(block, &free_[c], sizeof(void*));
  free_[c] = block;
}

void* ScriptArena::Reallocate(void* block, size_t old, size_t size) {
  if (block == nullptr) old = 0;
  if (size == 0) {
    if (block != nullptr) Free(block, old);
    return nullptr;
  }
  if (block == nullptr) return Allocate(size);
  const bool old_small = old <= kMaxSmall, new_small = size <= kMaxSmall;
  if (old_small && new_small && Class(old) == Class(size)) return block;
  if (!old_small && !new_small) return std::realloc(block, size);
  void* moved = Allocate(size);
  if (moved == nullptr) return nullptr;
  std::memcpy(moved, block, std::min(old, size));
  Free(block, old);
  return moved;
}

void ScriptArena::Reset() {
  std::fill(std::begin(free_), std::end(free_), nullptr);
  chunks_.resize(std::min(chunks_.size(), kKeptBytes / kChunkBytes));
  chunk_ = kNone;
  used_ = 0;
}

}  // namespace flin::server

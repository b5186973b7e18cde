#include "server/script_arena.h"

#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>
#include <vector>

namespace flin::server {
namespace {

TEST(ScriptArenaTest, BlocksAreDistinctAlignedAndKeepTheirBytes) {
  ScriptArena a;
  std::vector<std::pair<char*, size_t>> blocks;
  for (size_t n = 1; n < 2000; n += 7) {
    auto* b = static_cast<char*>(a.Reallocate(nullptr, 0, n));
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b) % ScriptArena::kAlign, 0u);
    std::memset(b, static_cast<int>(n & 0xff), n);
    blocks.emplace_back(b, n);
  }
  for (auto [b, n] : blocks) {
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(static_cast<unsigned char>(b[i]), n & 0xff);
  }
  for (auto [b, n] : blocks) a.Reallocate(b, n, 0);
  a.Reset();
}

TEST(ScriptArenaTest, GrowingAndShrinkingKeepsTheContents) {
  ScriptArena a;
  auto* b = static_cast<char*>(a.Reallocate(nullptr, 0, 10));
  std::memcpy(b, "0123456789", 10);
  size_t size = 10;
  for (size_t next : {12, 100, 600, 5000, 300, 20, 10}) {
    b = static_cast<char*>(a.Reallocate(b, size, next));
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(std::string(b, 10), "0123456789") << next;
    size = next;
  }
  a.Reallocate(b, size, 0);
}

TEST(ScriptArenaTest, FreedBlocksAreReusedAndResetKeepsABoundedNumberOfChunks) {
  ScriptArena a;
  void* first = a.Reallocate(nullptr, 0, 32);
  a.Reallocate(first, 32, 0);
  EXPECT_EQ(a.Reallocate(nullptr, 0, 30), first);  // same class, from the free list
  // Far more than the arena keeps: 8 MiB of small blocks.
  for (int i = 0; i < (8 << 20) / 256; ++i) ASSERT_NE(a.Reallocate(nullptr, 0, 256), nullptr);
  EXPECT_GE(a.chunks(), (8u << 20) / ScriptArena::kChunkBytes);
  a.Reset();
  EXPECT_EQ(a.chunks(), ScriptArena::kKeptBytes / ScriptArena::kChunkBytes);
  // After Reset the first chunk is cut again from its start.
  std::set<void*> seen;
  for (int i = 0; i < 10; ++i) seen.insert(a.Reallocate(nullptr, 0, 64));
  EXPECT_EQ(seen.size(), 10u);
}

}  // namespace
}  // namespace flin::server

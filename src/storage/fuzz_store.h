#pragma once
// For libFuzzer targets that need a Store: one per process, in a fresh temporary directory
// that is removed at exit. Call it once, from LLVMFuzzerInitialize.

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "storage/store.h"

namespace flin::storage {

inline Store* OpenFuzzStore(const std::string& name) {
  static std::unique_ptr<Store> store;
  static std::string dir;
  dir = (std::filesystem::temp_directory_path() / (name + "_" + std::to_string(getpid()))).string();
  std::filesystem::remove_all(dir);
  StoreOptions o;
  o.dir = dir;
  o.block_cache_bytes = 8 << 20;
  o.write_buffer_bytes = 8 << 20;
  auto s = Store::Open(o);
  if (!s.ok()) abort();
  store = std::move(s).value();
  atexit([] {
    store.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  });
  return store.get();
}

}  // namespace flin::storage

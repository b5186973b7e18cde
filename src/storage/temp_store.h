#pragma once
// For GoogleTest tests that need a real Store: a fixture owning one in a fresh directory named
// after the test (removed at the end), and Reopen() to close and reopen it on the same data,
// as a restart does. Test code only (includes gtest).

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "storage/store.h"

namespace flin::storage {

class TempStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() /
            ("flin_test_" + std::to_string(getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    std::filesystem::remove_all(dir_);
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen() {
    store_.reset();
    StoreOptions o;
    o.dir = dir_;
    o.block_cache_bytes = 8 << 20;
    if (write_buffer_entries_) o.write_buffer_entries = *write_buffer_entries_;
    auto r = Store::Open(o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    store_ = std::move(r).value();
  }
  std::string dir_;
  std::optional<size_t> write_buffer_entries_;  // set, then Reopen(): StoreOptions' own
  std::unique_ptr<Store> store_;
};

}  // namespace flin::storage

#include "common/durable_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace flin {
namespace {

namespace fs = std::filesystem;

std::string Read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class DurableFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("flin-durable-file-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(DurableFileTest, WritesAndReplacesTheWholeContents) {
  const std::string path = (dir_ / "marker").string();
  ASSERT_TRUE(WriteFileDurably(path, "first, longer contents\n").ok());
  EXPECT_EQ(Read(path), "first, longer contents\n");
  ASSERT_TRUE(WriteFileDurably(path, "second\n").ok());
  EXPECT_EQ(Read(path), "second\n");  // truncated, not overwritten in place
  ASSERT_TRUE(WriteFileDurably(path, "").ok());
  EXPECT_EQ(Read(path), "");
}

TEST_F(DurableFileTest, ReportsWhatFailed) {
  Status s = WriteFileDurably((dir_ / "no-such-dir" / "f").string(), "x");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cannot create"), std::string::npos) << s.message();
  s = SyncDir((dir_ / "no-such-dir").string());
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(SyncDir(dir_.string()).ok());
}

TEST_F(DurableFileTest, MakesEveryMissingDirectory) {
  const fs::path deep = dir_ / "a" / "b" / "c";
  ASSERT_TRUE(MakeDirsDurably(deep.string()).ok());
  EXPECT_TRUE(fs::is_directory(deep));
  ASSERT_TRUE(MakeDirsDurably(deep.string() + "/").ok());  // there already: nothing to do
  ASSERT_TRUE(WriteFileDurably((dir_ / "a" / "file").string(), "x").ok());
  Status s = MakeDirsDurably((dir_ / "a" / "file" / "d").string());
  EXPECT_FALSE(s.ok());  // a file where a directory should be
  EXPECT_NE(s.message().find("cannot create"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace flin

#include "server/backups.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "storage/temp_store.h"

namespace flin::server {
namespace {

namespace fs = std::filesystem;

class BackupsTest : public storage::TempStoreTest {
 protected:
  void Put(const std::string& k, const std::string& v) {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    ASSERT_TRUE(store_->db()->Put(wo, k, v).ok());
  }
  std::string backup_dir() const { return dir_ + "-backups"; }
  void TearDown() override {
    TempStoreTest::TearDown();
    fs::remove_all(backup_dir());
  }
  // The keys a backup holds, opened as a store of its own.
  static std::string Read(const std::string& path, const std::string& key) {
    storage::StoreOptions o;
    o.dir = path;
    o.block_cache_bytes = 1 << 20;
    auto s = storage::Store::Open(o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) return "?";
    std::string v;
    return s.value()->db()->Get(rocksdb::ReadOptions(), key, &v).ok() ? v : "(none)";
  }
  std::vector<std::string> Listing() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(backup_dir())) {
      names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }
};

TEST_F(BackupsTest, ABackupIsTheStoreAsItWasAndOpensOnItsOwn) {
  uint64_t changes = 10;
  Backups b(store_.get(), {backup_dir(), 3, [&] { return changes; }}, 100);
  EXPECT_EQ(b.last_save_unix(), 100);
  EXPECT_EQ(b.last_seconds(), -1);
  Put("mk1", "before");
  EXPECT_EQ(b.changes_since_last_save(), 10u);
  Result<std::string> first = b.Save();
  changes = 13;
  EXPECT_EQ(b.changes_since_last_save(), 3u);
  EXPECT_EQ(b.current_seconds(), -1);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  Put("mk1", "after");
  Put("mk2", "after");
  EXPECT_EQ(Read(first.value(), "mk1"), "before");
  EXPECT_EQ(Read(first.value(), "mk2"), "(none)");
  EXPECT_GT(b.last_save_unix(), 100);
  EXPECT_TRUE(b.last_ok());
  EXPECT_EQ(b.last_path(), first.value());
  EXPECT_EQ(fs::path(first.value()).parent_path().string(), backup_dir());
  // The original goes on, and a backup taken now has the new values.
  Result<std::string> second = b.Save();
  ASSERT_TRUE(second.ok());
  EXPECT_NE(second.value(), first.value());
  EXPECT_EQ(Read(second.value(), "mk2"), "after");
}

// A directory named like a backup of ours, holding a marker.
void FakeBackup(const std::string& path, const std::string& source, int seq) {
  fs::create_directories(path);
  std::ofstream(path + "/" + Backups::kMarker) << "source \"" << source << "\"\nseq " << seq << "\n";
}

TEST_F(BackupsTest, KeepsItsNewestBySequenceAndTouchesNothingElse) {
  const std::string bd = backup_dir();
  const std::string crashed = bd + "/flin-backup-20200101T000000.000Z.tmp";
  const std::string fresh_tmp = bd + "/flin-backup-20200101T000001.000Z.tmp";  // being made
  fs::create_directories(crashed);
  fs::create_directories(fresh_tmp);
  fs::last_write_time(crashed, fs::file_time_type::clock::now() - std::chrono::hours(2));
  fs::create_directories(bd + "/someone-elses");
  fs::create_directories(bd + "/flin-backup-20190101T000000.000Z");  // no marker: not ours
  FakeBackup(bd + "/flin-backup-20190102T000000.000Z", "/another/server", 1);
  // Made by this node while its clock was far ahead: the newest name, the oldest sequence.
  FakeBackup(bd + "/flin-backup-29991231T000000.000Z", fs::weakly_canonical(dir_).string(), 1);
  Backups b(store_.get(), {bd, 2, nullptr}, 0);
  std::vector<std::string> made;
  for (int i = 0; i < 3; ++i) {
    Put("mk", std::to_string(i));
    auto r = b.Save();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    made.push_back(fs::path(r.value()).filename().string());
    EXPECT_TRUE(fs::exists(r.value())) << "the backup just made is never removed";
  }
  std::vector<std::string> want = {"flin-backup-20190101T000000.000Z",
                                   "flin-backup-20190102T000000.000Z",
                                   fs::path(fresh_tmp).filename().string(), made[1], made[2],
                                   "someone-elses"};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(Listing(), want);
  EXPECT_EQ(Read(bd + "/" + made[2], "mk"), "2");
  EXPECT_EQ(b.saves(), 3u);
}

TEST_F(BackupsTest, ABackupStartedOnIsLiveDataAndTheDefaultDirIsASibling) {
  Backups b(store_.get(), {backup_dir(), 1, nullptr}, 0);
  auto r = b.Save();
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(fs::exists(r.value() + "/" + Backups::kMarker));
  EXPECT_TRUE(Backups::ForgetMarker(r.value()));  // as a server started on it does
  EXPECT_FALSE(Backups::ForgetMarker(r.value()));
  ASSERT_TRUE(b.Save().ok());  // keep 1: the unmarked one is not this node's to remove
  EXPECT_TRUE(fs::exists(r.value()));
  const std::string abs = fs::weakly_canonical(dir_).string();
  EXPECT_EQ(Backups::DefaultDir(dir_), abs + "-backups");
  EXPECT_EQ(Backups::DefaultDir(dir_ + "/"), abs + "-backups");
  EXPECT_EQ(Backups::DefaultDir(dir_ + "/./"), abs + "-backups");
}

TEST_F(BackupsTest, BackgroundRunsOnItsOwnThreadOneAtATime) {
  Backups b(store_.get(), {backup_dir(), 3, nullptr}, 0);
  Put("mk", "v");
  ASSERT_TRUE(b.Background());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (b.in_progress() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_FALSE(b.in_progress());
  EXPECT_TRUE(b.last_ok());
  EXPECT_EQ(Read(b.last_path(), "mk"), "v");
  ASSERT_TRUE(b.Background());  // the finished thread is joined, a new one started
}  // the destructor waits for the second

TEST_F(BackupsTest, AFailedBackupIsReportedAndChangesNothing) {
  std::ofstream(backup_dir()) << "a file where the directory should be";
  Backups b(store_.get(), {backup_dir(), 3, nullptr}, 7);
  Result<std::string> r = b.Save();
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(b.last_ok());
  EXPECT_NE(b.last_error(), "");
  EXPECT_EQ(b.last_save_unix(), 7);
  EXPECT_EQ(b.last_path(), "");
  fs::remove(backup_dir());
  ASSERT_TRUE(b.Save().ok());  // and works again once it can
  EXPECT_TRUE(b.last_ok());
  EXPECT_EQ(b.last_error(), "");
}

}  // namespace
}  // namespace flin::server

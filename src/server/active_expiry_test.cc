#include "server/active_expiry.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "server/command.h"
#include "storage/encoding.h"
#include "storage/temp_store.h"

namespace flin::server {
namespace {

constexpr int kPartitions = 4;
constexpr int64_t kNow = 1'000'000;

class ActiveExpiryTest : public storage::TempStoreTest {
 protected:
  void SetUp() override {
    TempStoreTest::SetUp();
    terms_.assign(kPartitions, 1);
    ActiveExpiry::Hooks hooks;
    hooks.leader_term = [this](int p) { return terms_[p]; };
    hooks.propose = [this](int p, std::string command) {
      proposed_.emplace_back(p, std::move(command));
    };
    expiry_ = std::make_unique<ActiveExpiry>(store_.get(), kPartitions, std::move(hooks));
  }
  void TearDown() override {
    expiry_.reset();
    TempStoreTest::TearDown();
  }
  void Put(int partition, const std::string& key, int64_t expire_at = 0) {
    std::string k, v;
    storage::EncodeDataKey(partition, key, &k);
    storage::EncodeValue(storage::ValueType::kString, expire_at, "v", &v);
    rocksdb::WriteBatch wb;
    wb.Put(k, v);
    ASSERT_TRUE(store_->Write(&wb, false).ok());
  }
  // The keys proposed for deletion, in order, as "partition:key".
  std::vector<std::string> Proposed() {
    std::vector<std::string> out;
    for (const auto& [p, command] : proposed_) {
      std::vector<std::string_view> args;
      EXPECT_TRUE(DecodeCommand(command, &args));
      EXPECT_EQ(args.at(0), "flin.expired");
      for (size_t i = 1; i + 1 < args.size(); i += 2) {
        out.push_back(std::to_string(p) + ":" + std::string(args[i]));
      }
    }
    proposed_.clear();
    return out;
  }
  std::vector<uint64_t> terms_;
  std::vector<std::pair<int, std::string>> proposed_;
  std::unique_ptr<ActiveExpiry> expiry_;
};

TEST_F(ActiveExpiryTest, ProposesTheExpiredKeysOfEachLedPartition) {
  Put(0, "gone", kNow - 1);
  Put(0, "later", kNow + 1000);
  Put(1, "kept");
  Put(2, "also-gone", kNow);
  Put(3, "not-mine", kNow - 1);
  terms_[3] = 0;  // led elsewhere: its leader deletes it
  expiry_->Cycle(kNow);
  EXPECT_EQ(Proposed(), (std::vector<std::string>{"0:gone", "2:also-gone"}));
  EXPECT_EQ(expiry_->scanned(), 4u);  // partition 3 was skipped, not read
}

TEST_F(ActiveExpiryTest, SleepsOnceAPassFindsNoExpiryAndWakesOnAWriteWithOne) {
  for (int i = 0; i < 100; ++i) Put(i % kPartitions, "k" + std::to_string(i));
  expiry_->Cycle(kNow);
  EXPECT_TRUE(expiry_->sleeping());
  const uint64_t scanned = expiry_->scanned();
  EXPECT_EQ(scanned, 100u);
  Put(1, "plain");  // no expiry: no reason to look again
  for (int i = 0; i < 5; ++i) expiry_->Cycle(kNow);
  EXPECT_EQ(expiry_->scanned(), scanned);

  Put(2, "volatile", kNow - 5);
  expiry_->Cycle(kNow);
  EXPECT_FALSE(expiry_->sleeping());  // this pass saw a key with an expiry
  EXPECT_EQ(Proposed(), std::vector<std::string>{"2:volatile"});
}

TEST_F(ActiveExpiryTest, KeepsPassingWhileAKeyHasAnExpiry) {
  Put(0, "k", kNow + 1000);
  expiry_->Cycle(kNow);
  EXPECT_FALSE(expiry_->sleeping());
  EXPECT_TRUE(Proposed().empty());
  expiry_->Cycle(kNow + 1000);
  EXPECT_EQ(Proposed(), std::vector<std::string>{"0:k"});
}

TEST_F(ActiveExpiryTest, ResumesWhereTheLastCycleStopped) {
  const int n = ActiveExpiry::kScanPerCycle + 10;
  for (int i = 0; i < n; ++i) {
    char key[16];
    snprintf(key, sizeof key, "k%06d", i);
    Put(0, key, i == n - 1 ? kNow - 1 : 0);
  }
  expiry_->Cycle(kNow);
  EXPECT_EQ(expiry_->scanned(), static_cast<uint64_t>(ActiveExpiry::kScanPerCycle));
  EXPECT_TRUE(Proposed().empty());
  expiry_->Cycle(kNow);
  EXPECT_EQ(expiry_->scanned(), static_cast<uint64_t>(n));
  char last[16];
  snprintf(last, sizeof last, "0:k%06d", n - 1);
  EXPECT_EQ(Proposed(), std::vector<std::string>{last});
}

// The write lands behind the pass's cursor, where this pass will not look: the pass must not
// conclude that no key has an expiry.
TEST_F(ActiveExpiryTest, AWriteBehindTheCursorDuringAPassIsFoundByTheNext) {
  for (int i = 0; i < ActiveExpiry::kScanPerCycle + 10; ++i) {
    char key[16];
    snprintf(key, sizeof key, "k%06d", i);
    Put(1, key);
  }
  expiry_->Cycle(kNow);  // the pass stops in partition 1
  Put(0, "behind", kNow - 1);
  expiry_->Cycle(kNow);  // ends the pass
  EXPECT_TRUE(Proposed().empty());
  EXPECT_FALSE(expiry_->sleeping());
  expiry_->Cycle(kNow);
  EXPECT_EQ(Proposed(), std::vector<std::string>{"0:behind"});
}

TEST_F(ActiveExpiryTest, ALeadershipChangeWakesIt) {
  Put(3, "theirs", kNow - 1);
  terms_[3] = 0;
  expiry_->Cycle(kNow);
  EXPECT_TRUE(expiry_->sleeping());
  EXPECT_TRUE(Proposed().empty());
  terms_[3] = 7;  // this node now leads partition 3
  expiry_->Cycle(kNow);
  EXPECT_EQ(Proposed(), std::vector<std::string>{"3:theirs"});
}

TEST_F(ActiveExpiryTest, LeadershipChangingDuringAPassMakesItInconclusive) {
  for (int i = 0; i < ActiveExpiry::kScanPerCycle + 10; ++i) {
    char key[16];
    snprintf(key, sizeof key, "k%06d", i);
    Put(1, key);
  }
  Put(0, "first", kNow - 1);
  terms_[0] = 0;
  expiry_->Cycle(kNow);  // skips partition 0, stops in partition 1
  terms_[0] = 2;         // partition 0, behind the cursor, is now this node's
  expiry_->Cycle(kNow);
  EXPECT_TRUE(Proposed().empty());
  EXPECT_FALSE(expiry_->sleeping());
  expiry_->Cycle(kNow);
  EXPECT_EQ(Proposed(), std::vector<std::string>{"0:first"});
}

}  // namespace
}  // namespace flin::server

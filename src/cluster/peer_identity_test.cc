#include "cluster/peer_identity.h"

#include "cluster/group_storage.h"
#include "storage/temp_store.h"

namespace flin::cluster {
namespace {

using Verdict = PeerIdentity::Verdict;

class PeerIdentityTest : public storage::TempStoreTest {
 protected:
  void SetUp() override {
    TempStoreTest::SetUp();
    OpenIdentity();
  }
  void TearDown() override {
    id_.reset();
    TempStoreTest::TearDown();
  }
  // Closes and reopens the store and the identity on it, as a restart does.
  void OpenIdentity(size_t nodes = 3, bool reopen_store = false) {
    id_.reset();
    if (reopen_store) Reopen();
    auto id = PeerIdentity::Open(store_.get(), nodes);
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    id_ = std::move(id).value();
  }
  void Restart(size_t nodes = 3) { OpenIdentity(nodes, /*reopen_store=*/true); }

  std::unique_ptr<PeerIdentity> id_;
};

TEST_F(PeerIdentityTest, AFreshNodeThatAMajorityNeverMetIsNew) {
  EXPECT_EQ(id_->verdict(), Verdict::kUnresolved);
  const uint64_t mine = id_->incarnation();
  EXPECT_NE(mine, 0u);
  id_->OnHandshake(2, 222, 0, false);  // with itself, 2 of 3 nodes
  EXPECT_EQ(id_->verdict(), Verdict::kNew);
  EXPECT_EQ(id_->MemoryOf(2), std::make_pair(uint64_t{222}, false));
  ASSERT_TRUE(id_->Settle().ok());
  EXPECT_EQ(id_->verdict(), Verdict::kResolved);
  Restart();  // resolved for good; the incarnation and the peer are remembered
  EXPECT_EQ(id_->verdict(), Verdict::kResolved);
  EXPECT_EQ(id_->incarnation(), mine);
  EXPECT_EQ(id_->MemoryOf(2), std::make_pair(uint64_t{222}, false));
}

TEST_F(PeerIdentityTest, AFreshNodeAPeerKnewUnderAnotherIncarnationIsAReplacement) {
  id_->OnHandshake(2, 222, /*known_of_us=*/12345, false);
  EXPECT_EQ(id_->verdict(), Verdict::kReplacement);
  // Nor is it taken back by a peer that never met it.
  id_->OnHandshake(3, 333, 0, false);
  EXPECT_EQ(id_->verdict(), Verdict::kReplacement);
}

TEST_F(PeerIdentityTest, APeerThatKnowsThisIncarnationAsAReplacementSaysSo) {
  // The peer learned this incarnation (and that it replaced one) before dialing us.
  id_->OnHandshake(2, 222, id_->incarnation(), /*we_replaced=*/true);
  EXPECT_EQ(id_->verdict(), Verdict::kReplacement);
}

TEST_F(PeerIdentityTest, UnresolvedSurvivesARestartAndAnOriginalIsNew) {
  Restart();  // crashed before any peer answered: still unresolved
  EXPECT_EQ(id_->verdict(), Verdict::kUnresolved);
  // A peer met this incarnation before the restart, as an original: nothing was lost.
  id_->OnHandshake(3, 333, id_->incarnation(), false);
  EXPECT_EQ(id_->verdict(), Verdict::kNew);
}

TEST_F(PeerIdentityTest, ADirectoryWithRaftStateIsNotFresh) {
  id_.reset();
  store_.reset();
  std::filesystem::remove_all(dir_);
  Reopen();  // an empty store again
  // A hard state of group 0, as a data directory from before incarnations were kept has.
  ASSERT_TRUE(store_->db()->Put(rocksdb::WriteOptions(), GroupMetaKey('h', 0), "x").ok());
  OpenIdentity();
  EXPECT_EQ(id_->verdict(), Verdict::kResolved);
  EXPECT_NE(id_->incarnation(), 0u);
}

TEST_F(PeerIdentityTest, AClusterOfOneIsNewAtOnce) {
  Restart(/*nodes=*/1);
  EXPECT_EQ(id_->verdict(), Verdict::kNew);
}

TEST_F(PeerIdentityTest, APeerOnANewDataDirectoryIsReportedOnceAndRemembered) {
  id_->OnHandshake(2, 222, 0, false);
  EXPECT_TRUE(id_->TakeReplacedPeers().empty());  // first met: nothing was replaced
  id_->OnHandshake(2, 223, 0, false);
  EXPECT_EQ(id_->TakeReplacedPeers(), std::vector<uint64_t>{2});
  EXPECT_TRUE(id_->TakeReplacedPeers().empty());
  EXPECT_EQ(id_->MemoryOf(2), std::make_pair(uint64_t{223}, true));
  id_->OnHandshake(2, 223, 0, false);  // the same again: nothing new
  EXPECT_TRUE(id_->TakeReplacedPeers().empty());
  Restart();
  EXPECT_EQ(id_->MemoryOf(2), std::make_pair(uint64_t{223}, true));
}

}  // namespace
}  // namespace flin::cluster

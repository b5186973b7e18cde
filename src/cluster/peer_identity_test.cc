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
  // Peer `peer` (on incarnation `inc`) says it knows this node as `known` (0: never met).
  bool Hello(uint64_t peer, uint64_t inc, uint64_t known, bool replaced = false,
             bool peer_unresolved = false) {
    Handshake h;
    h.node_id = peer;
    h.incarnation = inc;
    h.known_of_receiver = known;
    h.receiver_replaced = replaced;
    h.sender_cannot_vouch = peer_unresolved;
    auto r = id_->OnHandshake(peer, h);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() && r.value();
  }

  std::unique_ptr<PeerIdentity> id_;
};

TEST_F(PeerIdentityTest, AFreshNodeThatAMajorityNeverMetIsNew) {
  EXPECT_EQ(id_->verdict(), Verdict::kUnresolved);
  const uint64_t mine = id_->incarnation();
  EXPECT_NE(mine, 0u);
  Hello(2, 222, 0, false);  // with itself, 2 of 3 nodes
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
  Hello(2, 222, /*known_of_us=*/12345, false);
  EXPECT_EQ(id_->verdict(), Verdict::kReplacement);
  // Nor is it taken back by a peer that never met it.
  Hello(3, 333, 0, false);
  EXPECT_EQ(id_->verdict(), Verdict::kReplacement);
}

TEST_F(PeerIdentityTest, APeerThatKnowsThisIncarnationAsAReplacementSaysSo) {
  // The peer learned this incarnation (and that it replaced one) before dialing us.
  Hello(2, 222, id_->incarnation(), /*replaced=*/true);
  EXPECT_EQ(id_->verdict(), Verdict::kReplacement);
}

TEST_F(PeerIdentityTest, UnresolvedSurvivesARestartAndAnOriginalIsNew) {
  Restart();  // crashed before any peer answered: still unresolved
  EXPECT_EQ(id_->verdict(), Verdict::kUnresolved);
  // A peer met this incarnation before the restart, as an original: nothing was lost.
  Hello(3, 333, id_->incarnation(), false);
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
  EXPECT_FALSE(Hello(2, 222, 0));  // first met: nothing was replaced
  EXPECT_TRUE(Hello(2, 223, 0));
  EXPECT_EQ(id_->MemoryOf(2), std::make_pair(uint64_t{223}, true));
  EXPECT_FALSE(Hello(2, 223, 0));  // the same again: nothing new
  Handshake h;
  id_->FillHandshake(2, &h);
  EXPECT_EQ(h.incarnation, id_->incarnation());
  EXPECT_EQ(h.known_of_receiver, 223u);
  EXPECT_TRUE(h.receiver_replaced);
  Restart();
  EXPECT_EQ(id_->MemoryOf(2), std::make_pair(uint64_t{223}, true));
}

TEST_F(PeerIdentityTest, WhereMovedPeersAreIsRememberedAcrossARestart) {
  EXPECT_TRUE(id_->Addresses().empty());
  id_->RememberAddress(2, "10.0.0.2:7002:17002");
  id_->RememberAddress(3, "10.0.0.3:7003:17003");
  Restart();
  EXPECT_EQ(id_->Addresses(), (std::map<uint64_t, std::string>{{2, "10.0.0.2:7002:17002"},
                                                                {3, "10.0.0.3:7003:17003"}}));
  id_->RememberAddress(3, "");  // back where the list puts it
  Restart();
  EXPECT_EQ(id_->Addresses(), (std::map<uint64_t, std::string>{{2, "10.0.0.2:7002:17002"}}));
}

TEST_F(PeerIdentityTest, UnresolvedPeersVouchOnlyWhenEveryNodeHasSpoken) {
  // Two nodes wiped together: the other one's "never met you" proves nothing...
  Handshake mine;
  id_->FillHandshake(2, &mine);
  EXPECT_TRUE(mine.sender_cannot_vouch);
  Hello(2, 222, 0, false, /*peer_unresolved=*/true);
  EXPECT_EQ(id_->verdict(), Verdict::kUnresolved);
  // ... and the survivor, heard later, knew this node.
  Hello(3, 333, /*known=*/12345);
  EXPECT_EQ(id_->verdict(), Verdict::kReplacement);
}

TEST_F(PeerIdentityTest, AFirstStartResolvesOnceEveryNodeHasSpoken) {
  Hello(2, 222, 0, false, /*peer_unresolved=*/true);
  EXPECT_EQ(id_->verdict(), Verdict::kUnresolved);
  Hello(3, 333, 0, false, /*peer_unresolved=*/true);
  EXPECT_EQ(id_->verdict(), Verdict::kNew);
}

// Nodes 2 and 3 lost their data directories at once; node 2 already heard from the survivor
// (node 1) that it is a replacement. Its memory of its peers begins at its loss, so its
// "never met you" to node 3 proves nothing, resolved as it is: node 3 must wait for node 1,
// which knew it. (Node 3 took itself for a new member and voted, found by
// tests/test_cluster.py's two wiped nodes.)
TEST_F(PeerIdentityTest, AReplacementCannotVouchThatItNeverMetAPeer) {
  Hello(1, 111, /*known=*/12345);  // this node: the survivor knew it
  ASSERT_EQ(id_->verdict(), Verdict::kReplacement);
  ASSERT_TRUE(id_->Settle().ok());
  Handshake h;
  id_->FillHandshake(3, &h);
  EXPECT_TRUE(h.sender_cannot_vouch) << "a replacement vouched that it never met node 3";
  Restart();  // remembered
  id_->FillHandshake(3, &h);
  EXPECT_TRUE(h.sender_cannot_vouch);
}

TEST_F(PeerIdentityTest, ANodeStartedOnABackupCannotVouchThatItNeverMetAPeer) {
  Hello(2, 222, 0);  // with itself a majority that never met it: new
  ASSERT_EQ(id_->verdict(), Verdict::kNew);
  ASSERT_TRUE(id_->Settle().ok());
  Handshake h;
  id_->FillHandshake(3, &h);
  EXPECT_FALSE(h.sender_cannot_vouch);  // an original remembers every peer it met
  ASSERT_TRUE(id_->Reincarnate().ok());  // its memory is as old as the copy
  id_->FillHandshake(3, &h);
  EXPECT_TRUE(h.sender_cannot_vouch);
  Restart();
  id_->FillHandshake(3, &h);
  EXPECT_TRUE(h.sender_cannot_vouch);
}

}  // namespace
}  // namespace flin::cluster

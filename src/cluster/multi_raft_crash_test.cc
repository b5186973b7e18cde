// MultiRaftNode's syncs under --fsync everysec (session 23's review): node 1 is a real
// MultiRaftNode; nodes 2 and 3 are bare Transports the test speaks through, as leaders of the
// partition's successive terms. The test binary interposes pwrite and fdatasync to see whether
// what the log store wrote to its segment was ever made durable.

#include "cluster/multi_raft.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "cluster/transport.h"
#include "net/event_loop.h"
#include "net/socket.h"
#include "raft/codec.h"
#include "cluster/multi_raft_test_util.h"

// Per file descriptor of a log segment: the sequence number of its last write and of its last
// fdatasync (one counter for both).
namespace {
std::mutex g_io_mu;
uint64_t g_io_seq = 0;
std::map<int, std::pair<uint64_t, uint64_t>> g_segment_io;  // fd → (last write, last sync)

bool IsSegment(int fd) {
  char link[64], path[4096];
  snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  const ssize_t n = readlink(link, path, sizeof(path) - 1);
  if (n <= 0) return false;
  path[n] = '\0';
  const std::string p(path);
  return p.find("/raft-log/") != std::string::npos && p.size() > 4 &&
         p.compare(p.size() - 4, 4, ".seg") == 0;
}
}  // namespace

extern "C" ssize_t pwrite(int fd, const void* buf, size_t n, off_t at) {
  using Fn = ssize_t (*)(int, const void*, size_t, off_t);
  static Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "pwrite"));
  const ssize_t r = real(fd, buf, n, at);
  if (r > 0 && IsSegment(fd)) {
    std::lock_guard<std::mutex> lock(g_io_mu);
    g_segment_io[fd].first = ++g_io_seq;
  }
  return r;
}

extern "C" int fdatasync(int fd) {
  using Fn = int (*)(int);
  static Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "fdatasync"));
  const bool segment = IsSegment(fd);
  uint64_t seq = 0;
  if (segment) {
    std::lock_guard<std::mutex> lock(g_io_mu);
    seq = ++g_io_seq;  // covers the writes before it
  }
  const int r = real(fd);
  if (segment && r == 0) {
    std::lock_guard<std::mutex> lock(g_io_mu);
    g_segment_io[fd].second = std::max(g_segment_io[fd].second, seq);
  }
  return r;
}

namespace flin::cluster {
namespace {

using namespace flin::cluster::testing;  // NOLINT

class MultiRaftCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("flin_multi_raft_crash_" + std::to_string(getpid()));
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
    for (int i = 0; i < 3; ++i) bus_[i] = FreePort();
    for (int i = 0; i < 3; ++i) {
      if (!list_.empty()) list_ += ",";
      list_ += std::to_string(i + 1) + "@127.0.0.1:" + std::to_string(16480 + i) + ":" +
               std::to_string(bus_[i]);
    }
    storage::StoreOptions so;
    so.dir = root_ + "/n1";
    so.block_cache_bytes = 8 << 20;
    so.insert_hint_prefix = GroupKeyInsertHint();
    auto store = storage::Store::Open(so);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    auto topo = Topology::Parse(list_, 1, 1, 3);
    ASSERT_TRUE(topo.ok()) << topo.status().ToString();
    const std::string cluster_id = topo->cluster_id();
    MultiRaftOptions mo;
    mo.tick_ms = 10;
    mo.balance_leaders = false;
    mo.fsync = FsyncPolicy::kEverySec;
    mo.snapshot_dir = root_ + "/n1/snapshots";
    node_ = std::make_unique<MultiRaftNode>(store_.get(), &machine_, std::move(topo).value(), mo);
    ASSERT_TRUE(node_->Start().ok());
    for (uint64_t id = 2; id <= 3; ++id) {
      TransportOptions to;
      to.node_id = id;
      to.cluster_id = cluster_id;
      to.fill_handshake = [id](uint64_t, Handshake* h) { h->incarnation = 0x1000 + id; };
      to.bind_port = bus_[id - 1];
      PeerAddress a;
      a.id = 1;
      a.host = "127.0.0.1";
      a.port = bus_[0];
      to.peers.push_back(a);
      fake_[id - 2] = std::make_unique<Transport>(to, [this](uint64_t, std::string&& payload) {
        std::string_view in = payload;
        while (in.size() >= 6) {
          uint32_t len = 0;
          for (int i = 0; i < 4; ++i) len |= static_cast<uint32_t>(static_cast<uint8_t>(in[2 + i])) << (8 * i);
          in.remove_prefix(6);
          if (len > in.size()) break;
          auto m = raft::DecodeMessage(in.substr(0, len));
          in.remove_prefix(len);
          if (!m.ok()) continue;
          std::lock_guard<std::mutex> lock(mu_);
          if (m->type == raft::MessageType::kAppendResp && !m->reject) {
            acked_ = std::max(acked_, m->index);
          }
        }
      });
      ASSERT_TRUE(fake_[id - 2]->Start().ok());
    }
  }
  void TearDown() override {
    for (auto& f : fake_) f.reset();
    if (node_) node_->Stop();
    node_.reset();
    store_.reset();
    std::filesystem::remove_all(root_);
  }
  bool Send(uint64_t from, const raft::Message& m) { return fake_[from - 2]->Send(1, Payload(0, m)); }
  uint64_t acked() {
    std::lock_guard<std::mutex> lock(mu_);
    return acked_;
  }
  static raft::Entry E(uint64_t index, uint64_t term) {
    return raft::Entry{term, index, raft::EntryType::kNormal, std::string(8, '\0') + "x"};
  }

  std::string root_;
  int bus_[3] = {0, 0, 0};
  std::string list_;
  NoopMachine machine_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<MultiRaftNode> node_;
  std::unique_ptr<Transport> fake_[2];
  std::mutex mu_;
  uint64_t acked_ = 0;
};

// Under everysec a round that changes a term or vote is synced at once (safety), and marks the
// log synced (log_unsynced_ = false, last_log_sync_ms_) — but it syncs the log only if that
// round appended entries. Entries a follower wrote and acknowledged in the second before, unsynced,
// then stay unsynced for as long as no later round appends anything (SyncLogEverySecond sees
// nothing to do): a power cut a minute later loses acknowledged writes, where everysec promises
// at most about a second. (And RocksDB's part of that round, synced, holds a commit index past
// the durable log and applies of entries the log may lose: group_storage_crash_review_test.)
TEST_F(MultiRaftCrashTest, EntriesAcknowledgedBeforeATermChangeAreSyncedWithinASecond) {
  // Node 2 leads term 5: its first append (with the term change: synced) and a second one
  // within the second (unsynced, acknowledged).
  raft::Message a;
  a.type = raft::MessageType::kAppend;
  a.from = 2;
  a.to = 1;
  a.term = 5;
  a.index = 0;
  a.log_term = 0;
  a.commit = 0;
  a.entries = {E(1, 5)};
  ASSERT_TRUE(WaitFor([&] { return Send(2, a) && WaitFor([&] { return acked() >= 1; }); }));
  a.index = 1;
  a.log_term = 5;
  a.commit = 1;
  a.entries = {E(2, 5), E(3, 5), E(4, 5)};
  ASSERT_TRUE(Send(2, a));
  ASSERT_TRUE(WaitFor([&] { return acked() >= 4; }));
  // Node 3 leads term 6 now: its heartbeat changes node 1's term (a round with nothing to
  // append), and it keeps heartbeating, so that nothing else happens for two seconds.
  raft::Message hb;
  hb.type = raft::MessageType::kHeartbeat;
  hb.from = 3;
  hb.to = 1;
  hb.term = 6;
  hb.commit = 0;
  const int64_t until = net::MonotonicMs() + 2500;
  for (uint64_t tick = 1; net::MonotonicMs() < until; ++tick) {
    hb.tick = tick;
    Send(3, hb);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(node_->View(0).term.load(), 6u);
  std::lock_guard<std::mutex> lock(g_io_mu);
  ASSERT_FALSE(g_segment_io.empty());
  for (const auto& [fd, io] : g_segment_io) {
    EXPECT_GT(io.second, io.first) << "segment fd " << fd << ": written (entries 2..4, "
                                   << "acknowledged) and not fdatasynced 2.5 s later";
  }
}

}  // namespace
}  // namespace flin::cluster

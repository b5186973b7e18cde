// The single node's write path (SingleNodeReplicator over Store/WriteTxn) under
// --fsync always: a read must never see a write that a power cut could still take back.
//
// The test binary interposes fdatasync and fsync to note, per WAL file, how many of its bytes
// were on disk at its last sync (the power-cut model of tests/jepsen/powercut.c): a WAL file
// longer than that holds bytes a power cut may drop.

#include "cluster/single_node.h"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "cluster/replicator_test_util.h"
#include "protocol/reply_writer.h"
#include "storage/encoding.h"
#include "storage/temp_store.h"

namespace {
std::mutex g_sync_mu;
std::map<std::string, off_t> g_synced;  // WAL path → its size at its last successful sync

std::string PathOf(int fd) {
  char link[64], path[4096];
  snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  const ssize_t n = readlink(link, path, sizeof(path) - 1);
  if (n <= 0) return {};
  path[n] = '\0';
  return path;
}

bool IsWal(const std::string& p) {
  return p.size() > 4 && p.compare(p.size() - 4, 4, ".log") == 0 &&
         p.find("flin_test_") != std::string::npos;
}

int NoteSync(int fd, int (*real)(int)) {
  const std::string path = PathOf(fd);
  struct stat st {};
  const bool wal = IsWal(path) && fstat(fd, &st) == 0;  // what the sync covers
  const int r = real(fd);
  if (wal && r == 0) {
    std::lock_guard<std::mutex> lock(g_sync_mu);
    g_synced[path] = std::max(g_synced[path], st.st_size);
  }
  return r;
}

// Bytes of the store's WAL files that no sync covered yet.
off_t UnsyncedWalBytes(const std::string& dir) {
  off_t unsynced = 0;
  std::lock_guard<std::mutex> lock(g_sync_mu);
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string p = std::filesystem::canonical(e.path()).string();
    if (!IsWal(p)) continue;
    const off_t size = static_cast<off_t>(std::filesystem::file_size(p));
    auto it = g_synced.find(p);
    const off_t synced = it == g_synced.end() ? 0 : it->second;
    if (size > synced) unsynced += size - synced;
  }
  return unsynced;
}
}  // namespace

extern "C" int fdatasync(int fd) {
  using Fn = int (*)(int);
  static Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "fdatasync"));
  return NoteSync(fd, real);
}

extern "C" int fsync(int fd) {
  using Fn = int (*)(int);
  static Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "fsync"));
  return NoteSync(fd, real);
}

namespace flin::cluster {
namespace {

// "set <key>", "flushall" (WriteTxn::DeleteAllData, as FLUSHALL), and "probe": what a client
// on another thread (an I/O thread's GET) reads of key "k" at that point of the batch, and how
// much of the WAL a power cut could still take back at that moment.
class ProbeMachine : public StateMachine {
 public:
  explicit ProbeMachine(storage::Store* store, std::string dir)
      : store_(store), dir_(std::move(dir)) {}
  void Apply(storage::WriteTxn& txn, int, int64_t now_ms, std::string_view command,
             protocol::ReplyWriter* reply) override {
    if (command.substr(0, 4) == "set ") {
      std::string raw;
      storage::EncodeValue(storage::ValueType::kString, 0, "v", &raw);
      txn.Put(0, command.substr(4), raw);
    } else if (command == "flushall") {
      if (!txn.DeleteAllData().ok()) {
        if (reply) reply->Error("ERR flush");
        return;
      }
    } else if (command == "probe") {
      std::thread reader([&] {
        std::string raw;
        probed = true;
        k_visible = store_->Get(0, "k", now_ms, &raw).ok();
        unsynced_at_probe = UnsyncedWalBytes(dir_);
      });
      reader.join();
    }
    if (reply) reply->Ok();
  }
  bool probed = false;
  bool k_visible = true;
  off_t unsynced_at_probe = 0;

 private:
  storage::Store* store_;
  std::string dir_;
};

using testing::Waiter;

Proposal Command(std::string command, CompletionSink* sink, int partition = 0) {
  Proposal p;
  p.partition = partition;
  p.command = std::move(command);
  p.sink = sink;
  return p;
}

class SingleNodeDurabilityTest : public storage::TempStoreTest {};

// --fsync always: FLUSHALL (WriteTxn::DeleteAllData) writes the batch so far and its range
// deletion without a sync, before the batch's one synced write. Meanwhile the deletion (and the
// batch's earlier writes) are readable by every client, though a power cut would take them
// back: a GET answers nil for a key that is there again after the restart. A write under
// "always" must be on disk before anyone can read it.
TEST_F(SingleNodeDurabilityTest, FlushAllIsNotReadableBeforeItIsDurableUnderFsyncAlways) {
  ProbeMachine sm(store_.get(), dir_);
  Waiter waiter;
  SingleNodeOptions o;
  o.fsync = FsyncPolicy::kAlways;
  SingleNodeReplicator rep(store_.get(), &sm, o);
  ASSERT_TRUE(rep.Start().ok());
  ASSERT_TRUE(rep.Propose(Command("set k", &waiter)).ok());
  ASSERT_TRUE(waiter.WaitFor(1));
  ASSERT_EQ(UnsyncedWalBytes(dir_), 0) << "the acknowledged SET is synced";
  // One batch (queued under one lock, so the apply thread takes it whole): an unrelated
  // write, FLUSHALL, and a read by another client while the batch is still being applied.
  std::vector<Proposal> batch;
  batch.push_back(Command("set other", &waiter));
  batch.push_back(Command("flushall", &waiter, -1));
  batch.push_back(Command("probe", &waiter));
  ASSERT_TRUE(rep.ProposeBatch(&batch).ok());
  ASSERT_TRUE(waiter.WaitFor(4));
  rep.Stop();
  ASSERT_TRUE(sm.probed);
  EXPECT_FALSE(!sm.k_visible && sm.unsynced_at_probe > 0)
      << "a reader saw FLUSHALL delete k while " << sm.unsynced_at_probe
      << " bytes of the WAL (the deletion among them) were not yet synced: a power cut now "
         "brings k back, though a client already read it as gone";
}

}  // namespace
}  // namespace flin::cluster

namespace flin::cluster {
namespace {

// "setpx <key> <ms>": sets key with an expiry ms after the entry's time (SET key v PX ms).
class ExpiryMachine : public StateMachine {
 public:
  void Apply(storage::WriteTxn& txn, int, int64_t now_ms, std::string_view command,
             protocol::ReplyWriter* reply) override {
    const size_t sp = command.rfind(' ');
    const std::string key(command.substr(6, sp - 6));
    expire_at = now_ms + std::stoll(std::string(command.substr(sp + 1)));
    std::string raw;
    storage::EncodeValue(storage::ValueType::kString, expire_at, "v", &raw);
    txn.Put(0, key, raw);
    if (reply) reply->Ok();
  }
  int64_t expire_at = 0;
};

// A key every client has read as expired must stay expired after a clean restart, even if
// the machine's clock was set back while the node was down (Store::Get judges by the later of
// the wall clock and the apply clock, which Start() reads back from ClockKey). The persisted
// clock is only the last write's time: a key that expired after the last write and before the
// shutdown came back.
TEST_F(SingleNodeDurabilityTest, AKeyReadAsExpiredStaysExpiredAcrossACleanRestart) {
  int64_t expire_at = 0;
  {
    ExpiryMachine sm;
    Waiter waiter;
    SingleNodeOptions o;
    o.fsync = FsyncPolicy::kAlways;
    SingleNodeReplicator rep(store_.get(), &sm, o);
    ASSERT_TRUE(rep.Start().ok());
    ASSERT_TRUE(rep.Propose(Command("setpx k 200", &waiter)).ok());
    ASSERT_TRUE(waiter.WaitFor(1));
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    std::string raw;
    ASSERT_TRUE(store_->Get(0, "k", UnixMs(), &raw).IsNotFound()) << "a client reads k as gone";
    rep.Stop();
    expire_at = sm.expire_at;
  }
  Reopen();
  // What a restarted node judges expiry by, before its wall clock (set back) could help.
  EXPECT_GE(SingleNodeReplicator::PersistedClock(store_.get()), expire_at)
      << "after a clean shutdown the node's clock is remembered only as of its last write: "
         "restarted with the clock set back, it answers k again though clients saw it expire";
}

}  // namespace
}  // namespace flin::cluster

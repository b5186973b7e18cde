// The apply side of write commands, driven through the state machine the way the log drives
// it: encoded commands, a WriteTxn, the entry's timestamp, and the reply bytes they produce.

#include "server/state_machine.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>

#include "common/slot.h"
#include "storage/store.h"
#include "storage/write_txn.h"

namespace flin::server {
namespace {

class StateMachineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("flin_sm_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    storage::StoreOptions o;
    o.dir = dir_;
    o.block_cache_bytes = 8 << 20;
    auto r = storage::Store::Open(o);
    ASSERT_TRUE(r.ok());
    store_ = std::move(r).value();
    txn_ = std::make_unique<storage::WriteTxn>(store_.get());
  }
  void TearDown() override {
    txn_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  // Applies one command at time `now` and returns its RESP2 reply.
  std::string Apply(std::vector<std::string> args, int64_t now = 1000000, int partition = -1) {
    std::string cmd, reply;
    EncodeCommand(args, &cmd);
    protocol::ReplyWriter w(&reply, 2);
    sm_.Apply(*txn_, partition, now, cmd, &w);
    return reply;
  }
  // An element of a transaction's entry (transaction_family.cc): "<partition> <command>".
  static std::string Queued(int partition, std::vector<std::string> args) {
    std::string cmd;
    EncodeCommand(args, &cmd);
    return std::to_string(partition) + " " + cmd;
  }

  std::string dir_;
  CommandTable table_;
  StateMachineImpl sm_{&table_, 64};
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<storage::WriteTxn> txn_;
};

TEST_F(StateMachineTest, SetConditionsAndGet) {
  EXPECT_EQ(Apply({"SET", "k", "v1"}), "+OK\r\n");
  EXPECT_EQ(Apply({"set", "k", "v2", "NX"}), "$-1\r\n");
  EXPECT_EQ(Apply({"SET", "k", "v2", "XX", "GET"}), "$2\r\nv1\r\n");
  EXPECT_EQ(Apply({"SET", "nokey", "x", "XX"}), "$-1\r\n");
  EXPECT_EQ(Apply({"GETSET", "k", "v3"}), "$2\r\nv2\r\n");
  EXPECT_EQ(Apply({"GETDEL", "k"}), "$2\r\nv3\r\n");
  EXPECT_EQ(Apply({"GETDEL", "k"}), "$-1\r\n");
}

// EXEC's log entry: every command in one WriteTxn (each sees the writes before it), one
// array reply; an error element is its error; a malformed element, a nested transaction, an
// internal command or (in a cluster group) another partition's command is refused in place.
TEST_F(StateMachineTest, TransactionEntryRunsItsCommandsInOrder) {
  EXPECT_EQ(Apply({"flin.exec", Queued(-1, {"SET", "k", "1"}), Queued(-1, {"INCR", "k"}),
                   "e ERR syntax error", Queued(-1, {"GET", "k"}), Queued(-1, {"INCR", "s"})}),
            "*5\r\n+OK\r\n:2\r\n-ERR syntax error\r\n$1\r\n2\r\n:1\r\n");
  const std::string bad = "-ERR cannot apply a malformed log entry\r\n";
  EXPECT_EQ(Apply({"flin.exec", Queued(-1, {"flin.exec", Queued(-1, {"SET", "x", "1"})}),
                   Queued(-1, {"flin.expired", "k", "0"}), "-1 not-a-command",
                   "7x " + Queued(-1, {"SET", "x", "1"}).substr(3), Queued(-1, {"GET"}),
                   Queued(64, {"SET", "x", "1"})}),
            "*6\r\n" + bad + bad + bad + bad + bad + bad);
  EXPECT_EQ(Apply({"GET", "x"}), "$-1\r\n");
  // In partition 3's log, only partition 3's commands.
  EXPECT_EQ(Apply({"flin.exec", Queued(3, {"SET", "y", "1"}), Queued(4, {"SET", "z", "1"})},
                  1000000, 3),
            "*2\r\n+OK\r\n" + bad);
  EXPECT_EQ(Apply({"GET", "z"}), "$-1\r\n");
}

// WATCH's elements: the entry runs only if each watched key holds what it held (value and
// expiry, or nothing); otherwise, or if an element is malformed, a null array and no writes.
TEST_F(StateMachineTest, TransactionEntryChecksWatchedKeysFirst) {
  auto watch = [](std::vector<std::string> held) {
    std::string e;
    EncodeCommand(held, &e);
    return "w " + e;
  };
  EXPECT_EQ(Apply({"SET", "k", "v", "PXAT", "5000000"}), "+OK\r\n");
  const std::string set = Queued(-1, {"SET", "out", "1"});
  EXPECT_EQ(Apply({"flin.exec", watch({"k", "1", "v", "5000000"}), watch({"none", "0"}), set}),
            "*1\r\n+OK\r\n");
  for (const auto& stale : {watch({"k", "1", "other", "5000000"}), watch({"k", "1", "v", "0"}),
                            watch({"k", "0"}), watch({"none", "1", "v", "0"}), watch({"k"}),
                            std::string("w garbage"), watch({"k", "1", "v", "x"})}) {
    EXPECT_EQ(Apply({"flin.exec", stale, Queued(-1, {"DEL", "out"})}), "*-1\r\n") << stale;
  }
  EXPECT_EQ(Apply({"GET", "out"}), "$1\r\n1\r\n");
  // In a partition's log, a watched key of another partition does not hold.
  const int p = KeyPartition("k", 64);
  EXPECT_EQ(Apply({"flin.exec", watch({"k", "1", "v", "5000000"}), Queued(p, {"GET", "k"})},
                  1000000, p),
            "*1\r\n$1\r\nv\r\n");
  EXPECT_EQ(Apply({"flin.exec", watch({"k", "1", "v", "5000000"}), Queued(p + 1, {"GET", "k"})},
                  1000000, p + 1),
            "*-1\r\n");
}

TEST_F(StateMachineTest, RelativeExpiryUsesTheEntryTime) {
  EXPECT_EQ(Apply({"SET", "k", "v", "EX", "10"}, 5000), "+OK\r\n");
  // At 14999 the key lives; at 15000 (5000 + 10 s) it is gone.
  EXPECT_EQ(Apply({"GETEX", "k", "PERSIST"}, 14999), "$1\r\nv\r\n");
  EXPECT_EQ(Apply({"SET", "e", "v", "PX", "100"}, 5000), "+OK\r\n");
  EXPECT_EQ(Apply({"INCR", "e"}, 5100), ":1\r\n");  // expired at 5100: starts from 0
  EXPECT_EQ(Apply({"SET", "k2", "v", "KEEPTTL"}, 6000), "+OK\r\n");
  EXPECT_EQ(Apply({"EXPIRE", "k2", "1"}, 6000), ":1\r\n");
  EXPECT_EQ(Apply({"EXPIRE", "k2", "5", "LT"}, 6000), ":0\r\n");
  EXPECT_EQ(Apply({"EXPIRE", "k2", "5", "GT"}, 6000), ":1\r\n");
  EXPECT_EQ(Apply({"PERSIST", "k2"}, 6000), ":1\r\n");
  EXPECT_EQ(Apply({"PERSIST", "k2"}, 6000), ":0\r\n");
  EXPECT_EQ(Apply({"EXPIRE", "k2", "-1"}, 6000), ":1\r\n");  // deletes
  EXPECT_EQ(Apply({"GETDEL", "k2"}, 6000), "$-1\r\n");
}

// RESTORE from the log: Redis's order of errors (BUSYKEY before the TTL and the payload), the
// TTL counted from the entry's time, a time already past creating nothing (and REPLACE still
// deleting the old key), and DUMP of the result giving back the same payload.
TEST_F(StateMachineTest, RestoreAppliesAtTheEntryTime) {
  const std::string hello("\x00\x05hello\x0a\x00" "cr\xdf" "ve4 \n", 17);  // redis-server's
  EXPECT_EQ(Apply({"RESTORE", "k", "0", hello}), "+OK\r\n");
  EXPECT_EQ(Apply({"DUMP", "k"}), "$17\r\n" + hello + "\r\n");
  const std::string busy = "-BUSYKEY Target key name already exists.\r\n";
  EXPECT_EQ(Apply({"RESTORE", "k", "-1", "junk"}), busy);
  EXPECT_EQ(Apply({"RESTORE", "k", "0", hello, "FOO"}), "-ERR syntax error\r\n");
  EXPECT_EQ(Apply({"RESTORE", "n", "-1", "junk"}), "-ERR Invalid TTL value, must be >= 0\r\n");
  EXPECT_EQ(Apply({"RESTORE", "n", "0", "junk"}),
            "-ERR DUMP payload version or checksum are wrong\r\n");
  EXPECT_EQ(Apply({"RESTORE", "n", "100", hello}, 5000), "+OK\r\n");
  EXPECT_EQ(Apply({"PTTL", "n"}, 5050), ":50\r\n");
  EXPECT_EQ(Apply({"GET", "n"}, 5100), "$-1\r\n");
  EXPECT_EQ(Apply({"RESTORE", "a", "6000", hello, "ABSTTL"}, 5000), "+OK\r\n");
  EXPECT_EQ(Apply({"PEXPIRETIME", "a"}, 5000), ":6000\r\n");
  EXPECT_EQ(Apply({"RESTORE", "a", "5000", hello, "ABSTTL", "REPLACE"}, 5000), "+OK\r\n");
  EXPECT_EQ(Apply({"EXISTS", "a"}, 5000), ":0\r\n");
  EXPECT_EQ(Apply({"RESTORE", "o", "9223372036854775807", hello}, 5000), "+OK\r\n");
  EXPECT_EQ(Apply({"EXISTS", "o"}, 5000), ":0\r\n");  // overflows: past, as Redis's
  EXPECT_EQ(Apply({"RESTORE", "k", "0", hello, "REPLACE", "IDLETIME", "5", "FREQ", "1"}),
            "-ERR syntax error\r\n");
  EXPECT_EQ(Apply({"RESTORE", "k", "0", hello, "REPLACE", "IDLETIME", "5"}), "+OK\r\n");
}

TEST_F(StateMachineTest, IncrFamily) {
  EXPECT_EQ(Apply({"INCR", "n"}), ":1\r\n");
  EXPECT_EQ(Apply({"INCRBY", "n", "41"}), ":42\r\n");
  EXPECT_EQ(Apply({"DECRBY", "n", "50"}), ":-8\r\n");
  EXPECT_EQ(Apply({"SET", "n", "9223372036854775807"}), "+OK\r\n");
  EXPECT_EQ(Apply({"INCR", "n"}), "-ERR increment or decrement would overflow\r\n");
  EXPECT_EQ(Apply({"SET", "s", "abc"}), "+OK\r\n");
  EXPECT_EQ(Apply({"INCR", "s"}), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(Apply({"SET", "f", "10.50"}), "+OK\r\n");
  EXPECT_EQ(Apply({"INCRBYFLOAT", "f", "0.1"}), "$4\r\n10.6\r\n");
  EXPECT_EQ(Apply({"INCRBYFLOAT", "f", "inf"}), "-ERR increment would produce NaN or Infinity\r\n");
}

TEST_F(StateMachineTest, AppendSetRangeAndMultiKey) {
  EXPECT_EQ(Apply({"APPEND", "a", "hello"}), ":5\r\n");
  EXPECT_EQ(Apply({"APPEND", "a", " world"}), ":11\r\n");
  EXPECT_EQ(Apply({"SETRANGE", "b", "3", "x"}), ":4\r\n");
  EXPECT_EQ(Apply({"GETDEL", "b"}), std::string("$4\r\n\0\0\0x\r\n", 10));
  // An entry whose offset + length overflows (the I/O thread's check once let it into the
  // log): an error, not an abort on every replica.
  EXPECT_EQ(Apply({"SETRANGE", "b", "9223372036854775807", "xy"}).substr(0, 40),
            "-ERR string exceeds maximum allowed size");
  EXPECT_EQ(Apply({"MSET", "x", "1", "y", "2"}), "+OK\r\n");
  EXPECT_EQ(Apply({"MSETNX", "y", "3", "z", "4"}), ":0\r\n");
  EXPECT_EQ(Apply({"MSETNX", "z", "4", "w", "5"}), ":1\r\n");
  EXPECT_EQ(Apply({"DEL", "x", "y", "nope"}), ":2\r\n");
}

// A logic error thrown by an apply function (a bug: an argument its check let through) is an
// error reply, the same on every replica, instead of an abort of each one applying the entry.
TEST_F(StateMachineTest, AnApplyFunctionsLogicErrorIsAnErrorReply) {
  table_.Add(MakeCommand("flin.test-throw", 2, kCmdWrite, nullptr,
                         [](ApplyContext& ctx) {
                           ctx.out.ArrayHeader(2);
                           ctx.out.Ok();
                           throw std::length_error("basic_string::_M_replace_aux");
                         },
                         "string", "test", 1, 1, 1));
  EXPECT_EQ(Apply({"flin.test-throw", "k"}), "-ERR internal error applying this command\r\n");
  EXPECT_EQ(Apply({"SET", "k", "v"}), "+OK\r\n");  // and the state machine goes on
}

TEST_F(StateMachineTest, RenameCopyAndFlush) {
  EXPECT_EQ(Apply({"RENAME", "none", "b"}), "-ERR no such key\r\n");
  EXPECT_EQ(Apply({"SET", "a", "1", "PX", "5000"}), "+OK\r\n");
  EXPECT_EQ(Apply({"RENAME", "a", "b"}), "+OK\r\n");
  EXPECT_EQ(Apply({"COPY", "b", "c"}), ":1\r\n");
  EXPECT_EQ(Apply({"COPY", "b", "c"}), ":0\r\n");
  EXPECT_EQ(Apply({"RENAMENX", "b", "c"}), ":0\r\n");
  EXPECT_EQ(Apply({"FLUSHALL"}), "+OK\r\n");
  EXPECT_EQ(Apply({"GETDEL", "c"}), "$-1\r\n");
}

TEST_F(StateMachineTest, ActiveExpiryDeletesOnlyUnchangedExpiredKeys) {
  EXPECT_EQ(Apply({"SET", "a", "1", "PXAT", "2000"}, 1000), "+OK\r\n");
  EXPECT_EQ(Apply({"SET", "b", "1", "PXAT", "2000"}, 1000), "+OK\r\n");
  EXPECT_EQ(Apply({"SET", "b", "2", "PXAT", "9000"}, 1500), "+OK\r\n");  // rewritten since scan
  EXPECT_EQ(Apply({"flin.expired", "a", "2000", "b", "2000"}, 2500), ":1\r\n");
  EXPECT_EQ(sm_.expired_keys(), 0u);  // counted once the deletion is stored
  ASSERT_TRUE(txn_->Commit(false).ok());
  EXPECT_EQ(sm_.expired_keys(), 1u);
  EXPECT_EQ(Apply({"GETDEL", "b"}, 2500), "$1\r\n2\r\n");
}

TEST_F(StateMachineTest, MalformedEntriesAreRejectedNotApplied) {
  std::string reply;
  protocol::ReplyWriter w(&reply, 2);
  sm_.Apply(*txn_, -1, 0, "\x01\x00", &w);
  EXPECT_EQ(reply, "-ERR cannot apply a malformed log entry\r\n");
  EXPECT_EQ(Apply({"PING"}), "-ERR cannot apply a malformed log entry\r\n");  // no apply side
  EXPECT_EQ(Apply({"SET", "k"}), "-ERR cannot apply a malformed log entry\r\n");  // arity
}

TEST_F(StateMachineTest, ReadsThroughTheLogSeeEarlierEntries) {
  EXPECT_EQ(Apply({"SET", "k", "v", "PX", "100"}, 1000), "+OK\r\n");
  EXPECT_EQ(Apply({"GET", "k"}, 1050), "$1\r\nv\r\n");
  EXPECT_EQ(Apply({"PTTL", "k"}, 1050), ":50\r\n");
  EXPECT_EQ(Apply({"MGET", "k", "nope"}, 1050), "*2\r\n$1\r\nv\r\n$-1\r\n");
  EXPECT_EQ(Apply({"EXISTS", "k", "k"}, 1050), ":2\r\n");
  EXPECT_EQ(Apply({"GET", "k"}, 1100), "$-1\r\n");  // expired by the entry's time
}

// A follower (or a replay) applies a read with nobody waiting: it must not build the reply,
// which for an MGET of many large values could be of any size on every replica.
TEST_F(StateMachineTest, ReadsNobodyWaitsForBuildNoReply) {
  EXPECT_EQ(Apply({"SET", "k", std::string(1 << 20, 'x')}), "+OK\r\n");
  std::string cmd;
  EncodeCommand(std::vector<std::string>{"SET", "j", "v"}, &cmd);
  sm_.Apply(*txn_, -1, 1000000, cmd, nullptr);
  EXPECT_EQ(sm_.discarded_reply_bytes(), 5u);  // "+OK\r\n": writes still run and answer
  std::vector<std::string> mget{"MGET"};
  for (int i = 0; i < 64; ++i) mget.push_back("k");
  EncodeCommand(mget, &cmd);
  sm_.Apply(*txn_, -1, 1000000, cmd, nullptr);
  EXPECT_EQ(sm_.discarded_reply_bytes(), 0u);
  EXPECT_EQ(Apply({"GET", "j"}), "$1\r\nv\r\n");
}

// BITFIELD is a write only with a SET or an INCRBY; the entry is applied whole, and grows the
// string to the last bit written even when OVERFLOW FAIL refuses every write (as Redis).
TEST_F(StateMachineTest, BitFieldWritesOnlyWithSetOrIncrBy) {
  const CommandSpec* bitfield = table_.Find("bitfield");
  const CommandSpec* ro = table_.Find("BITFIELD_RO");
  ASSERT_NE(bitfield, nullptr);
  ASSERT_NE(ro, nullptr);
  using V = std::vector<std::string_view>;
  EXPECT_TRUE(bitfield->Writes(V{"BITFIELD", "k", "GET", "u8", "0", "INCRBY", "i5", "3", "1"}));
  EXPECT_FALSE(bitfield->Writes(V{"BITFIELD", "k", "GET", "u8", "0", "OVERFLOW", "SAT"}));
  EXPECT_TRUE(bitfield->OnlyReads(V{"BITFIELD", "k"}));
  // One that does not parse writes nothing: a read, whose handler answers the error.
  EXPECT_FALSE(bitfield->Writes(V{"BITFIELD", "k", "SET", "u8", "0", "1", "GET", "u64", "0"}));
  EXPECT_FALSE(bitfield->Writes(V{"BITFIELD"}));
  EXPECT_FALSE(ro->Writes(V{"BITFIELD_RO", "k", "SET", "u8", "0", "1"}));
  EXPECT_TRUE(table_.Find("setbit")->Writes(V{"SETBIT", "k", "x", "y"}));

  EXPECT_EQ(Apply({"BITFIELD", "k", "OVERFLOW", "FAIL", "SET", "u8", "#1", "256", "INCRBY", "i8",
                   "0", "-1", "GET", "u16", "0"}),
            "*3\r\n$-1\r\n:-1\r\n:65280\r\n");
  EXPECT_EQ(Apply({"GET", "k"}), std::string("$2\r\n\xff\0\r\n", 8));
  EXPECT_EQ(Apply({"BITFIELD", "n", "OVERFLOW", "FAIL", "INCRBY", "u8", "#2", "-1"}),
            "*1\r\n$-1\r\n");
  EXPECT_EQ(Apply({"STRLEN", "n"}), ":3\r\n");
  // Only GETs: read through the log, nothing created.
  EXPECT_EQ(Apply({"BITFIELD", "none", "GET", "i64", "4294967295", "GET", "u8", "0"}),
            "*2\r\n:0\r\n:0\r\n");
  EXPECT_EQ(Apply({"BITFIELD_RO", "k", "GET", "i4", "0"}), "*1\r\n:-1\r\n");
  EXPECT_EQ(Apply({"EXISTS", "none"}), ":0\r\n");
  // Entries the proposer's checks should have stopped: errors, nothing written.
  const std::string bad_offset = "-ERR bit offset is not an integer or out of range\r\n";
  EXPECT_EQ(Apply({"BITFIELD", "k", "SET", "u8", "4294967296", "1"}), bad_offset);
  EXPECT_EQ(Apply({"BITFIELD", "k", "SET", "i64", "#288230376151711745", "1"}), bad_offset);
  EXPECT_EQ(Apply({"BITFIELD", "k", "INCRBY", "u8", "0", "1", "GET", "u8", "-1"}), bad_offset);
  EXPECT_EQ(Apply({"BITFIELD_RO", "k", "SET", "u8", "0", "1"}),
            "-ERR BITFIELD_RO only supports the GET subcommand\r\n");
  EXPECT_EQ(Apply({"GET", "k"}), std::string("$2\r\n\xff\0\r\n", 8));

  // With nobody waiting (a follower), a BITFIELD of GETs builds no reply; one that writes runs.
  std::string cmd;
  EncodeCommand(std::vector<std::string>{"BITFIELD", "k", "GET", "u8", "0"}, &cmd);
  sm_.Apply(*txn_, -1, 1000000, cmd, nullptr);
  EXPECT_EQ(sm_.discarded_reply_bytes(), 0u);
  EncodeCommand(std::vector<std::string>{"BITFIELD", "k", "SET", "u8", "0", "1"}, &cmd);
  sm_.Apply(*txn_, -1, 1000000, cmd, nullptr);
  EXPECT_EQ(sm_.discarded_reply_bytes(), 10u);  // "*1\r\n:255\r\n"
  EXPECT_EQ(Apply({"GET", "k"}), std::string("$2\r\n\x01\0\r\n", 8));
}

TEST(CommandCodecTest, RoundTripAndRejectsGarbage) {
  std::string enc;
  EncodeCommand(std::vector<std::string>{"SET", std::string("a\0b", 3), ""}, &enc);
  std::vector<std::string_view> args;
  ASSERT_TRUE(DecodeCommand(enc, &args));
  ASSERT_EQ(args.size(), 3u);
  EXPECT_EQ(args[1], std::string("a\0b", 3));
  EXPECT_EQ(args[2], "");
  for (size_t cut = 0; cut < enc.size(); ++cut) EXPECT_FALSE(DecodeCommand(enc.substr(0, cut), &args));
  EXPECT_FALSE(DecodeCommand(enc + "x", &args));
  EXPECT_FALSE(DecodeCommand(std::string("\xff\xff\xff\xff", 4), &args));
}

}  // namespace
}  // namespace flin::server

namespace flin::server {
namespace {

struct RecordingSink : PushSink {
  std::vector<std::string> seen;  // "channel message"
  void Push(PushBatch&& b) override {
    for (size_t i = 0; i < b.targets.size(); ++i) seen.push_back(*b.channel + " " + *b.message);
  }
};

// Events are collected by the applies, published only once their write is committed, dropped
// with a batch that was not, and come from a transaction's commands and a script's calls too.
TEST_F(StateMachineTest, KeyspaceEventsAfterTheCommitOnly) {
  std::atomic<int> flags{0};
  PubSub pubsub;
  RecordingSink sink;
  pubsub.Subscribe(PubSub::Space::kPattern, "__key*__:*", {&sink, 1});
  sm_.set_notifications(&flags, &pubsub);

  Apply({"SET", "a", "1"});  // nothing wanted: nothing collected
  sm_.AfterCommit(true);
  EXPECT_TRUE(sink.seen.empty());

  int kea = 0;
  ASSERT_TRUE(ParseKeyspaceEvents("KEA", &kea));
  flags = kea;
  Apply({"SET", "a", "2", "EX", "100"});
  Apply({"DEL", "a", "missing"});
  EXPECT_TRUE(sink.seen.empty());  // not committed yet
  sm_.AfterCommit(true);
  EXPECT_EQ(sink.seen, (std::vector<std::string>{
                           "__keyspace@0__:a set", "__keyevent@0__:set a",
                           "__keyspace@0__:a expire", "__keyevent@0__:expire a",
                           "__keyspace@0__:a del", "__keyevent@0__:del a"}));

  sink.seen.clear();
  Apply({"INCR", "n"});
  sm_.AfterCommit(false);  // the batch is to be applied again: its events go with it
  sm_.AfterCommit(true);
  EXPECT_TRUE(sink.seen.empty());

  flags = kNotifyKeyevent | kNotifyString | kNotifyNew;
  Apply({"flin.exec", Queued(-1, {"SET", "t", "x"}), Queued(-1, {"APPEND", "t", "y"})});
  Apply({"EVAL", "return redis.call('INCR', KEYS[1])", "1", "c"});
  sm_.AfterCommit(true);
  EXPECT_EQ(sink.seen, (std::vector<std::string>{
                           "__keyevent@0__:new t", "__keyevent@0__:set t",
                           "__keyevent@0__:append t", "__keyevent@0__:new c",
                           "__keyevent@0__:incrby c"}));
}

struct InvalidationSink : PushSink {
  std::vector<std::string> seen;  // "conn:message" ("null": every key)
  void Push(PushBatch&& b) override {
    for (const auto& t : b.targets) {
      seen.push_back(std::to_string(t.conn_id) + ":" + (b.message ? *b.message : "null"));
    }
  }
};

// CLIENT TRACKING hears of a change once its write is committed, with the writer the
// replicator named (NOLOOP), and of a flush as "every key"; a batch applied partly before any
// client tracked invalidates everything, since its first applies were not collected.
TEST_F(StateMachineTest, TrackingHearsOfChangesAfterTheCommit) {
  std::atomic<int> flags{0};
  PubSub pubsub;
  Tracking tracking;
  InvalidationSink sink;
  sm_.set_notifications(&flags, &pubsub, &tracking);
  Tracking::Mode noloop;
  noloop.noloop = true;
  tracking.Enable(&sink, 5, noloop);
  tracking.Remember(5, "a");
  tracking.Remember(5, "b");
  const std::string a = Tracking::EncodeKeys({"a"});

  Apply({"SET", "a", "1"});
  Apply({"INCR", "n"});
  EXPECT_TRUE(sink.seen.empty());  // not committed yet
  sm_.AfterCommit(true);
  EXPECT_EQ(sink.seen, (std::vector<std::string>{"5:" + a}));

  sink.seen.clear();
  sm_.SetWriter(5);
  Apply({"SET", "b", "1"});  // its own write
  sm_.SetWriter(0);
  sm_.AfterCommit(true);
  EXPECT_TRUE(sink.seen.empty());

  tracking.Remember(5, "a");
  Apply({"flin.exec", Queued(-1, {"SET", "a", "2"})});
  sm_.AfterCommit(false);  // to be applied again: nothing yet
  EXPECT_TRUE(sink.seen.empty());
  sm_.AfterCommit(true);
  EXPECT_TRUE(sink.seen.empty());
  Apply({"flin.exec", Queued(-1, {"SET", "a", "2"})});
  sm_.AfterCommit(true);
  EXPECT_EQ(sink.seen, (std::vector<std::string>{"5:" + a}));

  sink.seen.clear();
  Apply({"FLUSHALL"});
  sm_.AfterCommit(true);
  EXPECT_EQ(sink.seen, (std::vector<std::string>{"5:null"}));

  sink.seen.clear();
  tracking.Disable(5);
  Apply({"SET", "a", "3"});  // nobody tracks: not collected
  tracking.Enable(&sink, 6, {});
  tracking.Remember(6, "a");  // may have read the old value: the batch is not committed yet
  Apply({"SET", "z", "1"});
  sm_.AfterCommit(true);
  EXPECT_EQ(sink.seen, (std::vector<std::string>{"6:null"}));
  sink.seen.clear();
  sm_.DataReplaced();  // a snapshot installed
  EXPECT_EQ(sink.seen, (std::vector<std::string>{"6:null"}));
}

}  // namespace
}  // namespace flin::server

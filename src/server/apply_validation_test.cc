// Apply functions called directly, as a script's redis.call runs them: with arguments that
// never went through the command's handler on an I/O thread. Each must answer what a client
// gets through the normal path (handler, then apply): the same error, in Redis's order, and
// otherwise the same result. The limits are the fixed ones every replica shares
// (kMaxStringBytes), never the server's configuration.

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/crc64.h"
#include "protocol/reply_writer.h"
#include "server/command.h"
#include "server/dump_payload.h"
#include "storage/temp_store.h"
#include "storage/write_txn.h"

namespace flin::server {
namespace {

constexpr int64_t kNow = 1700000000000;

std::string Err(std::string_view text) { return "-" + std::string(text) + "\r\n"; }
std::string Int(int64_t n) { return ":" + std::to_string(n) + "\r\n"; }
std::string Bulk(std::string_view s) {
  return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}
const std::string kOk = "+OK\r\n";
const std::string kNil = "$-1\r\n";

// A RESTORE payload whose LZF string declares `declared` bytes (one byte of data follows),
// with a valid footer: refused as too large before anything is decompressed.
std::string LzfPayloadDeclaring(uint32_t declared) {
  std::string p;
  p.push_back('\0');                     // type: string
  p.push_back(static_cast<char>(0xC3));  // encoded: LZF
  p.push_back('\x01');                   // compressed length: 1
  p.push_back(static_cast<char>(0x80));  // length: 32 bits, big-endian
  for (int shift = 24; shift >= 0; shift -= 8) p.push_back(static_cast<char>(declared >> shift));
  p.push_back('x');
  p.push_back(static_cast<char>(kDumpRdbVersion));
  p.push_back('\0');
  const uint64_t crc = Crc64(0, p);
  for (int i = 0; i < 8; ++i) p.push_back(static_cast<char>(crc >> (8 * i)));
  return p;
}

class ApplyValidationTest : public storage::TempStoreTest {
 protected:
  void SetUp() override {
    TempStoreTest::SetUp();
    txn_ = std::make_unique<storage::WriteTxn>(store_.get());
  }
  void TearDown() override {
    txn_.reset();
    TempStoreTest::TearDown();
  }

  // Runs the command's apply function directly (no handler) at `now`; its RESP2 reply.
  std::string Apply(std::vector<std::string> argv, int64_t now = kNow) {
    std::vector<std::string_view> args(argv.begin(), argv.end());
    const CommandSpec* spec = table_.Find(args[0]);
    EXPECT_NE(spec, nullptr) << argv[0];
    if (spec == nullptr) return "";
    EXPECT_NE(spec->apply, nullptr) << argv[0];
    EXPECT_TRUE(spec->ArityOk(args.size())) << argv[0];
    std::string reply;
    protocol::ReplyWriter w(&reply, 2);
    ApplyContext ctx(*txn_, now, Args(args), w, kPartitions, nullptr);
    spec->apply(ctx);
    return reply;
  }

  static constexpr int kPartitions = 16;
  CommandTable table_;
  std::unique_ptr<storage::WriteTxn> txn_;
};

// ---- strings ----

TEST_F(ApplyValidationTest, SetChecksItsOptions) {
  EXPECT_EQ(Apply({"SET", "k", "v", "NX", "XX"}), Err(kErrSyntax));
  EXPECT_EQ(Apply({"SET", "k", "v", "EX"}), Err(kErrSyntax));
  EXPECT_EQ(Apply({"SET", "k", "v", "EX", "ten"}), Err(kErrNotInteger));
  EXPECT_EQ(Apply({"SET", "k", "v", "EX", "0"}), Err("ERR invalid expire time in 'set' command"));
  EXPECT_EQ(Apply({"SET", "k", "v", "KEEPTTL", "PX", "5"}), Err(kErrSyntax));
  EXPECT_EQ(Apply({"GET", "k"}), kNil);
  EXPECT_EQ(Apply({"SET", "k", "v", "PX", "5000"}), kOk);
  EXPECT_EQ(Apply({"PTTL", "k"}), Int(5000));
}

// An expiry that fits at the entry's time but overflows at the wall clock's: every replica,
// and a replay after a restart, must decide by the entry's time alone.
TEST_F(ApplyValidationTest, SetJudgesItsTimeByTheEntrysClockAlone) {
  const int64_t entry_time = 1000;
  const std::string px = std::to_string(INT64_MAX - 2000);
  EXPECT_EQ(Apply({"SET", "k", "v", "PX", px}, entry_time), kOk);
  EXPECT_EQ(Apply({"SET", "k", "v", "PX", px, "GET"}, entry_time), Bulk("v"));
}

TEST_F(ApplyValidationTest, SetExChecksTheTimeAsItsHandler) {
  // The handler answers a time that is not a number as Redis does: not an integer.
  EXPECT_EQ(Apply({"SETEX", "k", "ten", "v"}), Err(kErrNotInteger));
  EXPECT_EQ(Apply({"psetex", "k", "", "v"}), Err(kErrNotInteger));
  EXPECT_EQ(Apply({"SETEX", "k", "0", "v"}), Err("ERR invalid expire time in 'setex' command"));
  EXPECT_EQ(Apply({"PSETEX", "k", "-5", "v"}), Err("ERR invalid expire time in 'psetex' command"));
  EXPECT_EQ(Apply({"SETEX", "k", "9223372036854775", "v"}),
            Err("ERR invalid expire time in 'setex' command"));
  EXPECT_EQ(Apply({"GET", "k"}), kNil);
  EXPECT_EQ(Apply({"SETEX", "k", "10", "v"}), kOk);
  EXPECT_EQ(Apply({"TTL", "k"}), Int(10));
}

TEST_F(ApplyValidationTest, GetExChecksItsOptions) {
  EXPECT_EQ(Apply({"SET", "k", "v"}), kOk);
  EXPECT_EQ(Apply({"GETEX", "k", "KEEPTTL"}), Err(kErrSyntax));
  EXPECT_EQ(Apply({"GETEX", "k", "EX", "1", "PX", "1"}), Err(kErrSyntax));
  EXPECT_EQ(Apply({"GETEX", "k", "EX", "x"}), Err(kErrNotInteger));
  EXPECT_EQ(Apply({"GETEX", "k", "EX", "100"}), Bulk("v"));
  EXPECT_EQ(Apply({"TTL", "k"}), Int(100));
}

TEST_F(ApplyValidationTest, MSetRefusesAnOddPair) {
  EXPECT_EQ(Apply({"MSET", "a", "1", "b"}),
            Err("ERR wrong number of arguments for 'mset' command"));
  EXPECT_EQ(Apply({"msetnx", "a", "1", "b"}),
            Err("ERR wrong number of arguments for 'msetnx' command"));
  EXPECT_EQ(Apply({"GET", "a"}), kNil);  // nothing written
  EXPECT_EQ(Apply({"MSET", "a", "1", "b", "2"}), kOk);
  EXPECT_EQ(Apply({"MSETNX", "a", "3", "c", "4"}), Int(0));
  EXPECT_EQ(Apply({"MSETNX", "c", "3", "d", "4"}), Int(1));
  EXPECT_EQ(Apply({"MGET", "a", "b", "c"}), "*3\r\n" + Bulk("1") + Bulk("2") + Bulk("3"));
}

TEST_F(ApplyValidationTest, SetRangeChecksTheOffsetFirst) {
  EXPECT_EQ(Apply({"SETRANGE", "k", "one", "x"}), Err(kErrNotInteger));
  EXPECT_EQ(Apply({"SETRANGE", "k", "one", ""}), Err(kErrNotInteger));
  EXPECT_EQ(Apply({"SETRANGE", "k", "-1", "x"}), Err("ERR offset is out of range"));
  EXPECT_EQ(Apply({"SETRANGE", "k", "-1", ""}), Err("ERR offset is out of range"));
  EXPECT_EQ(Apply({"SETRANGE", "k", "536870912", "x"}), Err(kErrTooBig));
  EXPECT_EQ(Apply({"SETRANGE", "k", "9223372036854775807", "x"}), Err(kErrTooBig));
  EXPECT_EQ(Apply({"GET", "k"}), kNil);
  // An empty value writes nothing and is never too big (Redis's order).
  EXPECT_EQ(Apply({"SETRANGE", "k", "536870912", ""}), Int(0));
  EXPECT_EQ(Apply({"SETRANGE", "k", "2", "xy"}), Int(4));
  EXPECT_EQ(Apply({"GET", "k"}), Bulk(std::string("\0\0xy", 4)));
  EXPECT_EQ(Apply({"SETRANGE", "k", "536870912", ""}), Int(4));
}

TEST_F(ApplyValidationTest, AppendGrowsTheString) {
  EXPECT_EQ(Apply({"APPEND", "k", "ab"}), Int(2));
  EXPECT_EQ(Apply({"APPEND", "k", "cd"}), Int(4));
  EXPECT_EQ(Apply({"GET", "k"}), Bulk("abcd"));
}

TEST_F(ApplyValidationTest, IncrFamilyChecksTheIncrementBeforeTheValue) {
  EXPECT_EQ(Apply({"SET", "s", "text"}), kOk);
  EXPECT_EQ(Apply({"INCRBY", "s", "x"}), Err(kErrNotInteger));
  EXPECT_EQ(Apply({"DECRBY", "k", "-9223372036854775808"}), Err("ERR decrement would overflow"));
  EXPECT_EQ(Apply({"INCRBYFLOAT", "k", "nan"}), Err(kErrNotFloat));
  EXPECT_EQ(Apply({"INCRBYFLOAT", "k", "1.5x"}), Err(kErrNotFloat));
  EXPECT_EQ(Apply({"INCR", "s"}), Err(kErrNotInteger));
  EXPECT_EQ(Apply({"INCRBY", "k", "5"}), Int(5));
  EXPECT_EQ(Apply({"DECR", "k"}), Int(4));
  EXPECT_EQ(Apply({"INCRBYFLOAT", "k", "0.5"}), Bulk("4.5"));
}

TEST_F(ApplyValidationTest, WritesWithoutArgumentChecks) {
  EXPECT_EQ(Apply({"SETNX", "k", "v"}), Int(1));
  EXPECT_EQ(Apply({"SETNX", "k", "w"}), Int(0));
  EXPECT_EQ(Apply({"GETSET", "k", "w"}), Bulk("v"));
  EXPECT_EQ(Apply({"GETDEL", "k"}), Bulk("w"));
  EXPECT_EQ(Apply({"RENAME", "k", "j"}), Err(kErrNoSuchKey));
  EXPECT_EQ(Apply({"SET", "k", "v", "EX", "100"}), kOk);
  EXPECT_EQ(Apply({"RENAMENX", "k", "j"}), Int(1));
  EXPECT_EQ(Apply({"PERSIST", "j"}), Int(1));
  EXPECT_EQ(Apply({"DEL", "j", "k"}), Int(1));
  EXPECT_EQ(Apply({"UNLINK", "j"}), Int(0));
}

// ---- keys ----

TEST_F(ApplyValidationTest, CopyChecksItsOptions) {
  EXPECT_EQ(Apply({"SET", "a", "v"}), kOk);
  EXPECT_EQ(Apply({"COPY", "a", "b", "FOO"}), Err(kErrSyntax));
  EXPECT_EQ(Apply({"COPY", "a", "b", "DB"}), Err(kErrSyntax));
  EXPECT_EQ(Apply({"COPY", "a", "b", "DB", "x"}), Err(kErrNotInteger));
  EXPECT_EQ(Apply({"COPY", "a", "b", "DB", "1"}), Err("ERR DB index is out of range"));
  EXPECT_EQ(Apply({"COPY", "a", "a"}), Err("ERR source and destination objects are the same"));
  EXPECT_EQ(Apply({"COPY", "a", "b", "DB", "0", "REPLACE"}), Int(1));
  EXPECT_EQ(Apply({"GET", "b"}), Bulk("v"));
}

TEST_F(ApplyValidationTest, ExpireChecksOptionsThenTime) {
  EXPECT_EQ(Apply({"SET", "k", "v"}), kOk);
  EXPECT_EQ(Apply({"EXPIRE", "k", "x", "FOO"}), Err("ERR Unsupported option FOO"));
  EXPECT_EQ(Apply({"EXPIRE", "k", "10", "NX", "XX"}),
            Err("ERR NX and XX, GT or LT options at the same time are not compatible"));
  EXPECT_EQ(Apply({"PEXPIRE", "k", "10", "GT", "LT"}),
            Err("ERR GT and LT options at the same time are not compatible"));
  EXPECT_EQ(Apply({"EXPIREAT", "k", "x"}), Err(kErrNotInteger));
  EXPECT_EQ(Apply({"EXPIRE", "k", "9223372036854775807"}),
            Err("ERR invalid expire time in 'expire' command"));
  EXPECT_EQ(Apply({"TTL", "k"}), Int(-1));
  EXPECT_EQ(Apply({"EXPIRE", "k", "100", "NX"}), Int(1));
  EXPECT_EQ(Apply({"TTL", "k"}), Int(100));
}

// An entry's timestamp comes from the log and may be anything: TTL's subtraction must not
// overflow (command_fuzz's times include INT64_MIN).
TEST_F(ApplyValidationTest, TtlOfAFarExpiryAtAnExtremeTimestamp) {
  EXPECT_EQ(Apply({"SET", "k", "v", "PXAT", "9223372036854775807"}), kOk);
  EXPECT_EQ(Apply({"PTTL", "k"}, INT64_MIN), Int(INT64_MAX));
  EXPECT_EQ(Apply({"TTL", "k"}, INT64_MIN), Int(INT64_MAX / 1000 + 1));
  EXPECT_EQ(Apply({"PEXPIRETIME", "k"}, INT64_MIN), Int(INT64_MAX));
}

// ---- bits ----

TEST_F(ApplyValidationTest, SetBitChecksOffsetThenValue) {
  EXPECT_EQ(Apply({"SETBIT", "k", "-1", "x"}),
            Err("ERR bit offset is not an integer or out of range"));
  EXPECT_EQ(Apply({"SETBIT", "k", "4294967296", "1"}),
            Err("ERR bit offset is not an integer or out of range"));
  EXPECT_EQ(Apply({"SETBIT", "k", "0", "2"}), Err("ERR bit is not an integer or out of range"));
  EXPECT_EQ(Apply({"SETBIT", "k", "7", "1"}), Int(0));
  EXPECT_EQ(Apply({"SETBIT", "k", "7", "0"}), Int(1));
}

TEST_F(ApplyValidationTest, BitOpChecksTheOperation) {
  EXPECT_EQ(Apply({"BITOP", "NAND", "d", "a"}), Err(kErrSyntax));
  EXPECT_EQ(Apply({"BITOP", "NOT", "d", "a", "b"}),
            Err("ERR BITOP NOT must be called with a single source key."));
  EXPECT_EQ(Apply({"SET", "a", "\x0f"}), kOk);
  EXPECT_EQ(Apply({"BITOP", "NOT", "d", "a"}), Int(1));
  EXPECT_EQ(Apply({"GET", "d"}), Bulk("\xf0"));
}

TEST_F(ApplyValidationTest, BitFieldChecksEverySubcommand) {
  EXPECT_EQ(Apply({"BITFIELD", "k", "OVERFLOW", "FOO"}),
            Err("ERR Invalid OVERFLOW type specified"));
  EXPECT_EQ(Apply({"BITFIELD", "k", "SET", "u64", "0", "1"}),
            Err("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not "
                "supported but i64 is."));
  EXPECT_EQ(Apply({"BITFIELD", "k", "SET", "i8", "#4294967296", "1"}),
            Err("ERR bit offset is not an integer or out of range"));
  EXPECT_EQ(Apply({"BITFIELD", "k", "INCRBY", "i8", "0", "x"}), Err(kErrNotInteger));
  EXPECT_EQ(Apply({"BITFIELD", "k", "GET", "i8"}), Err(kErrSyntax));
  EXPECT_EQ(Apply({"GET", "k"}), kNil);
  EXPECT_EQ(Apply({"BITFIELD", "k", "SET", "u8", "0", "255", "GET", "i8", "0"}),
            "*2\r\n" + Int(0) + Int(-1));
  EXPECT_EQ(Apply({"BITFIELD", "k", "GET", "u4", "4"}), "*1\r\n" + Int(15));
}

// ---- HyperLogLog (the handlers check nothing; the value's type is the apply's) ----

TEST_F(ApplyValidationTest, HllCommands) {
  EXPECT_EQ(Apply({"SET", "s", "text"}), kOk);
  EXPECT_EQ(Apply({"PFADD", "s", "a"}),
            Err("WRONGTYPE Key is not a valid HyperLogLog string value."));
  EXPECT_EQ(Apply({"PFADD", "h", "a", "b"}), Int(1));
  EXPECT_EQ(Apply({"PFADD", "h"}), Int(0));
  EXPECT_EQ(Apply({"PFCOUNT", "h"}), Int(2));
  EXPECT_EQ(Apply({"PFMERGE", "m", "h", "s"}),
            Err("WRONGTYPE Key is not a valid HyperLogLog string value."));
  EXPECT_EQ(Apply({"PFMERGE", "m", "h"}), kOk);
  EXPECT_EQ(Apply({"PFCOUNT", "m", "h"}), Int(2));
}

// ---- RESTORE ----

TEST_F(ApplyValidationTest, RestoreChecksOptionsFirst) {
  const std::string good = DumpString("hello");
  EXPECT_EQ(Apply({"RESTORE", "k", "0", good, "FOO"}), Err(kErrSyntax));
  EXPECT_EQ(Apply({"RESTORE", "k", "0", good, "IDLETIME", "-1"}),
            Err("ERR Invalid IDLETIME value, must be >= 0"));
  EXPECT_EQ(Apply({"RESTORE", "k", "0", good, "FREQ", "256"}),
            Err("ERR Invalid FREQ value, must be >= 0 and <= 255"));
  EXPECT_EQ(Apply({"RESTORE", "k", "0", good, "IDLETIME", "1", "FREQ", "1"}), Err(kErrSyntax));
  EXPECT_EQ(Apply({"RESTORE", "k", "-1", good}), Err("ERR Invalid TTL value, must be >= 0"));
  EXPECT_EQ(Apply({"RESTORE", "k", "0", "garbage!!!!"}),
            Err("ERR DUMP payload version or checksum are wrong"));
  EXPECT_EQ(Apply({"RESTORE", "k", "0", good}), kOk);
  EXPECT_EQ(Apply({"RESTORE", "k", "0", good}), Err("BUSYKEY Target key name already exists."));
  EXPECT_EQ(Apply({"RESTORE", "k", "-1", good, "REPLACE"}),
            Err("ERR Invalid TTL value, must be >= 0"));
  EXPECT_EQ(Apply({"RESTORE", "k", "5000", DumpString("bye"), "REPLACE"}), kOk);
  EXPECT_EQ(Apply({"GET", "k"}), Bulk("bye"));
  EXPECT_EQ(Apply({"PTTL", "k"}), Int(5000));
}

// The handler refuses a payload too large for any replica before it looks at the key or the
// TTL; so must the apply (with the fixed 512 MiB bound).
TEST_F(ApplyValidationTest, RestoreRefusesATooLargePayloadBeforeTheKeyAndTheTtl) {
  const std::string huge = LzfPayloadDeclaring(1u << 30);
  EXPECT_EQ(Apply({"SET", "k", "v"}), kOk);
  EXPECT_EQ(Apply({"RESTORE", "k", "0", huge}), Err(kErrTooBig));
  EXPECT_EQ(Apply({"RESTORE", "k", "-1", huge, "REPLACE"}), Err(kErrTooBig));
  EXPECT_EQ(Apply({"RESTORE", "new", "-1", huge}), Err(kErrTooBig));
  EXPECT_EQ(Apply({"RESTORE", "k", "0", huge, "FOO"}), Err(kErrSyntax));  // options first
  EXPECT_EQ(Apply({"GET", "k"}), Bulk("v"));
  // Within the bound, the LZF data that does not expand as declared is bad data.
  EXPECT_EQ(Apply({"RESTORE", "k", "0", LzfPayloadDeclaring(1000), "REPLACE"}),
            Err("ERR Bad data format"));
}

// ---- reads (also applied from the log, inside MULTI) ----

TEST_F(ApplyValidationTest, ReadsCheckTheirArguments) {
  EXPECT_EQ(Apply({"SET", "k", "abc"}), kOk);
  EXPECT_EQ(Apply({"GETRANGE", "k", "a", "1"}), Err(kErrNotInteger));
  EXPECT_EQ(Apply({"GETBIT", "k", "-1"}), Err("ERR bit offset is not an integer or out of range"));
  EXPECT_EQ(Apply({"BITCOUNT", "k", "0"}), Err(kErrSyntax));
  EXPECT_EQ(Apply({"BITCOUNT", "k", "0", "1", "NIBBLE"}), Err(kErrSyntax));
  EXPECT_EQ(Apply({"BITPOS", "k", "2"}), Err("ERR The bit argument must be 1 or 0."));
  EXPECT_EQ(Apply({"BITFIELD_RO", "k", "SET", "u8", "0", "1"}),
            Err("ERR BITFIELD_RO only supports the GET subcommand"));
  EXPECT_EQ(Apply({"LCS", "k", "k", "IDX", "LEN"}),
            Err("ERR If you want both the length and indexes, please just use IDX."));
  EXPECT_EQ(Apply({"LCS", "k", "k", "MINMATCHLEN", "x"}), Err(kErrNotInteger));
  EXPECT_EQ(Apply({"OBJECT", "ENCODING"}),
            Err("ERR wrong number of arguments for 'object|encoding' command"));
  EXPECT_EQ(Apply({"GETRANGE", "k", "1", "-1"}), Bulk("bc"));
}

}  // namespace
}  // namespace flin::server

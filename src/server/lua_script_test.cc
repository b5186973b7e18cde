// Scripts as the log runs them: EVAL entries applied through the state machine, on one store
// or on two (replicas must agree), with the limits that stop a run and the sandbox around it.

#include "server/lua_script.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/slot.h"
#include "server/state_machine.h"
#include "storage/store.h"
#include "storage/write_txn.h"

namespace flin::server {
namespace {

// One replica: a store, a WriteTxn and the state machine applying entries to it.
struct Replica {
  explicit Replica(const std::string& dir) : dir(dir) {
    std::filesystem::remove_all(dir);
    storage::StoreOptions o;
    o.dir = dir;
    o.block_cache_bytes = 8 << 20;
    auto r = storage::Store::Open(o);
    EXPECT_TRUE(r.ok());
    store = std::move(r).value();
    txn = std::make_unique<storage::WriteTxn>(store.get());
  }
  ~Replica() {
    txn.reset();
    store.reset();
    std::filesystem::remove_all(dir);
  }
  std::string Apply(const std::vector<std::string>& args, int64_t now, int partition, int proto) {
    std::string cmd, reply;
    EncodeCommand(args, &cmd);
    protocol::ReplyWriter w(&reply, proto);
    sm.Apply(*txn, partition, now, cmd, &w);
    return reply;
  }

  std::string dir;
  CommandTable table;
  StateMachineImpl sm{&table, 64};
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<storage::WriteTxn> txn;
};

class LuaScriptTest : public ::testing::Test {
 protected:
  static std::string Dir(const char* which) {
    return std::filesystem::temp_directory_path() /
           ("flin_lua_test_" + std::to_string(getpid()) + "_" + which + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  // EVAL body numkeys keys... args... on the first replica, RESP2 unless told.
  std::string Eval(const std::string& body, std::vector<std::string> keys = {},
                   std::vector<std::string> argv = {}, int proto = 2, int partition = -1,
                   const char* cmd = "EVAL") {
    std::vector<std::string> args = {cmd, body, std::to_string(keys.size())};
    args.insert(args.end(), keys.begin(), keys.end());
    args.insert(args.end(), argv.begin(), argv.end());
    return a_.Apply(args, now_, partition, proto);
  }
  std::string Run(const std::vector<std::string>& args) { return a_.Apply(args, now_, -1, 2); }
  // The error line of a reply, without Redis's " script: <sha>, on @user_script:N." suffix.
  static std::string ErrorOf(const std::string& reply) {
    const size_t at = reply.find(" script: ");
    return at == std::string::npos ? reply : reply.substr(0, at);
  }

  int64_t now_ = 1'700'000'000'000;
  Replica a_{Dir("a")};
};

TEST_F(LuaScriptTest, ReturnValuesConvertAsInRedis) {
  EXPECT_EQ(Eval("return 3.99"), ":3\r\n");
  EXPECT_EQ(Eval("return 'x'"), "$1\r\nx\r\n");
  EXPECT_EQ(Eval("return true"), ":1\r\n");
  EXPECT_EQ(Eval("return false"), "$-1\r\n");
  EXPECT_EQ(Eval("return nil"), "$-1\r\n");
  EXPECT_EQ(Eval("return {1, 'a', {2}, nil, 5}"), "*3\r\n:1\r\n$1\r\na\r\n*1\r\n:2\r\n");
  EXPECT_EQ(Eval("return redis.status_reply('FINE')"), "+FINE\r\n");
  EXPECT_EQ(Eval("return {ok = 'A\\r\\nB'}"), "+A  B\r\n");
  EXPECT_EQ(Eval("return redis.error_reply('MY error')"), "-MY error\r\n");
  EXPECT_EQ(Eval("return {KEYS[1], ARGV[1], #KEYS, #ARGV}", {"k"}, {"v", "w"}),
            "*4\r\n$1\r\nk\r\n$1\r\nv\r\n:1\r\n:2\r\n");
  // Booleans and doubles as the script's protocol (redis.setresp) says, whatever the client's.
  EXPECT_EQ(Eval("return {true, false, {double = 1.5}}", {}, {}, 3), "*3\r\n:1\r\n_\r\n*0\r\n");
  EXPECT_EQ(Eval("redis.setresp(3) return {true, false, {double = 1.5}}", {}, {}, 3),
            "*3\r\n#t\r\n#f\r\n,1.5\r\n");
  EXPECT_EQ(Eval("redis.setresp(3) return {true, false, {double = 1.5}}"),
            "*3\r\n:1\r\n:0\r\n$3\r\n1.5\r\n");
  // Out of int64's range as Redis on x86-64.
  EXPECT_EQ(Eval("return 2^63"), ":-9223372036854775808\r\n");
}

TEST_F(LuaScriptTest, RedisCallSeesTheEntrysWritesAndConvertsReplies) {
  EXPECT_EQ(Eval("redis.call('SET', KEYS[1], '5'); return redis.call('INCRBY', KEYS[1], ARGV[1])",
                 {"n"}, {"10"}),
            ":15\r\n");
  EXPECT_EQ(Run({"GET", "n"}), "$2\r\n15\r\n");
  EXPECT_EQ(Eval("return type(redis.call('GET', 'missing'))"), "$7\r\nboolean\r\n");
  EXPECT_EQ(Eval("return redis.call('SET', 'k', 'v')['ok']"), "$2\r\nOK\r\n");
  EXPECT_EQ(Eval("return redis.pcall('INCR', 'k')['err']"),
            "$43\r\nERR value is not an integer or out of range\r\n");
  // Numbers as arguments become their strings.
  EXPECT_EQ(Eval("redis.call('SET', 'num', 42); return redis.call('GET', 'num')"),
            "$2\r\n42\r\n");
  EXPECT_EQ(Eval("return redis.call('PING')"), "+PONG\r\n");
  // TIME is the entry's.
  EXPECT_EQ(Eval("return redis.call('TIME')"),
            "*2\r\n$10\r\n1700000000\r\n$1\r\n0\r\n");
}

TEST_F(LuaScriptTest, ErrorsCarryRedissTextsAndWhereTheyCameFrom) {
  Run({"SET", "s", "abc"});
  EXPECT_EQ(Eval("return redis.call('INCR', 's')"),
            "-ERR value is not an integer or out of range script: " +
                ScriptSha1Hex("return redis.call('INCR', 's')") + ", on @user_script:1.\r\n");
  EXPECT_EQ(ErrorOf(Eval("\n\nerror('boom')")), "-ERR user_script:3: boom");
  EXPECT_NE(Eval("\n\nerror('boom')").find("on @user_script:3."), std::string::npos);
  EXPECT_EQ(ErrorOf(Eval("error({err = 'MY boom'})")), "-MY boom");
  EXPECT_EQ(ErrorOf(Eval("return redis.call('nosuch')")),
            "-ERR Unknown Redis command called from script");
  EXPECT_EQ(ErrorOf(Eval("return redis.call('GET')")),
            "-ERR Wrong number of args calling Redis command from script");
  EXPECT_EQ(ErrorOf(Eval("return redis.call()")),
            "-ERR Please specify at least one argument for this redis lib call");
  EXPECT_EQ(ErrorOf(Eval("return redis.call('GET', {})")),
            "-ERR Lua redis lib command arguments must be strings or integers");
  // (Arity first, as Redis.)
  EXPECT_EQ(ErrorOf(Eval("return redis.call('MULTI', 'a')")),
            "-ERR Wrong number of args calling Redis command from script");
  for (const char* refused : {"'EVAL', 'return 1', 0", "'MULTI'", "'FLUSHALL'", "'KEYS', '*'",
                              "'flin.exec', 'x'", "'SCRIPT', 'FLUSH'", "'CONFIG', 'GET', 'x'"}) {
    EXPECT_EQ(ErrorOf(Eval(std::string("return redis.call(") + refused + ")")),
              "-ERR This Redis command is not allowed from script")
        << refused;
  }
  EXPECT_EQ(Eval("return 1 +"),
            "-ERR Error compiling script (new function): user_script:1: unexpected symbol near "
            "'<eof>'\r\n");
}

TEST_F(LuaScriptTest, GlobalsAreReadOnlyAndTheSandboxHasNoWayOut) {
  EXPECT_EQ(ErrorOf(Eval("x = 1")), "-ERR user_script:1: Attempt to modify a readonly table");
  EXPECT_EQ(ErrorOf(Eval("return y")),
            "-ERR user_script:1: Script attempted to access nonexistent global variable 'y'");
  for (const char* name : {"os", "io", "debug", "loadstring", "dofile", "loadfile", "require",
                           "print", "getfenv", "setfenv", "package"}) {
    EXPECT_NE(Eval(std::string("return ") + name).find("nonexistent global variable"),
              std::string::npos)
        << name;
  }
  EXPECT_EQ(Eval("return cjson.encode({1, 2})"), "$5\r\n[1,2]\r\n");
  EXPECT_EQ(Eval("return bit.band(7, 3)"), ":3\r\n");
  EXPECT_EQ(Eval("return redis.sha1hex('')"),
            "$40\r\nda39a3ee5e6b4b0d3255bfef95601890afd80709\r\n");
  // Libraries open when first named, strings' methods included, and are read-only then too.
  EXPECT_EQ(Eval("return ('ab'):upper()"), "$2\r\nAB\r\n");
  EXPECT_EQ(Eval("local f = coroutine.wrap(function() return table.concat({'a', 'b'}) end) "
                 "return f()"),
            "$2\r\nab\r\n");
  EXPECT_EQ(ErrorOf(Eval("string.upper = nil")),
            "-ERR user_script:1: Attempt to modify a readonly table");
  EXPECT_EQ(ErrorOf(Eval("local m = math; m.pi = 3")),
            "-ERR user_script:1: Attempt to modify a readonly table");
  EXPECT_EQ(ErrorOf(Eval("rawset(bit, 'x', 1)")), "-ERR Attempt to modify a readonly table");
  // What a run changes dies with its state: the next run sees pristine libraries.
  Eval("string.upper = nil; math.floor = nil");
  EXPECT_EQ(Eval("return string.upper('a') .. math.floor(2.5)"), "$2\r\nA2\r\n");
}

TEST_F(LuaScriptTest, ReadOnlyScriptsRefuseWrites) {
  EXPECT_EQ(ErrorOf(Eval("return redis.call('SET', 'k', 'v')", {"k"}, {}, 2, -1, "EVAL_RO")),
            "-ERR Write commands are not allowed from read-only scripts.");
  Run({"SET", "k", "v"});
  EXPECT_EQ(Eval("return redis.call('GET', 'k')", {"k"}, {}, 2, -1, "EVAL_RO"), "$1\r\nv\r\n");
}

// In a cluster an entry belongs to one partition; a script may touch only its keys.
TEST_F(LuaScriptTest, InAPartitionOnlyItsKeysAreReachable) {
  const int p = KeyPartition("{t}a", 64);
  EXPECT_EQ(Eval("return redis.call('SET', '{t}b', 'x')", {"{t}a"}, {}, 2, p), "+OK\r\n");
  std::string other = "o0";
  for (int i = 1; KeyPartition(other, 64) == p; ++i) other = "o" + std::to_string(i);
  EXPECT_EQ(ErrorOf(Eval("return redis.call('GET', ARGV[1])", {"{t}a"}, {other}, 2, p)),
            "-ERR Script attempted to access a non local key in a cluster node");
}

TEST_F(LuaScriptTest, AnEndlessScriptIsStoppedAndItsEarlierWritesStay) {
  const std::string budget = "-ERR Script exceeded its budget of";
  EXPECT_EQ(Eval("redis.call('SET', 'k', 'before'); while true do end").rfind(budget, 0), 0u);
  EXPECT_EQ(Run({"GET", "k"}), "$6\r\nbefore\r\n");
  // A pcall cannot hold it back, nor a coroutine run it apart.
  EXPECT_EQ(Eval("while true do pcall(function() while true do end end) end").rfind(budget, 0),
            0u);
  EXPECT_EQ(Eval("local c = coroutine.wrap(function() while true do end end) c()").rfind(budget, 0),
            0u);
  // Commands count too.
  EXPECT_EQ(Eval("while true do redis.call('GET', 'k') end").rfind(budget, 0), 0u);
  // And allocations: a few instructions a turn, each making a string (found by
  // lua_script_fuzz: it filled the memory limit in 5 s within the instruction budget).
  EXPECT_EQ(Eval("local t = {} for i = 1, 1/0 do t[i] = tostring(i) end").rfind(budget, 0), 0u);
}

// Lua's pattern matching backtracks in C, where no instruction is counted: '.-.-.-.-b' over
// 3,000 bytes ran for minutes on every replica (and again at each restart). Pattern calls
// count in the budget at their worst case, and one that cannot fit is stopped before it runs.
TEST_F(LuaScriptTest, PatternMatchingCountsInTheBudget) {
  const std::string budget = "-ERR Script exceeded its budget of";
  for (const char* call : {"string.find(s, '.-.-.-.-b')", "string.match(s, '(.-)(.-)(.-)x')",
                           "string.gsub(s, '.-.-x', '')", "s:find('a-a-a-a-b')",
                           "string.gmatch(s, '.*.*.*b')()"}) {
    EXPECT_EQ(Eval(std::string("local s = string.rep('a', 3000) return ") + call).rfind(budget, 0),
              0u)
        << call;
  }
  // Linear patterns, plain finds and small subjects run as before.
  EXPECT_EQ(Eval("local s = string.rep('a b ', 250000) "
                 "return {select(2, string.gsub(s, '%s+', '')), #string.match(s, '^(.-)b'), "
                 "string.find(s, 'b a', 1, true)}"),
            "*4\r\n:500000\r\n:2\r\n:3\r\n:5\r\n");
  EXPECT_EQ(Eval("local n = 0 for w in string.gmatch(string.rep('x,', 100000), '[^,]+') do "
                 "n = n + 1 end return n"),
            ":100000\r\n");
  EXPECT_EQ(Eval("return string.match('key:123:rest', '^(.-):(%d+):(.*)$')"),
            "$3\r\nkey\r\n");
  EXPECT_EQ(Eval("return {string.find('hello (world)', '%b()')}"), "*2\r\n:7\r\n:13\r\n");
}

TEST_F(LuaScriptTest, MemoryIsBoundedPerRun) {
  const std::string memory = "-ERR Script used more than 256 MiB of Lua memory";
  EXPECT_EQ(Eval("redis.call('SET', 'k', 'kept'); return string.rep('x', 300 * 1024 * 1024)")
                .rfind(memory, 0),
            0u);
  EXPECT_EQ(Run({"GET", "k"}), "$4\r\nkept\r\n");
  EXPECT_EQ(Eval("local t = {} for i = 1, 1e9 do t[i] = i end").rfind(memory, 0), 0u);
  // Caught by the script, it is an ordinary failure of pcall.
  EXPECT_EQ(Eval("return tostring(pcall(string.rep, 'x', 300 * 1024 * 1024))"),
            "$5\r\nfalse\r\n");
  // No userdata whose finalizer would run Lua code while the state closes, unbudgeted.
  EXPECT_NE(Eval("return newproxy(true)").find("nonexistent global variable 'newproxy'"),
            std::string::npos);
}

TEST_F(LuaScriptTest, ValuesThatCannotBeRepliedDoNotHangOrCrash) {
  EXPECT_EQ(ErrorOf(Eval("local t = {} t[1] = t return t")), "-ERR reached lua stack limit");
  // The conversion reads tables raw: no metamethod of the script runs after it returned.
  EXPECT_EQ(Eval("return setmetatable({}, {__index = function() while true do end end})"),
            "*0\r\n");
  EXPECT_EQ(ErrorOf(Eval("error(setmetatable({}, {__index = function() while true do end end}))")),
            "-ERR unknown error");
}

// Two replicas applying the same entries end with the same replies and the same data,
// randomness included; another timestamp gives another sequence.
TEST_F(LuaScriptTest, ReplicasRunTheSameEntryTheSameWay) {
  Replica b(Dir("b"));
  const std::vector<std::string> entry = {
      "EVAL",
      "local r = {} for i = 1, 5 do r[i] = math.random(1000000) end "
      "redis.call('SET', KEYS[1], table.concat(r, ',')) return r",
      "1", "k"};
  const std::string reply = a_.Apply(entry, now_, -1, 2);
  EXPECT_EQ(b.Apply(entry, now_, -1, 2), reply);
  EXPECT_EQ(a_.Apply({"GET", "k"}, now_, -1, 2), b.Apply({"GET", "k"}, now_, -1, 2));
  EXPECT_NE(a_.Apply(entry, now_ + 1, -1, 2), reply);
}

// Redis 7's "#!lua flags=..." first line.
TEST_F(LuaScriptTest, AShebangDeclaresTheScriptsFlags) {
  EXPECT_EQ(ErrorOf(Eval("#!lua flags=no-writes\nreturn redis.call('SET', 'a', 'b')")),
            "-ERR Write commands are not allowed from read-only scripts.");
  EXPECT_NE(Eval("#!lua\nerror('x')").find("-ERR user_script:2: x script: " +
                                           ScriptSha1Hex("#!lua\nerror('x')") +
                                           ", on @user_script:2."),
            std::string::npos);
  EXPECT_EQ(Eval("#!lua  flags=no-writes,allow-oom  \nreturn 3"), ":3\r\n");
  EXPECT_EQ(Eval("#!lua flags=\nreturn 2"), ":2\r\n");
  EXPECT_EQ(Eval("#!lua flags=bogus\nreturn 1"),
            "-ERR Unexpected flag in script shebang: bogus\r\n");
  EXPECT_EQ(Eval("#!python\nreturn 1"),
            "-ERR Unexpected engine in script shebang: #!python\r\n");
  EXPECT_EQ(Eval("#!lua name=x\nreturn 1"), "-ERR Unknown lua shebang option: name=x\r\n");
  EXPECT_EQ(Eval("#!lua"), "-ERR Invalid script shebang\r\n");
  EXPECT_EQ(Eval("#!lua\nreturn 1", {}, {}, 2, -1, "EVAL_RO"),
            "-ERR Can not execute a script with write flag using *_ro command.\r\n");
  EXPECT_EQ(Eval("#!lua flags=no-cluster\nreturn 1"), ":1\r\n");
  EXPECT_EQ(Eval("#!lua flags=no-cluster\nreturn 1", {}, {}, 2, 3),
            "-ERR Can not run script on cluster, 'no-cluster' flag is set.\r\n");
  EXPECT_EQ(ScriptCompileError("#!lua flags=bogus\nreturn 1"),
            "ERR Unexpected flag in script shebang: bogus");
  EXPECT_EQ(ScriptCompileError("#!lua\nreturn +"),
            "ERR Error compiling script (new function): user_script:2: unexpected symbol near "
            "'+'");
}

// Found with lua_script_fuzz (its replica check): tostring of a table wrote its address,
// which is not the same on two replicas, nor from one run to the next.
TEST_F(LuaScriptTest, TostringOfATableIsTheSameOnEveryReplica) {
  EXPECT_EQ(Eval("local a, b = {}, {} return {tostring(a), tostring(b), tostring(a)}"),
            "*3\r\n$17\r\ntable: 0x00000001\r\n$17\r\ntable: 0x00000002\r\n"
            "$17\r\ntable: 0x00000001\r\n");
  EXPECT_EQ(Eval("return {tostring(type), tostring(coroutine.create(function() end)), tostring(1.5), "
                 "tostring(nil), tostring(setmetatable({}, {__tostring = function() "
                 "return 'mine' end}))}"),
            "*5\r\n$20\r\nfunction: 0x00000001\r\n$18\r\nthread: 0x00000002\r\n"
            "$3\r\n1.5\r\n$3\r\nnil\r\n$4\r\nmine\r\n");
  // What a replica writes from it is what every other writes, whatever its heap holds.
  Replica b(Dir("b"));
  const std::vector<std::string> entry = {
      "EVAL", "local t = {} redis.call('SET', KEYS[1], tostring(t)) return tostring(t)", "1", "k"};
  const std::string reply = a_.Apply(entry, now_, -1, 2);
  std::vector<std::string> heap(100, std::string(40, 'x'));
  EXPECT_EQ(b.Apply(entry, now_, -1, 2), reply);
  EXPECT_EQ(a_.Apply({"GET", "k"}, now_, -1, 2), b.Apply({"GET", "k"}, now_, -1, 2));
}

// Found with lua_script_fuzz (its replica check): Lua hashes a table, function or coroutine
// used as a key by its address, so pairs() went over such keys in another order on another
// replica, and a script that wrote in that order wrote something else.
TEST_F(LuaScriptTest, PairsOverTablesAsKeysGoesTheSameWayOnEveryReplica) {
  Replica b(Dir("b"));
  const std::vector<std::string> entry = {
      "EVAL",
      "local t = {} for i = 1, 64 do t[{}] = i; t[function() return i end] = -i end "
      "local order = {} for _, v in pairs(t) do order[#order + 1] = v end "
      "redis.call('SET', KEYS[1], table.concat(order, ',')) return order",
      "1", "k"};
  const std::string reply = a_.Apply(entry, now_, -1, 2);
  // Another heap on the other replica (here: blocks the first one does not have).
  std::vector<std::unique_ptr<char[]>> heap;
  for (int i = 0; i < 1000; ++i) heap.emplace_back(new char[16 + 8 * (i % 50)]);
  EXPECT_EQ(b.Apply(entry, now_, -1, 2), reply);
  EXPECT_EQ(a_.Apply({"GET", "k"}, now_, -1, 2), b.Apply({"GET", "k"}, now_, -1, 2));
  // And on one replica, from one run to the next.
  EXPECT_EQ(a_.Apply(entry, now_, -1, 2), reply);
}

// Found with lua_script_fuzz (its UBSan build): math.random(l, u) took the interval's width
// in int, which overflowed for a width over INT_MAX and gave numbers outside [l, u].
TEST_F(LuaScriptTest, MathRandomStaysInAnIntervalWiderThanAnInt) {
  EXPECT_EQ(Eval("local low, high = 0, 0 "
                 "for i = 1, 200 do "
                 "  local x = math.random(-2000000000, 2000000000) "
                 "  if x < -2000000000 or x > 2000000000 or x % 1 ~= 0 then return x end "
                 "  if x < 0 then low = low + 1 else high = high + 1 end "
                 "  local y = math.random(-2147483648, 2147483647) "
                 "  if y < -2147483648 or y > 2147483647 then return y end "
                 "end "
                 "return {low > 0, high > 0}"),
            "*2\r\n:1\r\n:1\r\n");
}

// Found with lua_script_fuzz (its leak check, then by reading lua-cjson 2.1): cjson.encode
// builds its text in a malloc'd buffer, outside the run's memory, whose size is an int. A
// result over 2 GiB (a sparse array written with its holes as null, a big string many times)
// overflowed it and the library aborted the process: every replica, at every restart. One
// that only did not fit the run's memory leaked the buffer (with encode_keep_buffer(false)).
TEST_F(LuaScriptTest, CjsonEncodeOfMoreThanTheMemoryLimitIsAnErrorNotACrash) {
  const std::string memory = "-ERR Script used more than 256 MiB of Lua memory";
  EXPECT_EQ(Eval("cjson.encode_sparse_array(false, 0) return cjson.encode({[2^29] = 1})")
                .rfind(memory, 0),
            0u);
  EXPECT_EQ(Eval("cjson.encode_keep_buffer(false) local s = string.rep('x', 64 * 1024 * 1024) "
                 "return cjson.encode({s, s, s, s, s})")
                .rfind(memory, 0),
            0u);
  EXPECT_EQ(Eval("local ok, e = pcall(cjson.encode, {string.rep('\\1', 50 * 1024 * 1024)}) "
                 "return {tostring(ok), e}"),
            "*2\r\n$5\r\nfalse\r\n$122\r\nERR Script used more than 256 MiB of Lua memory: "
            "the text cjson.encode would write may not fit in what the script has left\r\n");
  // What fits is encoded as before.
  EXPECT_EQ(Eval("cjson.encode_sparse_array(false, 0) return cjson.encode({[4] = 'a\\1/'})"),
            "$28\r\n[null,null,null,\"a\\u0001\\/\"]\r\n");
  EXPECT_EQ(Eval("return cjson.encode({a = {1, 2.5, true, cjson.null}})"),
            "$23\r\n{\"a\":[1,2.5,true,null]}\r\n");
  // (cjson.new would make a cjson of its own, without these checks.)
  EXPECT_EQ(Eval("return type(cjson.new)"), "$3\r\nnil\r\n");
}

// Found with lua_script_fuzz (its leak check): cjson.decode keeps a malloc'd copy of the
// text's strings while it builds the value; running out of the run's memory in the middle
// skipped its free (by longjmp), leaking about the text's size per call, on every replica.
TEST_F(LuaScriptTest, CjsonDecodeThatMayNotFitIsRefusedBeforeItStarts) {
  EXPECT_EQ(Eval("local s = '[' .. string.rep('[],', 4000000) .. '[]]' "
                 "local ok, e = pcall(cjson.decode, s) return e"),
            "$123\r\nERR Script used more than 256 MiB of Lua memory: the value cjson.decode "
            "would build may not fit in what the script has left\r\n");
  // What fits is decoded as before, strings' brackets and escapes included.
  EXPECT_EQ(Eval(R"(local t = cjson.decode([[{"a":[1,"[,:{\"",{}],"b":null}]]) )"
                 "return {t.a[1], t.a[2], type(t.a[3]), tostring(t.b == cjson.null)}"),
            "*4\r\n:1\r\n$5\r\n[,:{\"\r\n$5\r\ntable\r\n$4\r\ntrue\r\n");
  EXPECT_EQ(Eval("return #cjson.decode('[' .. string.rep('1,', 1000000) .. '1]')"),
            ":1000001\r\n");
}

TEST_F(LuaScriptTest, CompileErrorsAreFoundWithoutRunning) {
  EXPECT_EQ(ScriptCompileError("return 1"), "");
  EXPECT_EQ(ScriptCompileError("while true do end"), "");  // compiled, never run
  EXPECT_EQ(ScriptCompileError("return +"),
            "ERR Error compiling script (new function): user_script:1: unexpected symbol near "
            "'+'");
}

}  // namespace
}  // namespace flin::server

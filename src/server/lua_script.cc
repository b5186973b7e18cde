// How a script runs (lua_script.h): its Lua state, redis.*, and the conversions between
// Lua values and replies, as Redis 7.0 makes them.
//
// Lua reports errors with longjmp, which skips C++ destructors. So the functions Lua calls
// (redis.call, the hooks, the allocator) keep nothing with a destructor on their own frames
// while they call into Lua: what they build lives in the run's RunState, which RunScript
// owns outside every Lua call.

#include "server/lua_script.h"

#include <nettle/sha1.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <memory>

#include <lua.hpp>

extern "C" {
#include <lua-bitop.h>
#include <lua-cjson.h>
}

#include "common/log.h"
#include "common/strings.h"
#include "protocol/reply_parser.h"
#include "server/script_arena.h"

namespace flin::server {
namespace {

constexpr char kChunkName[] = "@user_script";
constexpr std::string_view kSource = "@user_script";
// Redis's redis.REDIS_VERSION: the version Flin's INFO reports.
constexpr char kRedisVersion[] = "7.0.0";
constexpr int kRedisVersionNum = 0x070000;
// How deep a returned table may nest (a table may hold itself).
constexpr int kMaxReplyDepth = 256;

constexpr char kCompileError[] = "ERR Error compiling script (new function): ";

// The error of a run past kScriptMemoryBytes, with `why` after it.
std::string MemoryError(std::string_view why = {}) {
  return "ERR Script used more than " + std::to_string(kScriptMemoryBytes >> 20) +
         " MiB of Lua memory" + std::string(why);
}

// What one run keeps outside Lua's frames (see the file's comment).
struct RunState {
  ApplyContext* ctx = nullptr;
  ScriptArena* arena = nullptr;  // where the run's Lua memory comes from
  bool read_only = false;
  int resp = 2;  // the protocol redis.call's replies are converted from (redis.setresp)
  size_t memory = 0;
  bool out_of_memory = false;
  uint64_t spent = 0;
  bool over_budget = false;  // then the run's error is the budget's, whatever reached the top
  uint64_t rand48 = 0;
  int error_line = 0;  // where the error that ended the run was raised in user_script
  // redis.call's scratch: the command's arguments, its reply as sent, and parsed.
  std::vector<std::string_view> args;
  std::string reply_bytes;
  Reply reply;
  std::string error;
  // A number argument of redis.call, formatted as Redis does (%.17g); kept for the call.
  std::deque<std::string> numbers;
  // The error redis.call raised last (a plain string, as Redis raises it): if it ends the
  // run it is answered as it is, where any other error string gets "ERR " in front.
  std::string call_error;
};

RunState* StateOf(lua_State* L) {
  void* ud = nullptr;
  lua_getallocf(L, &ud);
  return static_cast<RunState*>(ud);
}

// Lua's allocator, within kScriptMemoryBytes, from the run's ScriptArena. (Lua 5.1 gives osize 0
// for a new block and assumes a shrink never fails.)
void* Allocate(void* ud, void* ptr, size_t osize, size_t nsize) {
  auto* st = static_cast<RunState*>(ud);
  if (ptr == nullptr) osize = 0;
  if (nsize == 0) {
    if (ptr != nullptr) st->arena->Free(ptr, osize);
    st->memory -= osize;
    return nullptr;
  }
  if (nsize > osize && st->memory - osize + nsize > kScriptMemoryBytes) {
    st->out_of_memory = true;
    return nullptr;
  }
  void* p = st->arena->Reallocate(ptr, osize, nsize);
  if (p == nullptr) return nsize <= osize ? ptr : nullptr;
  st->memory = st->memory - osize + nsize;
  // Charged to the budget, which the count hook checks (an allocator may not raise).
  if (nsize > osize) st->spent += kScriptAllocCost;
  return p;
}

// Raises `text` as the error of a redis.call (a string: what Lua's pcall gets, and, if it
// ends the run, the reply as it is). Does not return.
int RaiseCallError(lua_State* L, std::string_view text) {
  RunState* st = StateOf(L);
  st->call_error.assign(text);
  lua_pushlstring(L, st->call_error.data(), st->call_error.size());
  return lua_error(L);
}

// Raises a plain error without Lua's "user_script:N:" in front (Redis's own errors of
// redis.*). Does not return.
int RaisePlain(lua_State* L, const char* text) {
  lua_pushstring(L, text);
  return lua_error(L);
}

std::string BudgetError() {
  return "ERR Script exceeded its budget of " + std::to_string(kScriptBudget) +
         " Lua instructions (a command called counts as " + std::to_string(kScriptCallCost) +
         "): Flin stops every replica's run at the same point";
}

void CountHook(lua_State* L, lua_Debug*);

// Ends the run: its budget is spent. Does not return.
void StopOverBudget(lua_State* L) {
  RunState* st = StateOf(L);
  // From now on at every instruction, so that a pcall in the script cannot hold it back.
  lua_sethook(L, CountHook, LUA_MASKCOUNT, 1);
  st->over_budget = true;
  st->error = BudgetError();  // (st->error is free until the run ends)
  RaiseCallError(L, st->error);
}

void CountHook(lua_State* L, lua_Debug*) {
  RunState* st = StateOf(L);
  st->spent += kScriptHookEvery;
  if (st->spent > kScriptBudget) StopOverBudget(L);
}

// ---- pattern matching, within the budget ----
//
// string.find, match, gmatch and gsub run Lua 5.1's backtracking matcher in C, where the count
// hook never fires: '.-.-.-.-b' over 3,000 bytes ran for minutes, on every replica and again
// at each restart. Each call is charged, before it runs, the matcher's worst case for its
// pattern and subject, and one that does not fit in what the run has left stops the run with
// the budget's error. The worst case: each start position (one if the pattern is anchored by
// '^'), times the subject's length for each item that expands ('*', '+', '-', %b) and is
// followed by another item (it may backtrack over all of it for each), and for each
// back-reference (%1-%9), times 2 per '?' item; plus one scan (an expanding last item's, or a
// plain find's).

// The end of the set that starts after '[' at `j` (Lua's own reading: the first character,
// after an optional '^', belongs to the set even if it is ']').
size_t PatternSetEnd(std::string_view p, size_t j) {
  if (j < p.size() && p[j] == '^') ++j;
  do {
    if (j >= p.size()) return p.size();  // (malformed: the matcher itself refuses it)
    j += p[j] == '%' ? 2 : 1;
  } while (j < p.size() && p[j] != ']');
  return std::min(j + 1, p.size());
}

double PatternWorstCase(std::string_view p, double n) {
  const bool anchored = !p.empty() && p[0] == '^';
  size_t i = anchored ? 1 : 0;
  double factor = 1;
  bool pending = false;  // the previous item expands
  while (i < p.size()) {
    const char c = p[i];
    if (c == '(' || c == ')') {
      ++i;
      continue;
    }
    if (c == '$' && i + 1 == p.size()) break;
    if (pending) factor *= n + 1;
    pending = false;
    size_t end = i + 1;
    bool expands = false;
    if (c == '%' && i + 1 < p.size()) {
      const char k = p[i + 1];
      if (k == 'b') {
        end = std::min(i + 4, p.size());
        expands = true;
      } else if (k == 'f') {
        i = PatternSetEnd(p, i + 3);  // %f[set]: no quantifier
        continue;
      } else if (k >= '1' && k <= '9') {
        factor *= n + 1;
        i += 2;
        continue;
      } else {
        end = i + 2;
      }
    } else if (c == '[') {
      end = PatternSetEnd(p, i + 1);
    }
    if (!expands && end < p.size()) {
      const char q = p[end];
      if (q == '*' || q == '+' || q == '-') {
        expands = true;
        ++end;
      } else if (q == '?') {
        factor *= 2;
        ++end;
      }
    }
    pending = expands;
    i = end;
  }
  return (anchored ? 1 : n + 1) * factor + n;
}

// string.find, match, gmatch, gsub (upvalue 1: the library's; upvalue 2: true for find, whose
// fourth argument may ask for a plain search).
int BudgetedPatternCall(lua_State* L) {
  RunState* st = StateOf(L);
  size_t n = 0, m = 0;
  // (Numbers become strings in place, as the library's own argument checks make them.)
  const char* subject = lua_type(L, 1) == LUA_TSTRING || lua_type(L, 1) == LUA_TNUMBER
                            ? lua_tolstring(L, 1, &n)
                            : nullptr;
  const char* pattern = lua_type(L, 2) == LUA_TSTRING || lua_type(L, 2) == LUA_TNUMBER
                            ? lua_tolstring(L, 2, &m)
                            : nullptr;
  if (subject != nullptr && pattern != nullptr) {
    const std::string_view p(pattern, m);
    const bool plain = (lua_toboolean(L, lua_upvalueindex(2)) != 0 && lua_toboolean(L, 4) != 0) ||
                       p.find_first_of("^$*+?.([%-") == std::string_view::npos;
    const double cost = plain ? static_cast<double>(n) : PatternWorstCase(p, static_cast<double>(n));
    const uint64_t left = kScriptBudget - std::min(st->spent, kScriptBudget);
    if (cost > static_cast<double>(left)) StopOverBudget(L);
    st->spent += static_cast<uint64_t>(cost);
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

// ---- rand48, as Redis's math.random (deps/lua's lmathlib with redisLrand48) ----

constexpr uint64_t kRand48Mask = (uint64_t{1} << 48) - 1;
void Srand48(RunState* st, int32_t seed) {
  st->rand48 = ((static_cast<uint64_t>(static_cast<uint32_t>(seed)) << 16) | 0x330E) & kRand48Mask;
}
int32_t Lrand48(RunState* st) {
  st->rand48 = (st->rand48 * 0x5DEECE66Dull + 0xB) & kRand48Mask;
  return static_cast<int32_t>(st->rand48 >> 17);
}

int MathRandom(lua_State* L) {
  RunState* st = StateOf(L);
  constexpr int32_t kMax = 0x7fffffff;
  const lua_Number r = static_cast<lua_Number>(Lrand48(st) % kMax) / static_cast<lua_Number>(kMax);
  switch (lua_gettop(L)) {
    case 0:
      lua_pushnumber(L, r);
      break;
    case 1: {
      const int u = luaL_checkint(L, 1);
      luaL_argcheck(L, 1 <= u, 1, "interval is empty");
      lua_pushnumber(L, std::floor(r * u) + 1);
      break;
    }
    case 2: {
      const int l = luaL_checkint(L, 1);
      const int u = luaL_checkint(L, 2);
      luaL_argcheck(L, l <= u, 2, "interval is empty");
      // The width in floating point: in int (Lua's and Redis's) it overflows past INT_MAX.
      const lua_Number width = static_cast<lua_Number>(u) - l + 1;
      lua_pushnumber(L, std::floor(r * width) + l);
      break;
    }
    default:
      return luaL_error(L, "wrong number of arguments");
  }
  return 1;
}

int MathRandomSeed(lua_State* L) {
  Srand48(StateOf(L), luaL_checkint(L, 1));
  return 0;
}

// ---- a command's reply, into Lua values (Redis's RESP-to-Lua conversion) ----

void PushTableWith(lua_State* L, const char* field, const std::string& value) {
  lua_createtable(L, 0, 1);
  lua_pushlstring(L, value.data(), value.size());
  lua_setfield(L, -2, field);
}

void PushReply(lua_State* L, const Reply& r, int resp) {
  luaL_checkstack(L, 4, "reply nested too deeply");
  switch (r.type) {
    case ReplyType::kString:
    case ReplyType::kVerbatim:
      lua_pushlstring(L, r.str.data(), r.str.size());
      return;
    case ReplyType::kStatus:
      return PushTableWith(L, "ok", r.str);
    case ReplyType::kError:
      return PushTableWith(L, "err", r.str);
    case ReplyType::kInteger:
      lua_pushnumber(L, static_cast<lua_Number>(r.integer));
      return;
    case ReplyType::kNil:
      if (resp == 3) return lua_pushnil(L);
      lua_pushboolean(L, 0);
      return;
    case ReplyType::kBoolean:
      lua_pushboolean(L, r.integer != 0);
      return;
    case ReplyType::kDouble:
      lua_createtable(L, 0, 1);
      lua_pushnumber(L, std::strtod(r.str.c_str(), nullptr));
      lua_setfield(L, -2, "double");
      return;
    case ReplyType::kBigNumber:
      return PushTableWith(L, "big_number", r.str);
    case ReplyType::kMap:
      lua_createtable(L, 0, 1);
      lua_createtable(L, 0, static_cast<int>(r.elements.size() / 2));
      for (size_t i = 0; i + 1 < r.elements.size(); i += 2) {
        PushReply(L, r.elements[i], resp);
        PushReply(L, r.elements[i + 1], resp);
        lua_settable(L, -3);
      }
      lua_setfield(L, -2, "map");
      return;
    case ReplyType::kSet:
      lua_createtable(L, 0, 1);
      lua_createtable(L, 0, static_cast<int>(r.elements.size()));
      for (const Reply& e : r.elements) {
        PushReply(L, e, resp);
        lua_pushboolean(L, 1);
        lua_settable(L, -3);
      }
      lua_setfield(L, -2, "set");
      return;
    case ReplyType::kArray:
    case ReplyType::kPush:
      lua_createtable(L, static_cast<int>(r.elements.size()), 0);
      for (size_t i = 0; i < r.elements.size(); ++i) {
        PushReply(L, r.elements[i], resp);
        lua_rawseti(L, -2, static_cast<int>(i + 1));
      }
      return;
  }
}

// ---- redis.call / redis.pcall ----

// Runs st->args as a command at apply time; its reply, parsed, is left in st->reply. No Lua
// call in here (see the file's comment).
void RunCommand(RunState* st) {
  ApplyContext& ctx = *st->ctx;
  const Args args(st->args);
  const CommandSpec* spec = ctx.commands != nullptr ? ctx.commands->Find(args[0]) : nullptr;
  st->reply = Reply();
  auto fail = [st](std::string text) { st->reply = Reply::Error(std::move(text)); };
  if (spec == nullptr) return fail("ERR Unknown Redis command called from script");
  if (!spec->ArityOk(args.size())) {
    return fail("ERR Wrong number of args calling Redis command from script");
  }
  st->reply_bytes.clear();
  protocol::ReplyWriter out(&st->reply_bytes, st->resp);
  const std::string name = ToLower(args[0]);
  if (name == "ping" && args.size() <= 2) {
    args.size() == 2 ? out.Bulk(args[1]) : out.Simple("PONG");
  } else if (name == "echo") {
    out.Bulk(args[1]);
  } else if (name == "time") {
    // The entry's time, the same on every replica.
    out.ArrayHeader(2);
    out.BulkInteger(ctx.now_ms / 1000);
    out.BulkInteger((ctx.now_ms % 1000) * 1000);
  } else if (spec->apply == nullptr || spec->Has(kCmdInternal) ||
             (spec->KeyPositions(args).empty() && spec->key_positions == nullptr) ||
             IsScriptCommand(*spec) || spec->Has(kCmdPubSub)) {
    // Commands that do not run from the log, and those of several logs or none (FLUSHALL,
    // transactions, scripts). (A command that counts its keys and names none validly, as
    // LMPOP 0, runs: its apply answers its own error.) And PUBLISH: its answer counts each replica's own subscribers,
    // which a script could branch on, and then write differently on each replica.
    return fail("ERR This Redis command is not allowed from script");
  } else if (st->read_only && spec->Writes(args)) {
    return fail("ERR Write commands are not allowed from read-only scripts.");
  } else {
    if (ctx.partition >= 0) {
      for (size_t pos : spec->KeyPositions(args)) {
        if (ctx.Partition(args[pos]) != ctx.partition) {
          return fail("ERR Script attempted to access a non local key in a cluster node");
        }
      }
    }
    ApplyContext sub(ctx.txn, ctx.now_ms, args, out, ctx.partitions, ctx.expired_keys);
    sub.Inherit(ctx);
    sub.pubsub = nullptr;  // (refused above; and a count must not steer a script)
    sub.publishes = nullptr;
    try {
      RunApply(*spec, sub);
    } catch (const std::logic_error& e) {
      LOG_WARNING("applying '%s' from a script failed: %s", std::string(args[0]).c_str(),
                  e.what());
      return fail("ERR internal error applying this command");
    }
  }
  protocol::ReplyParser parser;
  parser.Feed(st->reply_bytes);
  if (parser.Next(&st->reply) != protocol::ReplyParser::State::kReply) {
    fail("ERR internal error reading this command's reply");
  }
}

// redis.call raises a command's error, redis.pcall returns it as {err = ...}.
int CallFailed(lua_State* L, std::string_view text, bool raise) {
  if (raise) return RaiseCallError(L, text);
  lua_createtable(L, 0, 1);
  lua_pushlstring(L, text.data(), text.size());
  lua_setfield(L, -2, "err");
  return 1;
}

int CallCommand(lua_State* L, bool raise) {
  RunState* st = StateOf(L);
  const int argc = lua_gettop(L);
  if (argc == 0) {
    return CallFailed(L, "ERR Please specify at least one argument for this redis lib call",
                      raise);
  }
  st->args.clear();
  st->numbers.clear();
  for (int i = 1; i <= argc; ++i) {
    size_t len;
    if (lua_type(L, i) == LUA_TSTRING) {
      const char* p = lua_tolstring(L, i, &len);
      st->args.emplace_back(p, len);
    } else if (lua_type(L, i) == LUA_TNUMBER) {
      char buf[64];
      const int n = std::snprintf(buf, sizeof(buf), "%.17g", lua_tonumber(L, i));
      st->numbers.emplace_back(buf, n > 0 ? static_cast<size_t>(n) : 0);
      st->args.emplace_back(st->numbers.back());
    } else {
      return CallFailed(L, "ERR Lua redis lib command arguments must be strings or integers",
                        raise);
    }
  }
  st->spent += kScriptCallCost;
  RunCommand(st);
  if (st->reply.IsError()) return CallFailed(L, st->reply.str, raise);
  PushReply(L, st->reply, st->resp);
  return 1;
}

int RedisCall(lua_State* L) { return CallCommand(L, true); }
int RedisPCall(lua_State* L) { return CallCommand(L, false); }

constexpr size_t kSha1HexBytes = 2 * SHA1_DIGEST_SIZE;

void Sha1Hex(std::string_view data, char* hex) {
  struct sha1_ctx sha;
  uint8_t digest[SHA1_DIGEST_SIZE];
  sha1_init(&sha);
  sha1_update(&sha, data.size(), reinterpret_cast<const uint8_t*>(data.data()));
  sha1_digest(&sha, sizeof(digest), digest);
  for (int i = 0; i < SHA1_DIGEST_SIZE; ++i) {
    hex[2 * i] = "0123456789abcdef"[digest[i] >> 4];
    hex[2 * i + 1] = "0123456789abcdef"[digest[i] & 15];
  }
}

int RedisSha1Hex(lua_State* L) {
  if (lua_gettop(L) != 1) return RaisePlain(L, "wrong number of arguments");
  size_t len = 0;
  const char* p = lua_tolstring(L, 1, &len);
  char hex[kSha1HexBytes];
  Sha1Hex(p != nullptr ? std::string_view(p, len) : std::string_view(), hex);
  lua_pushlstring(L, hex, sizeof(hex));
  return 1;
}

int ReplyTable(lua_State* L, const char* field) {
  if (lua_gettop(L) != 1 || lua_type(L, 1) != LUA_TSTRING) {
    // Returned, not raised (Redis's): the script's reply if it returns it.
    lua_createtable(L, 0, 1);
    lua_pushstring(L, "ERR wrong number or type of arguments");
    lua_setfield(L, -2, "err");
    return 1;
  }
  lua_createtable(L, 0, 1);
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, field);
  return 1;
}
// redis.error_reply: without a leading '-'; a message of one word gets the code ERR.
int RedisErrorReply(lua_State* L) {
  if (lua_gettop(L) != 1 || lua_type(L, 1) != LUA_TSTRING) return ReplyTable(L, "err");
  size_t len;
  const char* p = lua_tolstring(L, 1, &len);
  if (len > 0 && p[0] == '-') ++p, --len;
  if (std::memchr(p, ' ', len) == nullptr) {
    lua_pushstring(L, "ERR ");
    lua_pushlstring(L, p, len);
    lua_concat(L, 2);
  } else {
    lua_pushlstring(L, p, len);
  }
  lua_replace(L, 1);
  return ReplyTable(L, "err");
}
int RedisStatusReply(lua_State* L) { return ReplyTable(L, "ok"); }

// redis.log(level, message...): notice and warning into Flin's log, once (on the replica
// that answers the client), others dropped.
int RedisLog(lua_State* L) {
  const int argc = lua_gettop(L);
  if (argc < 2) return RaisePlain(L, "redis.log() requires two arguments or more.");
  if (!lua_isnumber(L, 1)) return RaisePlain(L, "First argument must be a number (log level).");
  const int level = static_cast<int>(lua_tointeger(L, 1));
  if (level < 0 || level > 3) return RaisePlain(L, "Invalid debug level.");
  lua_concat(L, argc - 1);  // the message, as one string
  if (level >= 2 && StateOf(L)->ctx->reply_wanted) {
    const char* msg = lua_tostring(L, -1);
    if (level == 3) {
      LOG_WARNING("script: %s", msg != nullptr ? msg : "");
    } else {
      LOG_NOTICE("script: %s", msg != nullptr ? msg : "");
    }
  }
  return 0;
}

int RedisSetResp(lua_State* L) {
  if (lua_gettop(L) != 1) return RaisePlain(L, "redis.setresp() requires one argument.");
  const int resp = static_cast<int>(lua_tointeger(L, 1));
  if (resp != 2 && resp != 3) return RaisePlain(L, "RESP version must be 2 or 3.");
  StateOf(L)->resp = resp;
  return 0;
}

// redis.set_repl: the whole script is what replicates, so there are no effects to choose.
int RedisSetRepl(lua_State* L) {
  return RaisePlain(L, "redis.set_repl() is not supported: Flin replicates the script itself, "
                       "and every replica runs all of it");
}
int RedisReplicateCommands(lua_State* L) {
  lua_pushboolean(L, 1);
  return 1;
}
int RedisBreakpoint(lua_State* L) {
  lua_pushboolean(L, 0);  // no debugger attached
  return 1;
}
int RedisDebug(lua_State*) { return 0; }

// ---- cjson.encode and decode, within the run's memory ----
//
// lua-cjson 2.1 writes its text into a malloc'd buffer (outside the run's memory) whose size
// is an int: a text over 2 GiB (a sparse array written with its holes as null, one big string
// many times) overflows it, and the library aborts the process, on every replica, again at
// every restart. And a text that does not fit the run's memory fails only when pushed, by a
// longjmp that skips the library's free (with encode_keep_buffer(false): a leak per call).
// So before encoding, a bound of the text (walking the value as cjson does, each value counted
// in the budget) must fit what the run has left, or the call fails as memory would.

constexpr size_t kJsonScalarBytes = 32;  // a number ("%.14g", nan, inf), true, false, null
constexpr size_t kJsonMargin = 1 << 20;  // the Lua stack cjson grows while it recurses

const std::string& CjsonTooBig() {
  static const std::string text = MemoryError(
      ": the text cjson.encode would write may not fit in what the script has left");
  return text;
}

// At most the bytes cjson.encode writes for the value at `index` (absolute), or more than
// `limit` (then it stops early). A table too deep for the Lua stack is where cjson stops
// with an error: nothing below it is written.
size_t JsonBound(lua_State* L, RunState* st, int index, size_t limit) {
  if (++st->spent > kScriptBudget) StopOverBudget(L);
  if (lua_type(L, index) == LUA_TSTRING) return lua_objlen(L, index) * 6 + 2;  // "\u001f"
  if (lua_type(L, index) != LUA_TTABLE) return kJsonScalarBytes;
  if (!lua_checkstack(L, 3)) return 0;
  size_t bound = 2, max_index = 0;
  bool array = true;
  lua_pushnil(L);
  while (lua_next(L, index) != 0) {
    const int value = lua_gettop(L);
    if (lua_type(L, value - 1) == LUA_TNUMBER) {
      const lua_Number k = lua_tonumber(L, value - 1);
      if (k >= 1 && k <= 9007199254740992.0 && std::floor(k) == k) {
        max_index = std::max(max_index, static_cast<size_t>(k));
      } else {
        array = false;
      }
      bound += kJsonScalarBytes + 3;  // as an object's key: "k":
    } else {
      array = false;
      if (lua_type(L, value - 1) == LUA_TSTRING) bound += lua_objlen(L, value - 1) * 6 + 3;
    }
    bound += JsonBound(L, st, value, limit) + 1;  // and a comma
    lua_pop(L, 1);
    if (bound > limit) {
      lua_pop(L, 1);
      return bound;
    }
  }
  // An array's holes are written as null.
  if (array) bound += std::min<size_t>(max_index, limit) * 5;
  return bound;
}

// cjson.decode has the same longjmp: it keeps a malloc'd copy of the text's strings while it
// builds the value, and running out of the run's memory midway skipped its free (a leak of
// about the text's size per call). So the memory the value may take is bounded from the text
// first, by what each token can make Lua allocate at its peak (a table's growth holds its old
// and new parts): a table per bracket, an array slot per comma or bracket, a hash node per
// colon, a string per pair of quotes (and the string table's growth), the strings' bytes.
constexpr size_t kJsonTableBytes = 64, kJsonSlotBytes = 48, kJsonPairBytes = 120,
                 kJsonQuoteBytes = 48;

size_t JsonDecodeBound(const char* text, size_t len) {
  size_t bound = len;
  bool in_string = false;
  for (size_t i = 0; i < len; ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
        bound += kJsonQuoteBytes;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        bound += kJsonQuoteBytes;
        break;
      case '[':
      case '{':
        bound += kJsonTableBytes + kJsonSlotBytes;
        break;
      case ',':
        bound += kJsonSlotBytes;
        break;
      case ':':
        bound += kJsonPairBytes;
        break;
      default:
        break;
    }
  }
  return bound;
}

const std::string& CjsonDecodeTooBig() {
  static const std::string text = MemoryError(
      ": the value cjson.decode would build may not fit in what the script has left");
  return text;
}

// What the run has left for a cjson call, its stack's growth kept aside.
size_t JsonMemoryLeft(const RunState* st) {
  const size_t used = st->memory + kJsonMargin;
  return used < kScriptMemoryBytes ? kScriptMemoryBytes - used : 0;
}

// cjson.decode (upvalue 1: the library's).
int CjsonDecode(lua_State* L) {
  RunState* st = StateOf(L);
  luaL_argcheck(L, lua_gettop(L) == 1, 1, "expected 1 argument");
  size_t len = 0;
  // (Not a string: the library's own error, raised before it allocates.)
  const char* text = lua_type(L, 1) == LUA_TSTRING ? lua_tolstring(L, 1, &len) : nullptr;
  if (text != nullptr && JsonDecodeBound(text, len) > JsonMemoryLeft(st)) {
    return RaiseCallError(L, CjsonDecodeTooBig());
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, 1, 1);
  return 1;
}

// cjson.encode (upvalue 1: the library's).
int CjsonEncode(lua_State* L) {
  RunState* st = StateOf(L);
  luaL_argcheck(L, lua_gettop(L) == 1, 1, "expected 1 argument");
  const size_t left = JsonMemoryLeft(st);
  if (JsonBound(L, st, 1, left) > left) return RaiseCallError(L, CjsonTooBig());
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, 1, 1);
  return 1;
}

// ---- globals ----

int NoNewGlobal(lua_State* L) { return luaL_error(L, "Attempt to modify a readonly table"); }
int NoSuchGlobal(lua_State* L) {
  const char* name = lua_tostring(L, 2);
  return luaL_error(L, "Script attempted to access nonexistent global variable '%s'",
                    name != nullptr ? name : "?");
}

// Read-only tables: an empty proxy whose reads go to the table and whose writes are errors;
// the registry's kProtected set lists them, for rawset and setmetatable.
constexpr char kProtected[] = "flin.protected";

void OpenLibrary(lua_State* L, lua_CFunction open, const char* name) {
  lua_pushcfunction(L, open);
  lua_pushstring(L, name);
  lua_call(L, 1, 0);
}

void SetFunction(lua_State* L, const char* name, lua_CFunction f) {
  lua_pushcfunction(L, f);
  lua_setfield(L, -2, name);
}

void SetNumber(lua_State* L, const char* name, lua_Number n) {
  lua_pushnumber(L, n);
  lua_setfield(L, -2, name);
}

void PushProtected(lua_State* L, bool missing_is_error);

// The libraries opened when first named, each then a read-only global like the others.
struct LazyLibrary {
  const char* name;
  lua_CFunction open;
};
constexpr LazyLibrary kLazyLibraries[] = {{LUA_STRLIBNAME, luaopen_string},
                                          {LUA_TABLIBNAME, luaopen_table},
                                          {LUA_MATHLIBNAME, luaopen_math},
                                          {"cjson", luaopen_cjson},
                                          {"bit", luaopen_bit}};

// Opens `lib` into the real globals table at index `globals` and pushes its read-only proxy.
// The library registers itself with the real table as the thread's globals for the moment
// (the scripts' globals, the proxy, refuse writes).
void OpenLazyLibrary(lua_State* L, const LazyLibrary& lib, int globals) {
  lua_pushvalue(L, LUA_GLOBALSINDEX);
  lua_pushvalue(L, globals);
  lua_replace(L, LUA_GLOBALSINDEX);
  lua_pushcfunction(L, lib.open);
  lua_pushstring(L, lib.name);
  lua_call(L, 1, 1);
  if (lib.open == luaopen_string) {
    for (const char* name : {"find", "match", "gmatch", "gsub"}) {
      lua_getfield(L, -1, name);
      lua_pushboolean(L, std::strcmp(name, "find") == 0 ? 1 : 0);
      lua_pushcclosure(L, BudgetedPatternCall, 2);
      lua_setfield(L, -2, name);
    }
  }
  if (lib.open == luaopen_math) {
    SetFunction(L, "random", MathRandom);
    SetFunction(L, "randomseed", MathRandomSeed);
  }
  if (lib.open == luaopen_cjson) {
    lua_getfield(L, -1, "encode");
    lua_pushcclosure(L, CjsonEncode, 1);
    lua_setfield(L, -2, "encode");
    lua_getfield(L, -1, "decode");
    lua_pushcclosure(L, CjsonDecode, 1);
    lua_setfield(L, -2, "decode");
    lua_pushnil(L);
    lua_setfield(L, -2, "new");  // a cjson of its own, without the check
  }
  lua_pushvalue(L, -2);
  lua_replace(L, LUA_GLOBALSINDEX);
  lua_remove(L, -2);
  PushProtected(L, false);
  lua_remove(L, -2);
  lua_pushstring(L, lib.name);
  lua_pushvalue(L, -2);
  lua_rawset(L, globals);
}

// __index of a proxy: upvalue 1 the table, upvalue 2 whether a missing key is an error (the
// globals, where a missing key may also be a library not opened yet).
int ProxyIndex(lua_State* L) {
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  if (!lua_isnil(L, -1) || !lua_toboolean(L, lua_upvalueindex(2))) return 1;
  if (lua_type(L, 2) == LUA_TSTRING) {
    for (const LazyLibrary& lib : kLazyLibraries) {
      if (std::strcmp(lua_tostring(L, 2), lib.name) == 0) {
        OpenLazyLibrary(L, lib, lua_upvalueindex(1));
        return 1;
      }
    }
  }
  return NoSuchGlobal(L);
}

// __index of strings until the string library is open (upvalue 1: the real globals).
int LazyStringIndex(lua_State* L) {
  lua_getfield(L, lua_upvalueindex(1), LUA_STRLIBNAME);
  if (lua_isnil(L, -1)) OpenLazyLibrary(L, kLazyLibraries[0], lua_upvalueindex(1));
  // Opening it gave strings the library's own metatable: look the method up there.
  lua_getmetatable(L, 1);
  lua_getfield(L, -1, "__index");
  lua_pushvalue(L, 2);
  lua_gettable(L, -2);
  return 1;
}

// Pushes a read-only proxy of the table at the top of the stack.
void PushProtected(lua_State* L, bool missing_is_error) {
  const int real = lua_gettop(L);
  lua_newtable(L);
  lua_createtable(L, 0, 3);
  lua_pushvalue(L, real);
  lua_pushboolean(L, missing_is_error ? 1 : 0);
  lua_pushcclosure(L, ProxyIndex, 2);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, NoNewGlobal);
  lua_setfield(L, -2, "__newindex");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");  // getmetatable answers false
  lua_setmetatable(L, -2);
  lua_getfield(L, LUA_REGISTRYINDEX, kProtected);
  lua_pushvalue(L, -2);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_pop(L, 1);
}

// rawset and setmetatable, refusing a protected table (upvalue 1: the original function).
int GuardedWrite(lua_State* L) {
  lua_getfield(L, LUA_REGISTRYINDEX, kProtected);
  lua_pushvalue(L, 1);
  lua_rawget(L, -2);
  const bool is_protected = lua_toboolean(L, -1) != 0;
  lua_pop(L, 2);
  if (is_protected) return RaisePlain(L, "Attempt to modify a readonly table");
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

void WrapWrite(lua_State* L, const char* name) {
  lua_getglobal(L, name);
  lua_pushcclosure(L, GuardedWrite, 1);
  lua_setglobal(L, name);
}

// tostring, as Lua's except for a table, function or coroutine: Lua writes its address,
// which is not the same on two replicas (nor from one run to the next), so a script that
// wrote or returned it would make replicas diverge. Here such a value is named by a number
// the run gives it when first printed ("table: 0x00000001"), the same on every replica.
// Upvalue 1: the numbers given (weak keys: a name keeps nothing alive); upvalue 2: how many.
int ToString(lua_State* L) {
  luaL_checkany(L, 1);
  if (luaL_callmeta(L, 1, "__tostring")) return 1;
  switch (lua_type(L, 1)) {
    case LUA_TNUMBER:
      lua_pushstring(L, lua_tostring(L, 1));
      return 1;
    case LUA_TSTRING:
      lua_pushvalue(L, 1);
      return 1;
    case LUA_TBOOLEAN:
      lua_pushstring(L, lua_toboolean(L, 1) ? "true" : "false");
      return 1;
    case LUA_TNIL:
      lua_pushliteral(L, "nil");
      return 1;
    case LUA_TLIGHTUSERDATA:  // only cjson.null, NULL everywhere
      lua_pushfstring(L, "%s: %p", luaL_typename(L, 1), lua_topointer(L, 1));
      return 1;
  }
  lua_pushvalue(L, 1);
  lua_rawget(L, lua_upvalueindex(1));
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_pushnumber(L, lua_tonumber(L, lua_upvalueindex(2)) + 1);
    lua_pushvalue(L, -1);
    lua_replace(L, lua_upvalueindex(2));
    lua_pushvalue(L, 1);
    lua_pushvalue(L, -2);
    lua_rawset(L, lua_upvalueindex(1));
  }
  char id[16];
  std::snprintf(id, sizeof(id), "0x%08x", static_cast<unsigned>(lua_tonumber(L, -1)));
  lua_pushfstring(L, "%s: %s", luaL_typename(L, 1), id);
  return 1;
}

void SetUpToString(lua_State* L) {
  lua_newtable(L);
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_pushnumber(L, 0);
  lua_pushcclosure(L, ToString, 2);
  lua_setfield(L, LUA_GLOBALSINDEX, "tostring");
}

// Fills a fresh state's globals as Redis's scripts see them.
void SetUpGlobals(lua_State* L, Args keys, Args argv) {
  OpenLibrary(L, luaopen_base, "");
  SetUpToString(L);
  // The other libraries open when a script first names one (LazyLibrary): most scripts use
  // none, and opening them all was most of a run's cost.
  lua_pushliteral(L, "");
  lua_createtable(L, 0, 1);
  lua_pushvalue(L, LUA_GLOBALSINDEX);
  lua_pushcclosure(L, LazyStringIndex, 1);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);  // strings' methods ("x"):upper() open the string library
  lua_pop(L, 1);
  // What reaches files or outside the run, or what Redis's scripts do not have. (newproxy
  // makes userdata, whose __gc would run Lua code while the state closes, after the budget
  // stopped counting.)
  for (const char* name : {"dofile", "loadfile", "print", "getfenv", "setfenv", "loadstring",
                           "load", "module", "require", "newproxy"}) {
    lua_pushnil(L);
    lua_setfield(L, LUA_GLOBALSINDEX, name);
  }
  lua_createtable(L, 0, 24);
  SetFunction(L, "call", RedisCall);
  SetFunction(L, "pcall", RedisPCall);
  SetFunction(L, "sha1hex", RedisSha1Hex);
  SetFunction(L, "error_reply", RedisErrorReply);
  SetFunction(L, "status_reply", RedisStatusReply);
  SetFunction(L, "log", RedisLog);
  SetFunction(L, "setresp", RedisSetResp);
  SetFunction(L, "set_repl", RedisSetRepl);
  SetFunction(L, "replicate_commands", RedisReplicateCommands);
  SetFunction(L, "breakpoint", RedisBreakpoint);
  SetFunction(L, "debug", RedisDebug);
  SetNumber(L, "LOG_DEBUG", 0);
  SetNumber(L, "LOG_VERBOSE", 1);
  SetNumber(L, "LOG_NOTICE", 2);
  SetNumber(L, "LOG_WARNING", 3);
  SetNumber(L, "REPL_NONE", 0);
  SetNumber(L, "REPL_AOF", 1);
  SetNumber(L, "REPL_SLAVE", 2);
  SetNumber(L, "REPL_REPLICA", 2);
  SetNumber(L, "REPL_ALL", 3);
  lua_pushstring(L, kRedisVersion);
  lua_setfield(L, -2, "REDIS_VERSION");
  SetNumber(L, "REDIS_VERSION_NUM", kRedisVersionNum);
  lua_setglobal(L, "redis");

  for (auto [name, list] : {std::pair{"KEYS", keys}, std::pair{"ARGV", argv}}) {
    lua_createtable(L, static_cast<int>(list.size()), 0);
    for (size_t i = 0; i < list.size(); ++i) {
      lua_pushlstring(L, list[i].data(), list[i].size());
      lua_rawseti(L, -2, static_cast<int>(i + 1));
    }
    lua_setglobal(L, name);
  }
  // From here on the globals and the libraries are read-only (Redis 7's), and reading a
  // global that does not exist is an error.
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, kProtected);
  for (const char* name : {"redis", "coroutine"}) {
    lua_getglobal(L, name);
    PushProtected(L, false);
    lua_setglobal(L, name);
    lua_pop(L, 1);
  }
  WrapWrite(L, "rawset");
  WrapWrite(L, "setmetatable");
  lua_pushvalue(L, LUA_GLOBALSINDEX);
  PushProtected(L, true);
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "_G");
  lua_replace(L, LUA_GLOBALSINDEX);  // the scripts' globals are the proxy
  lua_pop(L, 1);
}

// The error handler of the run: notes the line of user_script the error came from.
int NoteErrorLine(lua_State* L) {
  lua_Debug ar;
  for (int level = 0; lua_getstack(L, level, &ar) != 0; ++level) {
    if (lua_getinfo(L, "Sl", &ar) != 0 && kSource == ar.source && ar.currentline > 0) {
      StateOf(L)->error_line = ar.currentline;
      break;
    }
  }
  return 1;  // the error object as it was
}

// ---- the script's return value, into the client's reply (Redis's Lua-to-RESP) ----

// What a run produced, filled inside the protected call (RunProtected).
struct Run {
  RunState* st;
  std::string_view body;
  Args keys, argv;
  int proto;
  std::string reply;  // the script's value as a reply
  std::string error;  // or its error, without the " script: ..." suffix
  bool compile_error = false;
};

// The string field `name` of the table at the top of the stack (no metamethod runs), or
// null.
const char* RawStringField(lua_State* L, const char* name, size_t* len) {
  lua_pushstring(L, name);
  lua_rawget(L, -2);
  const char* p = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, len) : nullptr;
  lua_pop(L, 1);  // (the string stays alive: the table holds it)
  return p;
}

// A Lua number as Redis replies it: truncated; out of range as x86-64 converts it (INT64_MIN).
int64_t ToInteger(lua_Number n) {
  constexpr lua_Number kTwo63 = 9223372036854775808.0;
  if (!(n >= -kTwo63 && n < kTwo63)) return INT64_MIN;
  return static_cast<int64_t>(n);
}

bool WriteValue(lua_State* L, protocol::ReplyWriter& out, int resp, int depth);

// The table at the top of the stack as a RESP3 map (its pairs) or set (its keys), in
// iteration order (the same on every replica: each run has a fresh state).
bool WriteHash(lua_State* L, protocol::ReplyWriter& out, int resp, int depth, bool map) {
  size_t n = 0;
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {
    ++n;
    lua_pop(L, 1);
  }
  map ? out.MapHeader(n) : out.SetHeader(n);
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {
    lua_pushvalue(L, -2);  // the key, converted from a copy (lua_next needs it as it is)
    bool ok = WriteValue(L, out, resp, depth + 1);
    lua_pop(L, 1);
    if (ok && map) ok = WriteValue(L, out, resp, depth + 1);
    lua_pop(L, 1);
    if (!ok) {
      lua_pop(L, 1);
      return false;
    }
  }
  return true;
}

// Writes the value at the top of the stack; false if tables nest deeper than allowed. `resp`:
// the script's protocol (redis.setresp), which decides how booleans and doubles are sent.
bool WriteValue(lua_State* L, protocol::ReplyWriter& out, int resp, int depth) {
  if (depth > kMaxReplyDepth || !lua_checkstack(L, 4)) return false;
  size_t len = 0;
  switch (lua_type(L, -1)) {
    case LUA_TSTRING: {
      const char* p = lua_tolstring(L, -1, &len);
      out.Bulk(std::string_view(p, len));
      return true;
    }
    case LUA_TNUMBER:
      out.Integer(ToInteger(lua_tonumber(L, -1)));
      return true;
    case LUA_TBOOLEAN:
      if (resp == 3) {
        out.Bool(lua_toboolean(L, -1) != 0);
      } else if (lua_toboolean(L, -1)) {
        out.Integer(1);
      } else {
        out.Null();
      }
      return true;
    case LUA_TTABLE: {
      if (const char* e = RawStringField(L, "err", &len)) {
        out.Error(std::string_view(e, len));
        return true;
      }
      if (const char* ok = RawStringField(L, "ok", &len)) {
        // A status line must not break the framing: newlines become spaces, as Redis does.
        out.buffer()->push_back('+');
        for (size_t i = 0; i < len; ++i) {
          out.buffer()->push_back(ok[i] == '\r' || ok[i] == '\n' ? ' ' : ok[i]);
        }
        out.buffer()->append("\r\n");
        return true;
      }
      if (resp == 3) {
        for (const char* kind : {"map", "set"}) {
          lua_pushstring(L, kind);
          lua_rawget(L, -2);
          if (lua_type(L, -1) == LUA_TTABLE) {
            const bool ok = WriteHash(L, out, resp, depth, kind[0] == 'm');
            lua_pop(L, 1);
            return ok;
          }
          lua_pop(L, 1);
        }
      }
      lua_pushstring(L, "double");
      lua_rawget(L, -2);
      if (resp == 3 && lua_type(L, -1) == LUA_TNUMBER) {
        out.Double(lua_tonumber(L, -1));
        lua_pop(L, 1);
        return true;
      }
      lua_pop(L, 1);
      // An array: its elements up to the first nil.
      size_t n = 0;
      for (;; ++n) {
        lua_rawgeti(L, -1, static_cast<int>(n + 1));
        const bool nil = lua_isnil(L, -1);
        lua_pop(L, 1);
        if (nil) break;
      }
      out.ArrayHeader(n);
      for (size_t i = 0; i < n; ++i) {
        lua_rawgeti(L, -1, static_cast<int>(i + 1));
        const bool ok = WriteValue(L, out, resp, depth + 1);
        lua_pop(L, 1);
        if (!ok) return false;
      }
      return true;
    }
    default:  // nil, functions, userdata...
      out.Null();
      return true;
  }
}

// The text of the error value at the top of the stack: a table's err field, or the error
// redis.call raised, as they are; any other string with Redis's "ERR " in front.
void ErrorText(lua_State* L, std::string* text) {
  size_t len = 0;
  if (lua_type(L, -1) == LUA_TTABLE) {
    const char* e = RawStringField(L, "err", &len);
    if (e != nullptr) {
      text->assign(e, len);
    } else {
      text->assign("ERR unknown error");
    }
    return;
  }
  const char* s = lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER
                      ? lua_tolstring(L, -1, &len)
                      : nullptr;
  const std::string& call_error = StateOf(L)->call_error;
  if (s != nullptr && !call_error.empty() && std::string_view(s, len) == call_error) {
    text->assign(call_error);
    return;
  }
  text->assign("ERR ");
  if (s != nullptr) {
    text->append(s, len);
  } else {
    text->append("unknown error");
  }
}

// The whole run, under lua_cpcall: whatever fails in it (memory, even while converting the
// value) comes back as the cpcall's status.
int RunProtected(lua_State* L) {
  Run* run = static_cast<Run*>(lua_touserdata(L, 1));
  SetUpGlobals(L, run->keys, run->argv);
  lua_pushcfunction(L, NoteErrorLine);
  const int handler = lua_gettop(L);
  if (luaL_loadbuffer(L, run->body.data(), run->body.size(), kChunkName) != 0) {
    run->compile_error = true;
    ErrorText(L, &run->error);
    run->error.replace(0, 4, kCompileError);  // (ErrorText's "ERR ")
    return 0;
  }
  lua_sethook(L, CountHook, LUA_MASKCOUNT, kScriptHookEvery);
  const int rc = lua_pcall(L, 0, 1, handler);
  lua_sethook(L, nullptr, 0, 0);
  if (rc == LUA_ERRMEM) {
    run->error = MemoryError();
    return 0;
  }
  if (rc != 0) {
    if (run->st->over_budget) {
      run->error = BudgetError();  // (a coroutine's wrap may have prefixed it)
    } else {
      ErrorText(L, &run->error);
    }
    return 0;
  }
  protocol::ReplyWriter out(&run->reply, run->proto);
  if (!WriteValue(L, out, run->st->resp, 0)) {
    run->reply.clear();
    run->error = "ERR reached lua stack limit";
  }
  return 0;
}

struct StateCloser {
  void operator()(lua_State* L) const { lua_close(L); }
};

// ---- compiling, for the I/O threads' checks ----

struct CompileState {
  std::unique_ptr<lua_State, StateCloser> L{luaL_newstate()};
};

}  // namespace

bool IsScriptCommand(const CommandSpec& spec) {
  return spec.name == "eval" || spec.name == "evalsha" || spec.name == "eval_ro" ||
         spec.name == "evalsha_ro" || spec.name == "script";
}

std::string ScriptSha1Hex(std::string_view body) {
  std::string hex(kSha1HexBytes, '0');
  Sha1Hex(body, hex.data());
  return hex;
}

namespace {
// The space-separated words of `text`.
std::vector<std::string_view> Words(std::string_view text) {
  std::vector<std::string_view> words;
  while (!text.empty()) {
    const size_t start = text.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    text.remove_prefix(start);
    const size_t end = std::min(text.find(' '), text.size());
    words.push_back(text.substr(0, end));
    text.remove_prefix(end);
  }
  return words;
}
}  // namespace

bool ParseShebang(std::string_view body, ScriptShebang* out, std::string* err) {
  *out = ScriptShebang();
  out->code = body;
  if (!body.starts_with("#!")) return true;
  const size_t eol = body.find('\n');
  if (eol == std::string_view::npos) {
    *err = "ERR Invalid script shebang";
    return false;
  }
  std::string_view line = body.substr(0, eol);
  out->declared = true;
  out->code = body.substr(eol);  // from the newline: line numbers stay the script's
  const size_t engine_end = std::min(line.find(' '), line.size());
  if (line.substr(2, engine_end - 2) != "lua") {
    *err = "ERR Unexpected engine in script shebang: " + std::string(line.substr(0, engine_end));
    return false;
  }
  for (std::string_view option : Words(line.substr(engine_end))) {
    if (!option.starts_with("flags=")) {
      *err = "ERR Unknown lua shebang option: " + std::string(option);
      return false;
    }
    std::string_view flags = option.substr(6);
    while (!flags.empty()) {
      const size_t comma = std::min(flags.find(','), flags.size());
      const std::string_view flag = flags.substr(0, comma);
      flags.remove_prefix(std::min(comma + 1, flags.size()));
      if (flag == "no-writes") {
        out->no_writes = true;
      } else if (flag == "no-cluster") {
        out->no_cluster = true;
      } else if (flag != "allow-oom" && flag != "allow-stale" && flag != "allow-cross-slot-keys" &&
                 !flag.empty()) {
        *err = "ERR Unexpected flag in script shebang: " + std::string(flag);
        return false;
      }
    }
  }
  return true;
}

std::string ScriptCompileError(std::string_view body) {
  ScriptShebang shebang;
  std::string err;
  if (!ParseShebang(body, &shebang, &err)) return err;
  body = shebang.code;
  thread_local CompileState state;
  lua_State* L = state.L.get();
  if (L == nullptr) return "ERR out of memory compiling the script";
  const int rc = luaL_loadbuffer(L, body.data(), body.size(), kChunkName);
  if (rc != 0) {
    const char* m = lua_tostring(L, -1);
    err = std::string(kCompileError) + (m != nullptr ? m : "");
  }
  lua_settop(L, 0);
  lua_gc(L, LUA_GCCOLLECT, 0);
  return err;
}

void RunScript(ApplyContext& ctx, std::string_view body, Args keys, Args argv, bool read_only) {
  ScriptShebang shebang;
  std::string err;
  if (!ParseShebang(body, &shebang, &err)) return ctx.out.Error(err);
  if (shebang.declared && read_only && !shebang.no_writes) {
    return ctx.out.Error("ERR Can not execute a script with write flag using *_ro command.");
  }
  if (shebang.no_cluster && ctx.partition >= 0) {
    return ctx.out.Error("ERR Can not run script on cluster, 'no-cluster' flag is set.");
  }
  read_only = read_only || shebang.no_writes;
  const std::string_view script = body;  // (its sha names it, shebang included)
  body = shebang.code;
  RunState st;
  st.ctx = &ctx;
  st.read_only = read_only;
  // Seeded from the entry's time: the same on every replica, and not the same sequence for
  // every run (Redis 7.0 does not reseed at all).
  Srand48(&st, static_cast<int32_t>(ctx.now_ms));
  Run run{&st, body, keys, argv, ctx.out.proto(), {}, {}, false};
  st.arena = ScriptArena::ForThisThread();
  if (st.arena == nullptr) return ctx.out.Error("ERR out of memory starting the script");
  int rc;
  {
    std::unique_ptr<lua_State, StateCloser> L(lua_newstate(Allocate, &st));
    if (L == nullptr) {
      st.arena->Reset();
      return ctx.out.Error("ERR out of memory starting the script");
    }
    rc = lua_cpcall(L.get(), RunProtected, &run);
  }
  st.arena->Reset();  // the state is closed: every block is free
  if (rc != 0) {
    // Out of memory outside the script itself: setting up, or converting its value.
    return ctx.out.Error(MemoryError());
  }
  if (run.compile_error) return ctx.out.Error(run.error);
  if (!run.error.empty()) {
    // As Redis: where the error came from.
    std::string text = std::move(run.error);
    text += " script: " + ScriptSha1Hex(script);
    if (st.error_line > 0) text += ", on @user_script:" + std::to_string(st.error_line);
    text += ".";
    return ctx.out.Error(text);
  }
  ctx.out.buffer()->append(run.reply);
}

}  // namespace flin::server

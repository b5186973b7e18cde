#include "server/command_docs.h"

#include <cctype>
#include <string>
#include <unordered_map>
#include <vector>

namespace flin::server {
namespace {

const std::unordered_map<std::string_view, std::string_view>& Syntaxes() {
  static const std::unordered_map<std::string_view, std::string_view> kSyntax = {
      {"get", "key"},
      {"set", "key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | "
              "PXAT unix-time-milliseconds | KEEPTTL]"},
      {"setnx", "key value"},
      {"setex", "key seconds value"},
      {"psetex", "key milliseconds value"},
      {"getset", "key value"},
      {"getdel", "key"},
      {"getex", "key [EX seconds | PX milliseconds | EXAT unix-time-seconds | "
                "PXAT unix-time-milliseconds | PERSIST]"},
      {"mget", "key ..."},
      {"mset", "(key value) ..."},
      {"msetnx", "(key value) ..."},
      {"append", "key value"},
      {"strlen", "key"},
      {"getrange", "key start end"},
      {"substr", "key start end"},
      {"lcs", "key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]"},
      {"setrange", "key offset value"},
      {"getbit", "key offset"},
      {"setbit", "key offset value"},
      {"bitcount", "key [start end [BYTE | BIT]]"},
      {"bitpos", "key bit [start [end [BYTE | BIT]]]"},
      {"bitop", "operation destkey key ..."},
      {"pfadd", "key [element ...]"},
      {"pfcount", "key ..."},
      {"pfmerge", "destkey [sourcekey ...]"},
      {"bitfield", "key [GET encoding offset | [OVERFLOW (WRAP | SAT | FAIL)] "
                   "(SET encoding offset value | INCRBY encoding offset increment)] ..."},
      {"bitfield_ro", "key [GET encoding offset] ..."},
      {"incr", "key"},
      {"incrby", "key increment"},
      {"decr", "key"},
      {"decrby", "key decrement"},
      {"incrbyfloat", "key increment"},
      {"hset", "key (field value) ..."},
      {"hmset", "key (field value) ..."},
      {"hsetnx", "key field value"},
      {"hget", "key field"},
      {"hmget", "key field ..."},
      {"hdel", "key field ..."},
      {"hlen", "key"},
      {"hstrlen", "key field"},
      {"hexists", "key field"},
      {"hkeys", "key"},
      {"hvals", "key"},
      {"hgetall", "key"},
      {"hincrby", "key field increment"},
      {"hincrbyfloat", "key field increment"},
      {"hrandfield", "key [count [WITHVALUES]]"},
      {"hscan", "key cursor [MATCH pattern] [COUNT count]"},
      {"sadd", "key member ..."},
      {"srem", "key member ..."},
      {"scard", "key"},
      {"sismember", "key member"},
      {"smismember", "key member ..."},
      {"smembers", "key"},
      {"spop", "key [count]"},
      {"srandmember", "key [count]"},
      {"smove", "source destination member"},
      {"sinter", "key ..."},
      {"sintercard", "numkeys key ... [LIMIT limit]"},
      {"sinterstore", "destination key ..."},
      {"sunion", "key ..."},
      {"sunionstore", "destination key ..."},
      {"sdiff", "key ..."},
      {"sdiffstore", "destination key ..."},
      {"sscan", "key cursor [MATCH pattern] [COUNT count]"},
      {"del", "key ..."},
      {"unlink", "key ..."},
      {"exists", "key ..."},
      {"role", ""},
      {"touch", "key ..."},
      {"type", "key"},
      {"rename", "key newkey"},
      {"renamenx", "key newkey"},
      {"copy", "source destination [DB destination-db] [REPLACE]"},
      {"expire", "key seconds [NX | XX | GT | LT]"},
      {"pexpire", "key milliseconds [NX | XX | GT | LT]"},
      {"expireat", "key unix-time-seconds [NX | XX | GT | LT]"},
      {"pexpireat", "key unix-time-milliseconds [NX | XX | GT | LT]"},
      {"expiretime", "key"},
      {"pexpiretime", "key"},
      {"ttl", "key"},
      {"pttl", "key"},
      {"persist", "key"},
      {"dump", "key"},
      {"restore", "key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] "
                  "[FREQ frequency]"},
      {"object", "subcommand [argument ...]"},
      {"scan", "cursor [MATCH pattern] [COUNT count] [TYPE type]"},
      {"keys", "pattern"},
      {"flushdb", "[ASYNC | SYNC]"},
      {"flushall", "[ASYNC | SYNC]"},
      {"ping", "[message]"},
      {"echo", "message"},
      {"hello", "[protover [AUTH username password] [SETNAME clientname]]"},
      {"auth", "[username] password"},
      {"select", "index"},
      {"client", "subcommand [argument ...]"},
      {"slowlog", "subcommand [argument ...]"},
      {"info", "[section ...]"},
      {"command", "[subcommand [argument ...]]"},
      {"config", "subcommand [argument ...]"},
      {"shutdown", "[NOSAVE | SAVE] [NOW] [FORCE] [ABORT]"},
      {"bgsave", "[SCHEDULE]"},
      {"cluster", "subcommand [argument ...]"},
  };
  return kSyntax;
}

bool IsIntegerName(std::string_view n) {
  static const char* kInts[] = {"seconds", "milliseconds", "unix-time-seconds",
                                "unix-time-milliseconds", "count", "offset", "increment",
                                "decrement", "destination-db", "start", "end", "index",
                                "protover", "cursor", "ttl", "frequency"};
  for (const char* k : kInts) {
    if (n == k) return true;
  }
  return false;
}

bool IsUpperWord(std::string_view w) {
  if (w.empty() || !isupper(static_cast<unsigned char>(w[0]))) return false;
  for (char c : w) {
    if (islower(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

std::string Lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return r;
}

// A parsed argument: leaf (type string/integer/key/pure-token) or group (oneof/block).
struct Arg {
  std::string name, type, token;
  bool optional = false, multiple = false;
  std::vector<Arg> children;
};

class SyntaxParser {
 public:
  explicit SyntaxParser(std::string_view s) {
    std::string cur;
    for (char c : s) {
      if (c == '[' || c == ']' || c == '(' || c == ')' || c == '|' || c == ' ') {
        if (!cur.empty()) toks_.push_back(std::move(cur));
        cur.clear();
        if (c != ' ') toks_.emplace_back(1, c);
      } else {
        cur.push_back(c);
      }
    }
    if (!cur.empty()) toks_.push_back(cur);
  }

  std::vector<Arg> ParseAll() { return ParseSeq(); }

 private:
  bool AtEnd() const { return pos_ >= toks_.size(); }
  const std::string& Peek() const { return toks_[pos_]; }

  std::vector<Arg> ParseSeq() {
    std::vector<Arg> seq;
    while (!AtEnd() && Peek() != "]" && Peek() != ")" && Peek() != "|") {
      Arg a = ParseItem();
      if (!AtEnd() && Peek() == "...") {
        a.multiple = true;
        ++pos_;
      }
      seq.push_back(std::move(a));
    }
    return seq;
  }

  Arg Group(std::vector<std::vector<Arg>> alts) {
    auto as_one = [](std::vector<Arg> seq) {
      if (seq.size() == 1) return seq[0];
      Arg block;
      block.type = "block";
      for (const auto& a : seq) block.name += (block.name.empty() ? "" : "-") + a.name;
      block.children = std::move(seq);
      return block;
    };
    if (alts.size() == 1) return as_one(std::move(alts[0]));
    Arg oneof;
    oneof.type = "oneof";
    for (auto& alt : alts) {
      Arg a = as_one(std::move(alt));
      oneof.name += (oneof.name.empty() ? "" : "-") + a.name;
      oneof.children.push_back(std::move(a));
    }
    if (oneof.name.size() > 24) oneof.name = "condition";
    return oneof;
  }

  Arg ParseItem() {
    const std::string t = toks_[pos_++];
    if (t == "[" || t == "(") {
      std::vector<std::vector<Arg>> alts{ParseSeq()};
      while (!AtEnd() && Peek() == "|") {
        ++pos_;
        alts.push_back(ParseSeq());
      }
      if (!AtEnd()) ++pos_;  // ] or )
      Arg g = Group(std::move(alts));
      if (t == "[") g.optional = true;
      return g;
    }
    Arg a;
    if (IsUpperWord(t)) {
      a.token = t;
      // A token followed by a lower-case word is a named value introduced by the token.
      if (!AtEnd() && !Peek().empty() && islower(static_cast<unsigned char>(Peek()[0]))) {
        a.name = toks_[pos_++];
        a.type = IsIntegerName(a.name) ? "integer" : "string";
      } else {
        a.name = Lower(t);
        a.type = "pure-token";
      }
      return a;
    }
    a.name = t;
    a.type = (t == "key" || t == "newkey" || t == "source" || t == "destination")
                 ? "key"
                 : IsIntegerName(t) ? "integer" : "string";
    return a;
  }

  std::vector<std::string> toks_;
  size_t pos_ = 0;
};

void WriteArg(protocol::ReplyWriter& w, const Arg& a) {
  size_t fields = 2 + (a.type == "key") + !a.token.empty() +
                  (a.optional || a.multiple) + !a.children.empty();
  w.MapHeader(fields);
  w.Bulk("name");
  w.Bulk(a.name);
  w.Bulk("type");
  w.Bulk(a.type);
  if (a.type == "key") {
    w.Bulk("key_spec_index");
    w.Integer(0);
  }
  if (!a.token.empty()) {
    w.Bulk("token");
    w.Bulk(a.token);
  }
  if (a.optional || a.multiple) {
    w.Bulk("flags");
    w.ArrayHeader(a.optional + a.multiple);
    if (a.optional) w.Simple("optional");
    if (a.multiple) w.Simple("multiple");
  }
  if (!a.children.empty()) {
    w.Bulk("arguments");
    w.ArrayHeader(a.children.size());
    for (const auto& c : a.children) WriteArg(w, c);
  }
}

}  // namespace

std::string_view CommandSyntax(std::string_view name) {
  auto it = Syntaxes().find(name);
  return it == Syntaxes().end() ? std::string_view() : it->second;
}

void WriteArgumentDocs(protocol::ReplyWriter& w, std::string_view syntax) {
  std::vector<Arg> args = SyntaxParser(syntax).ParseAll();
  w.ArrayHeader(args.size());
  for (const auto& a : args) WriteArg(w, a);
}

}  // namespace flin::server

// libFuzzer target: Lua scripts as the log runs them. An EVAL entry carries a script that any
// client wrote, and every replica runs it when it applies the entry (lua_script.h): whatever
// the script does, apply must not crash, hang past the budget or leak, the entry must yield
// exactly one well-formed reply, and two replicas applying it from the same data must answer
// the same and write the same.
//
// Input: byte 0 is the mode, the rest is the script's body, then up to kMaxFields fields, each
// after a NUL byte (0x00): the first `numkeys` are KEYS, the others ARGV.
//   mode bit 0      RESP3 (else RESP2)
//   mode bit 1      a cluster entry: the partition of KEYS[1] (partition 0 without keys);
//                   else the single node's log (partition -1)
//   mode bits 2-3   numkeys (0 to 3; fewer if there are fewer fields)
//   mode bits 4-6   the entry's timestamp (kTimes: '0'-'9' give the ordinary one)
//   mode bit 7      EVAL_RO instead of EVAL
// So a readable seed is "0return 1", "4return redis.call('GET', KEYS[1])\0k".
//
// Two replicas (two stores) apply every entry, each in its own WriteTxn that is then
// committed: scripts see what earlier inputs wrote (keys of every type), and both stores are
// compared after each input. Every kClearEvery inputs, and whenever they hold more than a few
// keys, both are emptied, so the state an input meets stays small. With LUA_SCRIPT_FUZZ_PRINT
// set, each reply goes to stderr (to read what a saved input does).

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/slot.h"
#include "protocol/reply_parser.h"
#include "protocol/reply_writer.h"
#include "server/command.h"
#include "server/state_machine.h"
#include "storage/encoding.h"
#include "storage/store.h"
#include "storage/write_txn.h"

namespace {

constexpr int kPartitions = 16;
constexpr size_t kMaxFields = 8;
constexpr int kClearEvery = 256;
constexpr size_t kMaxKeys = 64;
constexpr int64_t kTimes[8] = {0, 1, -1, 1700000000000, INT64_MAX, INT64_MIN, 1000000,
                               253402300799999};

struct Replica {
  std::string dir;
  std::unique_ptr<flin::storage::Store> store;
};
Replica g_replicas[2];
const flin::server::CommandTable* g_table;
int g_inputs = 0;
bool g_print = false;

void OpenReplica(Replica& r, const char* name) {
  r.dir = (std::filesystem::temp_directory_path() /
           (std::string("flin_lua_script_fuzz_") + name + "_" + std::to_string(getpid())))
              .string();
  std::filesystem::remove_all(r.dir);
  flin::storage::StoreOptions o;
  o.dir = r.dir;
  o.block_cache_bytes = 8 << 20;
  o.write_buffer_bytes = 8 << 20;
  auto s = flin::storage::Store::Open(o);
  if (!s.ok()) abort();
  r.store = std::move(s).value();
}

// The data keys and values of a store, in order (kMaxKeys + 1 at most).
std::vector<std::pair<std::string, std::string>> DataOf(flin::storage::Store* store) {
  std::vector<std::pair<std::string, std::string>> data;
  auto it = store->NewIterator();
  for (it->Seek(std::string(1, flin::storage::kDataPrefix));
       it->Valid() && !it->key().empty() && it->key()[0] == flin::storage::kDataPrefix &&
       data.size() <= kMaxKeys;
       it->Next()) {
    data.emplace_back(it->key().ToString(), it->value().ToString());
  }
  return data;
}

// Exactly one complete, well-formed reply.
void CheckOneReply(const std::string& reply) {
  flin::protocol::ReplyParser parser;
  parser.Feed(reply);
  flin::Reply r;
  if (parser.Next(&r) != flin::protocol::ReplyParser::State::kReply || parser.buffered() != 0) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  OpenReplica(g_replicas[0], "a");
  OpenReplica(g_replicas[1], "b");
  atexit([] {
    for (Replica& r : g_replicas) {
      r.store.reset();
      std::error_code ec;
      std::filesystem::remove_all(r.dir, ec);
    }
  });
  g_table = new flin::server::CommandTable();
  g_print = getenv("LUA_SCRIPT_FUZZ_PRINT") != nullptr;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace flin;
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::vector<std::string_view> fields;
  for (size_t at; fields.size() < kMaxFields + 1; rest.remove_prefix(at + 1)) {
    at = rest.find('\0');
    fields.push_back(rest.substr(0, at));
    if (at == std::string_view::npos) break;
  }
  const size_t numkeys = std::min<size_t>((mode >> 2) & 3, fields.size() - 1);
  const int proto = (mode & 1) ? 3 : 2;
  int partition = -1;
  if (mode & 2) partition = numkeys > 0 ? KeyPartition(fields[1], kPartitions) : 0;
  const int64_t now = kTimes[(mode >> 4) & 7];

  std::vector<std::string> args = {(mode & 0x80) ? "EVAL_RO" : "EVAL", std::string(fields[0]),
                                   std::to_string(numkeys)};
  for (size_t i = 1; i < fields.size(); ++i) args.emplace_back(fields[i]);
  std::string entry;
  server::EncodeCommand(args, &entry);

  server::StateMachineImpl sm(g_table, kPartitions);
  std::string replies[2];
  for (int i = 0; i < 2; ++i) {
    storage::WriteTxn txn(g_replicas[i].store.get());
    protocol::ReplyWriter out(&replies[i], proto);
    sm.Apply(txn, partition, now, entry, &out);
    CheckOneReply(replies[i]);
    if (!txn.Commit(false).ok()) abort();
  }
  // The same entry on the same data: the same reply and the same writes on every replica.
  if (g_print) fprintf(stderr, "reply: %.2000s\n", replies[0].c_str());
  if (replies[0] != replies[1]) __builtin_trap();
  const auto a = DataOf(g_replicas[0].store.get());
  if (a != DataOf(g_replicas[1].store.get())) __builtin_trap();

  if (++g_inputs % kClearEvery == 0 || a.size() > kMaxKeys) {
    for (Replica& r : g_replicas) {
      if (DataOf(r.store.get()).empty()) continue;
      storage::WriteTxn clear(r.store.get());
      if (!clear.DeleteAllData().ok()) abort();
    }
  }
  return 0;
}

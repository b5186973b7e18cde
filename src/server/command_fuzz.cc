// libFuzzer target: log entries as the apply thread receives them. A damaged or hostile log
// entry (DecodeCommand's input) must never crash apply, whatever its arguments: apply
// functions see arguments that were checked on another node, in another version, or not at
// all. Every entry must produce exactly one well-formed reply, and a decoded entry must encode
// back to the same bytes.
//
// Input: byte 0 picks the Raft group (-1: the single node's log) and the reply protocol,
// byte 1 the entry timestamp; then entries, each a u32 (LE) length and that many bytes (cut
// at the end of the input). All entries of one input share one WriteTxn, which is never
// committed (only FLUSHALL writes through, and the harness clears that afterwards).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/reply_parser.h"
#include "protocol/reply_writer.h"
#include "server/command.h"
#include "server/state_machine.h"
#include "storage/encoding.h"
#include "storage/fuzz_store.h"
#include "storage/write_txn.h"

namespace {

constexpr int kPartitions = 16;
flin::storage::Store* g_store;
const flin::server::CommandTable* g_table;

bool StoreHasData() {
  auto it = g_store->NewIterator();
  it->Seek(std::string(1, flin::storage::kDataPrefix));
  return it->Valid() && !it->key().empty() && it->key()[0] == flin::storage::kDataPrefix;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_store = flin::storage::OpenFuzzStore("flin_command_fuzz");
  g_table = new flin::server::CommandTable();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace flin;
  if (size < 2) return 0;
  static constexpr int64_t kTimes[] = {1700000000000, 0, 1, -1, INT64_MAX, INT64_MIN, 1000000, 253402300799999};
  const int partition = static_cast<int>(data[0] % (kPartitions + 1)) - 1;
  const int proto = (data[0] & 0x80) ? 3 : 2;
  const int64_t now = kTimes[data[1] % (sizeof(kTimes) / sizeof(kTimes[0]))];
  server::StateMachineImpl sm(g_table, kPartitions);
  storage::WriteTxn txn(g_store);
  std::string_view rest(reinterpret_cast<const char*>(data) + 2, size - 2);
  std::vector<std::string_view> args;
  std::string reply, again;
  while (rest.size() >= 4) {
    uint32_t len = 0;
    for (int i = 0; i < 4; ++i) len |= static_cast<uint32_t>(static_cast<uint8_t>(rest[i])) << (8 * i);
    rest.remove_prefix(4);
    const std::string_view entry = rest.substr(0, len);
    rest.remove_prefix(entry.size());
    if (server::DecodeCommand(entry, &args)) {
      server::EncodeCommand(server::Args(args), &again);
      if (again != entry) __builtin_trap();
    }
    reply.clear();
    protocol::ReplyWriter out(&reply, proto);
    sm.Apply(txn, partition, now, entry, &out);
    // Exactly one complete, well-formed reply.
    protocol::ReplyParser parser;
    parser.Feed(reply);
    Reply r;
    if (parser.Next(&r) != protocol::ReplyParser::State::kReply || parser.buffered() != 0) {
      __builtin_trap();
    }
  }
  if (StoreHasData()) {
    storage::WriteTxn clear(g_store);
    if (!clear.DeleteAllData().ok()) abort();
  }
  return 0;
}

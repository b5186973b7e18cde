#include "server/command.h"

#include <cstring>

#include "common/slot.h"
#include "common/strings.h"
#include "server/client_conn.h"
#include "server/io_thread.h"
#include "server/server.h"
#include "storage/encoding.h"

namespace flin::server {

std::string ErrWrongArity(std::string_view cmd) {
  return "ERR wrong number of arguments for '" + ToLower(cmd) + "' command";
}

std::string ErrInvalidExpire(std::string_view cmd) {
  return "ERR invalid expire time in '" + ToLower(cmd) + "' command";
}

std::vector<size_t> CommandSpec::KeyPositions(Args args) const {
  if (key_positions != nullptr) return key_positions(args);
  const size_t argc = args.size();
  std::vector<size_t> keys;
  if (first_key <= 0) return keys;
  size_t last = last_key < 0 ? argc + last_key : static_cast<size_t>(last_key);
  for (size_t i = first_key; i <= last && i < argc; i += step) keys.push_back(i);
  return keys;
}

CommandSpec MakeCommand(std::string name, int arity, uint32_t flags, Handler handler,
                        ApplyFn apply, std::string group, std::string summary, int first_key,
                        int last_key, int step) {
  CommandSpec s;
  s.name = std::move(name);
  s.arity = arity;
  s.flags = flags;
  s.handler = handler;
  s.apply = apply;
  s.group = std::move(group);
  s.summary = std::move(summary);
  s.first_key = first_key;
  s.last_key = last_key;
  s.step = step;
  return s;
}

CommandTable::CommandTable() {
  RegisterStringFamily(this);
  RegisterBitFamily(this);
  RegisterHllFamily(this);
  RegisterKeysFamily(this);
  RegisterConnectionFamily(this);
  RegisterServerFamily(this);
  RegisterClusterFamily(this);
  RegisterTransactionFamily(this);
  RegisterPersistenceFamily(this);
  RegisterSlowlogFamily(this);
  RegisterDumpFamily(this);
  RegisterScriptFamily(this);
  RegisterPubSubFamily(this);
  RegisterReplicationFamily(this);
  RegisterHashFamily(this);
  RegisterSetFamily(this);
  RegisterListFamily(this);
}

void CommandTable::Add(CommandSpec spec) {
  std::string name = spec.name;
  auto [it, inserted] = by_name_.emplace(name, std::move(spec));
  if (!inserted) return;
  index_[&it->second] = ordered_.size();
  ordered_.push_back(&it->second);
}

const CommandSpec* CommandTable::Find(std::string_view name) const {
  char buf[32];
  if (name.size() >= sizeof(buf)) return nullptr;
  for (size_t i = 0; i < name.size(); ++i) {  // ASCII only, inline (libc's tolower: a call
    const char c = name[i];                     // per character and a locale lookup)
    buf[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
  }
  auto it = by_name_.find(std::string(buf, name.size()));
  return it == by_name_.end() ? nullptr : &it->second;
}

// Encoding: u32 argc, then per argument u32 length (little-endian) and the bytes.
namespace {
void PutU32(std::string* out, uint32_t v) {
  char b[4] = {static_cast<char>(v), static_cast<char>(v >> 8), static_cast<char>(v >> 16),
               static_cast<char>(v >> 24)};
  out->append(b, 4);
}
uint32_t GetU32(const char* p) {
  return static_cast<uint32_t>(static_cast<uint8_t>(p[0])) |
         static_cast<uint32_t>(static_cast<uint8_t>(p[1])) << 8 |
         static_cast<uint32_t>(static_cast<uint8_t>(p[2])) << 16 |
         static_cast<uint32_t>(static_cast<uint8_t>(p[3])) << 24;
}
template <typename Vec>
void EncodeImpl(const Vec& args, std::string* out) {
  size_t total = 4;
  for (const auto& a : args) total += 4 + a.size();
  out->clear();
  out->reserve(total);
  PutU32(out, static_cast<uint32_t>(args.size()));
  for (const auto& a : args) {
    PutU32(out, static_cast<uint32_t>(a.size()));
    out->append(a.data(), a.size());
  }
}
}  // namespace

void EncodeCommand(Args args, std::string* out) { EncodeImpl(args, out); }
void EncodeCommand(const std::vector<std::string>& args, std::string* out) {
  EncodeImpl(args, out);
}

bool DecodeCommand(std::string_view in, std::vector<std::string_view>* args) {
  args->clear();
  if (in.size() < 4) return false;
  uint32_t n = GetU32(in.data());
  size_t pos = 4;
  if (n == 0 || n > (in.size() - 4) / 4) return false;
  args->reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    if (in.size() - pos < 4) return false;
    uint32_t len = GetU32(in.data() + pos);
    pos += 4;
    if (in.size() - pos < len) return false;
    args->emplace_back(in.data() + pos, len);
    pos += len;
  }
  return pos == in.size();
}

int CommandContext::Partition(std::string_view key) const {
  return KeyPartition(key, server.partitions());
}

void CommandContext::Propose(int partition) {
  std::string command;
  EncodeCommand(args, &command);
  ProposeEncoded(partition, std::move(command));
}

void CommandContext::ProposeArgs(int partition, const std::vector<std::string>& new_args) {
  std::string command;
  EncodeCommand(new_args, &command);
  ProposeEncoded(partition, std::move(command));
}

void CommandContext::Offload(std::function<void(protocol::ReplyWriter&)> work) {
  BackgroundWorker& worker = server.background();
  if (!worker.Reserve()) {
    return out.Error("ERR too many slow commands (DBSIZE, KEYS, INFO keyspace) are waiting; "
                     "try again later");
  }
  const uint64_t seq = conn.CountProposal();
  cluster::CompletionSink* sink = &conn.io();
  // For SLOWLOG: the command as sent (copied: Offload is for the rare slow command).
  std::vector<std::string> shown(args.begin(), args.end());
  worker.Submit([sink, id = conn.id(), proto = conn.proto(), seq, work = std::move(work),
                 shown = std::move(shown), addr = conn.peer(), name = conn.name,
                 log = &server.slowlog(), cfg = &server.config()] {
    std::string reply;
    protocol::ReplyWriter w(&reply, proto);
    const int64_t start = net::MonotonicUs();
    work(w);
    const int64_t took = net::MonotonicUs() - start;
    if (SlowLog::Slow(took, cfg->slowlog_slower_than_us.load(std::memory_order_relaxed))) {
      const std::vector<std::string_view> views(shown.begin(), shown.end());
      log->Record(took, Args(views), addr, name,
                  cfg->slowlog_max_len.load(std::memory_order_relaxed));
    }
    std::vector<cluster::Completion> done;
    done.push_back(cluster::Completion{id, seq, std::move(reply)});
    sink->Complete(std::move(done));
  });
}

void CommandContext::ProposeEncoded(int partition, std::string&& command) {
  if (capture != nullptr) {
    capture->push_back(Captured{partition, std::move(command)});
    return;
  }
  if (const cluster::MultiRaftNode* mr = server.cluster();
      mr != nullptr && command.size() > mr->max_entry_bytes()) {
    return out.Error(cluster::EntryTooLargeError(mr->max_entry_bytes()));
  }
  cluster::Proposal p;
  p.partition = partition;
  if (server.cluster() != nullptr) {  // (the key routed by, for a -MOVED from the raft thread)
    if (spec.key_positions == nullptr) {
      if (spec.first_key > 0 && args.size() > static_cast<size_t>(spec.first_key)) {
        p.slot = KeySlot(args[spec.first_key]);
      }
    } else if (const auto keys = spec.KeyPositions(args); !keys.empty()) {
      p.slot = KeySlot(args[keys[0]]);
    }
  }
  p.command = std::move(command);
  p.proto = conn.proto();
  p.sink = &conn.io();
  p.conn_id = conn.id();
  Status s = server.replicator().Admit();
  if (!s.ok()) return out.Error(RefusalError(s));
  const size_t bytes = p.command.size();
  const auto limit = static_cast<size_t>(server.config().pending_write_bytes.load());
  if (!server.pending_writes().TryReserve(bytes, limit, &p.reserved)) {
    return out.Error("TRYAGAIN server busy: the writes waiting for the log exceed "
                     "pending-write-limit (" + std::to_string(limit) + " bytes)");
  }
  p.seq = conn.CountProposal(bytes);
  conn.io().QueueProposal(std::move(p));  // to the replicator at the end of the loop's round
}

std::string RefusalError(const Status& s) {
  // A failed disk refuses writes as Redis does when it cannot persist (MISCONF).
  return (s.code() == Status::Code::kIOError ? "MISCONF " : "TRYAGAIN ") + s.message();
}

int ApplyContext::Partition(std::string_view key) const { return KeyPartition(key, partitions); }

bool ApplyContext::GetString(std::string_view key, std::string* payload, int64_t* expire_at_ms) {
  storage::ValueType type;
  if (!GetAt(key, now_ms, &type, payload, expire_at_ms)) return false;
  if (type == storage::ValueType::kString) return true;
  wrong_type = true;
  if (payload) payload->clear();
  if (expire_at_ms) *expire_at_ms = 0;
  return false;
}

bool ApplyContext::GetValue(std::string_view key, storage::ValueType* type, std::string* payload,
                            int64_t* expire_at_ms) {
  return GetAt(key, now_ms, type, payload, expire_at_ms);
}

bool ApplyContext::GetValueEvenIfExpired(std::string_view key, storage::ValueType* type,
                                         std::string* payload, int64_t* expire_at_ms) {
  return GetAt(key, 0, type, payload, expire_at_ms);  // at time 0 nothing has expired
}

bool ApplyContext::GetAt(std::string_view key, int64_t at_ms, storage::ValueType* type,
                         std::string* payload, int64_t* expire_at_ms) {
  if (!txn.Get(Partition(key), key, at_ms, &raw_).ok()) return false;
  auto v = storage::DecodeValue(raw_);
  if (!v) return false;
  if (type) *type = v->type;
  if (payload) payload->assign(v->payload);
  if (expire_at_ms) *expire_at_ms = v->expire_at_ms;
  return true;
}

void ApplyContext::PutString(std::string_view key, std::string_view payload,
                             int64_t expire_at_ms) {
  PutValue(key, storage::ValueType::kString, payload, expire_at_ms);
}

void ApplyContext::PutValue(std::string_view key, storage::ValueType type,
                            std::string_view payload, int64_t expire_at_ms) {
  if (wrong_type) return;
  // Redis raises "new" as it adds the key, before the command's own event.
  if (events != nullptr && (notify_flags & kNotifyNew) && !Exists(key)) {
    Notify(kNotifyNew, "new", key);
  }
  storage::EncodeValue(type, expire_at_ms, payload, &raw_);
  txn.Put(Partition(key), key, raw_);
}

void ApplyContext::Delete(std::string_view key) {
  if (wrong_type) return;
  txn.Delete(Partition(key), key);
}

bool ApplyContext::Exists(std::string_view key) {
  return GetAt(key, now_ms, nullptr, nullptr, nullptr);
}

void RunApply(const CommandSpec& spec, ApplyContext& ctx) {
  const size_t start = ctx.out.buffer()->size();
  spec.apply(ctx);
  if (ctx.wrong_type) {
    ctx.out.buffer()->resize(start);
    ctx.out.Error(kErrWrongType);
  }
}

}  // namespace flin::server

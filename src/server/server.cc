#include "server/server.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <thread>

#include "common/log.h"
#include "net/socket.h"
#include "server/state_machine.h"
#include "storage/encoding.h"

namespace flin::server {

int64_t NowMs() { return cluster::UnixMs(); }

uint64_t ScanCursors::Save(std::string resume_key) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t id = next_++;
  cursors_[id] = std::move(resume_key);
  if (cursors_.size() > kMax) cursors_.erase(id - kMax);
  return id;
}

bool ScanCursors::Load(uint64_t cursor, std::string* resume_key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cursors_.find(cursor);
  if (it == cursors_.end()) return false;
  *resume_key = it->second;
  return true;
}

namespace {

// The partition count is fixed when the data directory is created: keys are stored under
// their partition, so a different count would not find them.
Status CheckPartitions(storage::Store* store, int partitions) {
  const std::string key = std::string(1, storage::kMetaPrefix) + "partitions";
  std::string v;
  rocksdb::Status s = store->db()->Get(rocksdb::ReadOptions(), key, &v);
  if (s.ok()) {
    if (v != std::to_string(partitions)) {
      return Status::InvalidArgument("data directory " + store->dir() + " was created with " + v +
                                     " partitions, not " + std::to_string(partitions));
    }
    return Status::Ok();
  }
  if (!s.IsNotFound()) return Status::IOError(s.ToString());
  rocksdb::WriteOptions wo;
  wo.sync = true;
  s = store->db()->Put(wo, key, std::to_string(partitions));
  return s.ok() ? Status::Ok() : Status::IOError(s.ToString());
}

}  // namespace

Server::Server(Config* config) : config_(config) {
  std::random_device rd;
  std::mt19937_64 rng(rd());
  static const char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 40; ++i) run_id_.push_back(kHex[rng() % 16]);
}

Server::~Server() {
  for (auto& t : io_threads_) t->Stop();
  io_threads_.clear();
  if (single_node_) single_node_->Stop();
  single_node_.reset();
  store_.reset();
}

Status Server::Start() {
  start_ms_ = NowMs();
  std::error_code ec;
  std::filesystem::create_directories(config_->dir, ec);
  if (ec) return Status::IOError("cannot create " + config_->dir + ": " + ec.message());

  storage::StoreOptions so;
  so.dir = config_->dir;
  so.block_cache_bytes = config_->block_cache_bytes;
  auto store = storage::Store::Open(so);
  if (!store.ok()) return store.status();
  store_ = std::move(store).value();
  Status s = CheckPartitions(store_.get(), config_->partitions);
  if (!s.ok()) return s;
  store_->AdvanceApplyClock(NowMs());

  state_machine_ = std::make_unique<StateMachineImpl>(&commands_, config_->partitions);
  cluster::SingleNodeOptions rep;
  rep.fsync = config_->fsync.load();
  single_node_ = std::make_unique<cluster::SingleNodeReplicator>(store_.get(),
                                                                 state_machine_.get(), rep);
  replicator_ = single_node_.get();
  s = replicator_->Start();
  if (!s.ok()) return s;

  int threads = config_->threads > 0 ? config_->threads
                                     : static_cast<int>(std::thread::hardware_concurrency());
  if (threads <= 0) threads = 1;
  config_->threads = threads;
  for (int i = 0; i < threads; ++i) {
    auto fd = net::Listen(config_->bind, config_->port, /*reuse_port=*/true);
    if (!fd.ok()) return fd.status();
    auto t = std::make_unique<IoThread>(this, i);
    s = t->Start(fd.value());
    if (!s.ok()) return s;
    io_threads_.push_back(std::move(t));
  }
  return Status::Ok();
}

uint64_t Server::expired_keys() const {
  return state_machine_ ? state_machine_->expired_keys() : 0;
}

void Server::Run() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  timespec tick{0, 100 * 1000 * 1000};
  while (!shutdown_.load()) {
    int sig = sigtimedwait(&set, nullptr, &tick);
    if (sig == SIGTERM || sig == SIGINT) break;
    single_node_->set_fsync(config_->fsync.load());  // CONFIG SET fsync takes effect here
    ExpiryCycle();
    SampleOps();
  }
  LOG_NOTICE("shutting down: stopping clients, draining the log");
  // Stop taking requests, then let the log drain so every acknowledged write is applied.
  for (auto& t : io_threads_) t->Stop();
  for (auto& t : io_threads_) t->Join();
  single_node_->Stop();
  io_threads_.clear();
  single_node_.reset();
  store_.reset();
  LOG_NOTICE("shut down cleanly, every acknowledged write is on disk");
}

void Server::SampleOps() {
  uint64_t total = 0;
  for (auto& t : io_threads_) total += t->stats().commands.load(std::memory_order_relaxed);
  const int64_t now = NowMs();
  ops_samples_.emplace_back(now, total);
  if (ops_samples_.size() > 16) ops_samples_.erase(ops_samples_.begin());
  const auto& [t0, c0] = ops_samples_.front();
  if (now > t0) instantaneous_ops_.store(static_cast<int64_t>((total - c0) * 1000 / (now - t0)));
}

// Active expiry: walk the keyspace a slice at a time and send the keys found expired through
// the log as one internal command, so they are deleted in log order like any write (and, in a
// cluster, on every replica alike).
void Server::ExpiryCycle() {
  constexpr int kScanPerCycle = 2000;
  constexpr size_t kMaxKeysPerProposal = 500;
  const int64_t now = NowMs();
  auto it = store_->NewIterator();
  std::string start = expiry_cursor_.empty() ? std::string(1, storage::kDataPrefix)
                                             : expiry_cursor_;
  it->Seek(start);
  std::vector<std::string> args = {"flin.expired"};
  int scanned = 0;
  for (; it->Valid() && scanned < kScanPerCycle; it->Next(), ++scanned) {
    rocksdb::Slice k = it->key();
    if (k.size() == 0 || k[0] != storage::kDataPrefix) break;
    auto v = storage::DecodeValue(std::string_view(it->value().data(), it->value().size()));
    if (!v || !v->Expired(now)) continue;
    args.emplace_back(k.data() + 3, k.size() - 3);
    args.push_back(std::to_string(v->expire_at_ms));
    if (args.size() >= 1 + 2 * kMaxKeysPerProposal) break;
  }
  if (it->Valid() && it->key().size() > 0 && it->key()[0] == storage::kDataPrefix) {
    expiry_cursor_.assign(it->key().data(), it->key().size());
    expiry_cursor_.push_back('\0');  // resume just after this key
  } else {
    expiry_cursor_.clear();
  }
  if (args.size() > 1) {
    cluster::Proposal p;
    p.partition = -1;
    EncodeCommand(args, &p.command);
    replicator_->Propose(std::move(p)).ok();  // if full, the next cycle finds them again
  }
}

}  // namespace flin::server

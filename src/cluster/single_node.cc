#include "cluster/single_node.h"

#include <chrono>
#include <unordered_map>

#include "common/log.h"
#include "common/strings.h"
#include "storage/encoding.h"

namespace flin::cluster {

int64_t UnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

SingleNodeReplicator::SingleNodeReplicator(storage::Store* store, StateMachine* sm,
                                           SingleNodeOptions options)
    : store_(store), sm_(sm), options_(options), fsync_(options.fsync), txn_(store) {}

SingleNodeReplicator::~SingleNodeReplicator() { Stop(); }

std::string SingleNodeReplicator::ClockKey() {
  return std::string(1, storage::kMetaPrefix) + "apply-clock";
}

int64_t SingleNodeReplicator::PersistedClock(storage::Store* store) {
  std::string v;
  if (!store->db()->Get(rocksdb::ReadOptions(), ClockKey(), &v).ok()) return 0;
  int64_t ms = 0;
  return ParseInt64(v, &ms) ? ms : 0;
}

Status SingleNodeReplicator::Start() {
  persisted_ts_ = PersistedClock(store_);
  last_ts_ = std::max(last_ts_, persisted_ts_);
  store_->AdvanceApplyClock(-1, last_ts_);
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "flin-apply");
    Loop();
  });
  return Status::Ok();
}

void SingleNodeReplicator::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_one();
  if (!thread_.joinable()) return;
  thread_.join();
  // The clock as of now, not only as of the last write: reads judged expiry by the wall
  // clock meanwhile, and a key they saw expire must not come back after a restart on a
  // clock set back while the node was down (Start reads this back).
  std::lock_guard<std::mutex> apply(apply_mu_);
  last_ts_ = std::max(last_ts_, UnixMs());
  if (last_ts_ != persisted_ts_ && !write_error_.load(std::memory_order_relaxed)) {
    txn_.PutRaw(ClockKey(), std::to_string(last_ts_));
    if (txn_.Commit(/*sync=*/true).ok()) persisted_ts_ = last_ts_;
  }
}

Status SingleNodeReplicator::Propose(Proposal&& p) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return Status::Unavailable("shutting down");
    if (write_error_.load(std::memory_order_relaxed)) return Status::IOError(write_error_message_);
    if (queue_.size() >= options_.max_queued) return Status::Busy("write queue full");
    queue_.push_back(std::move(p));
    if (queue_.size() > 1) return Status::Ok();  // the apply thread is already being woken
  }
  cv_.notify_one();
  return Status::Ok();
}

Status SingleNodeReplicator::Admit() const {
  if (!write_error_.load(std::memory_order_relaxed)) return Status::Ok();
  std::lock_guard<std::mutex> lock(mu_);
  if (!write_error_.load(std::memory_order_relaxed)) return Status::Ok();
  return Status::IOError(write_error_message_);
}

bool SingleNodeReplicator::TryApplyInline(std::vector<Proposal>* batch, Status* refused) {
  if (fsync_.load(std::memory_order_relaxed) == FsyncPolicy::kAlways) return false;
  std::unique_lock<std::mutex> apply(apply_mu_, std::try_to_lock);
  if (!apply.owns_lock()) return false;  // a batch is being applied: queue behind it
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      *refused = Status::Unavailable("shutting down");
      return true;
    }
    if (write_error_.load(std::memory_order_relaxed)) {
      *refused = Status::IOError(write_error_message_);
      return true;
    }
    if (!queue_.empty()) return false;  // earlier proposals wait: queue behind them
  }
  std::vector<Proposal> mine;
  mine.swap(*batch);  // the sinks may propose again from Complete(): into an empty *batch
  bool deferred = false;
  Deliveries replies = ApplyBatch(mine, &deferred);
  if (deferred) {
    // RocksDB would have stalled the write (a flush behind, too many L0 files): nothing was
    // written. The apply thread takes the batch, first in line, and waits out the stall
    // there, while this I/O thread goes on serving its other connections.
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.insert(queue_.begin(), std::make_move_iterator(mine.begin()),
                    std::make_move_iterator(mine.end()));
    }
    cv_.notify_one();
    return true;
  }
  apply.unlock();  // a sink may deliver at once (on its own thread): not while holding it
  mine.clear();    // the proposals' bytes leave the pending-write budget before their answers
  Deliver(replies);
  return true;
}

Status SingleNodeReplicator::ProposeBatch(std::vector<Proposal>* batch) {
  if (batch->empty()) return Status::Ok();
  Status refused = Status::Ok();
  if (TryApplyInline(batch, &refused)) return refused;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return Status::Unavailable("shutting down");
    if (write_error_.load(std::memory_order_relaxed)) return Status::IOError(write_error_message_);
    if (queue_.size() + batch->size() > options_.max_queued) return Status::Busy("write queue full");
    for (auto& p : *batch) queue_.push_back(std::move(p));
  }
  batch->clear();
  cv_.notify_one();
  return Status::Ok();
}

void SingleNodeReplicator::Loop() {
  std::vector<Proposal> batch;
  batch.reserve(options_.max_batch);
  Deliveries replies;
  int64_t last_sync_check = UnixMs();
  int64_t last_resume_try = 0;
  while (true) {
    bool stopping;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(100),
                   [this] { return stopping_ || !queue_.empty(); });
    }
    {
      // apply_mu_ before the batch is taken from the queue: while this thread holds it no
      // proposer applies inline, and once the batch is out of the queue none could tell it
      // is still pending (TryApplyInline).
      std::lock_guard<std::mutex> apply(apply_mu_);
      {
        std::lock_guard<std::mutex> lock(mu_);
        stopping = stopping_;
        if (queue_.size() <= options_.max_batch) {
          batch.swap(queue_);
        } else {
          batch.assign(std::make_move_iterator(queue_.begin()),
                       std::make_move_iterator(queue_.begin() + options_.max_batch));
          queue_.erase(queue_.begin(), queue_.begin() + options_.max_batch);
        }
      }
      if (!batch.empty()) replies = ApplyBatch(batch);
    }
    // The proposals (and their share of the pending-write budget) go before their answers
    // let the connections propose again.
    batch.clear();
    Deliver(replies);
    replies.clear();
    // --fsync everysec: make the last second's writes durable. Inline applies may write
    // meanwhile (RocksDB syncs the WAL without blocking writers); one that does sets the flag
    // again, so its write is synced in the next second. Not while the store has failed a
    // write: RocksDB asserts on a sync of the log writer whose append failed (a full disk
    // aborted the process); the flag stays, for the first second after the store recovers.
    int64_t now = UnixMs();
    if ((now - last_sync_check >= 1000 || stopping) && !store_->failed() &&
        unsynced_.exchange(false)) {
      Status s = store_->SyncWal();
      if (s.ok()) {
        fsyncs_.fetch_add(1, std::memory_order_relaxed);
        last_sync_ms_.store(now, std::memory_order_relaxed);
      } else {
        RefuseWrites(s);
      }
      last_sync_check = now;
    }
    if (write_error_.load(std::memory_order_relaxed) && now - last_resume_try >= 1000) {
      last_resume_try = now;
      if (store_->Resume().ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        write_error_.store(false, std::memory_order_relaxed);
        write_error_message_.clear();
        LOG_NOTICE("the store takes writes again");
      }
    }
    if (stopping) {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.empty()) break;
    }
  }
}

void SingleNodeReplicator::RefuseWrites(const Status& cause) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!write_error_.load(std::memory_order_relaxed)) {
    LOG_WARNING("write failed, refusing writes until the store takes them again: %s",
                cause.ToString().c_str());
  }
  write_error_message_ =
      "the disk failed (" + cause.message() +
      (store_->wal_failed()
           ? "); writes are refused until the server restarts (the write-ahead log cannot go "
             "on after a failed write); reads still work"
           : "); writes are refused until the store recovers (a full disk: once space is "
             "free) or the server restarts; reads still work");
  write_error_.store(true, std::memory_order_relaxed);
}

void SingleNodeReplicator::Deliver(Deliveries& replies) {
  for (auto& [sink, completions] : replies) sink->Complete(std::move(completions));
}

SingleNodeReplicator::Deliveries SingleNodeReplicator::ApplyBatch(std::vector<Proposal>& batch,
                                                                  bool* deferred) {
  storage::WriteTxn& txn = txn_;
  // Under --fsync always nothing of the batch may be readable before it is on disk, a
  // FLUSHALL's parts written ahead of the batch's own write included.
  const FsyncPolicy policy = fsync_.load(std::memory_order_relaxed);
  txn.set_sync_parts(policy == FsyncPolicy::kAlways);
  std::vector<std::string> replies(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    Proposal& p = batch[i];
    last_ts_ = std::max(last_ts_, UnixMs());
    protocol::ReplyWriter w(&replies[i], p.proto);
    sm_->SetWriter(p.sink ? p.conn_id : 0);
    sm_->Apply(txn, p.partition, last_ts_, p.command, p.sink ? &w : nullptr);
  }
  const bool clock_moved = last_ts_ != persisted_ts_;
  if (clock_moved) txn.PutRaw(ClockKey(), std::to_string(last_ts_));
  Status s = txn.Commit(policy == FsyncPolicy::kAlways, /*no_stall=*/deferred != nullptr);
  if (deferred != nullptr && s.code() == Status::Code::kBusy) {
    *deferred = true;  // nothing written, nothing answered: the caller hands the batch on
    sm_->AfterCommit(false);
    return {};
  }
  sm_->AfterCommit(s.ok());
  if (s.ok()) {
    if (clock_moved) persisted_ts_ = last_ts_;
    store_->AdvanceApplyClock(-1, last_ts_);
    if (policy == FsyncPolicy::kAlways) {
      fsyncs_.fetch_add(1, std::memory_order_relaxed);
      last_sync_ms_.store(last_ts_, std::memory_order_relaxed);
    } else if (policy == FsyncPolicy::kEverySec) {
      unsynced_.store(true);  // synced within a second by the apply thread; under no, never
    }
  } else {
    // Not acknowledged (RocksDB stops taking writes after an I/O error, and whether the
    // bytes reached the log is unknown): every proposal of the batch fails, whatever the
    // apply step had computed.
    RefuseWrites(s);
    for (size_t i = 0; i < batch.size(); ++i) {
      replies[i].clear();
      protocol::ReplyWriter w(&replies[i], batch[i].proto);
      w.Error("ERR write not acknowledged, the disk failed: " + s.message());
    }
  }
  batches_.fetch_add(1, std::memory_order_relaxed);
  applied_.fetch_add(batch.size(), std::memory_order_relaxed);

  // One delivery per sink (I/O thread), in proposal order.
  Deliveries by_sink;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].sink == nullptr) continue;
    by_sink[batch[i].sink].push_back(
        Completion{batch[i].conn_id, batch[i].seq, std::move(replies[i])});
  }
  return by_sink;
}

}  // namespace flin::cluster

#pragma once
// StateMachineImpl: applies commands coming out of the log by dispatching them to the apply
// function of their command spec. Apply thread only; borrows the command table.

#include "cluster/replicator.h"
#include "server/command.h"
#include "server/pubsub.h"
#include "server/slowlog.h"
#include "server/tracking.h"

namespace flin::server {

class StateMachineImpl : public cluster::StateMachine {
 public:
  StateMachineImpl(const CommandTable* commands, int partitions)
      : commands_(commands), partitions_(partitions) {}
  void Apply(storage::WriteTxn& txn, int partition, int64_t now_ms, std::string_view command,
             protocol::ReplyWriter* reply) override;

  uint64_t expired_keys() const { return expired_keys_.load(std::memory_order_relaxed); }
  // Applies that take at least *slower_than microseconds go into `log` (kept to *max_len),
  // with no client (slowlog.h). All three outlive this object.
  void set_slowlog(SlowLog* log, const std::atomic<int64_t>* slower_than,
                   const std::atomic<int64_t>* max_len) {
    slowlog_ = log;
    slower_than_ = slower_than;
    max_len_ = max_len;
  }
  // Keyspace notifications: *flags (notify-keyspace-events) says which events the applies
  // collect; AfterCommit(true) publishes them to `pubsub`. Both outlive this object.
  // `tracking` (may be null) gets the changes while any client tracks keys (tracking.h).
  void set_notifications(const std::atomic<int>* flags, PubSub* pubsub,
                         Tracking* tracking = nullptr) {
    notify_flags_ = flags;
    pubsub_ = pubsub;
    tracking_ = tracking;
  }
  void AfterCommit(bool committed) override;
  void SetWriter(uint64_t conn_id) override { writer_ = conn_id; }
  // Tracking clients may cache anything of the replaced partition: everything is invalidated.
  void DataReplaced() override {
    if (tracking_ != nullptr && tracking_->active()) tracking_->InvalidateAll();
  }
  // Bytes of the last reply built for nobody (Apply with reply == nullptr); for tests.
  size_t discarded_reply_bytes() const { return scratch_.size(); }

 private:
  const CommandTable* commands_;
  int partitions_;
  std::atomic<uint64_t> expired_keys_{0};
  std::vector<std::string_view> args_;
  std::string scratch_;  // the reply of a proposal nobody waits for
  SlowLog* slowlog_ = nullptr;
  const std::atomic<int64_t>* slower_than_ = nullptr;
  const std::atomic<int64_t>* max_len_ = nullptr;
  const std::atomic<int>* notify_flags_ = nullptr;
  PubSub* pubsub_ = nullptr;
  Tracking* tracking_ = nullptr;
  uint64_t writer_ = 0;
  // The events of the applies since the last AfterCommit, at most kMaxEvents (beyond, the
  // rest of the batch's are dropped: a FLUSHALL of nothing but a huge MSET must not hold an
  // unbounded list; tracking then invalidates everything, `events_dropped_`).
  static constexpr size_t kMaxEvents = 1 << 20;
  std::vector<KeyEvent> events_;
  bool events_dropped_ = false;
  bool untracked_ = false;  // an apply of this batch ran while no client tracked
  std::vector<PendingPublish> publishes_;  // bounded by the entries' sizes
};

}  // namespace flin::server

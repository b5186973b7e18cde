#include "server/state_machine.h"

#include <stdexcept>

#include "common/log.h"
#include "net/event_loop.h"

namespace flin::server {

void StateMachineImpl::Apply(storage::WriteTxn& txn, int partition, int64_t now_ms,
                             std::string_view command, protocol::ReplyWriter* reply) {
  scratch_.clear();
  protocol::ReplyWriter discard(&scratch_, 2);
  protocol::ReplyWriter& out = reply ? *reply : discard;
  const CommandSpec* spec = nullptr;
  if (DecodeCommand(command, &args_)) spec = commands_->Find(args_[0]);
  if (spec == nullptr || spec->apply == nullptr || !spec->ArityOk(args_.size())) {
    // Only the server writes log entries; this means a bug or a damaged log.
    out.Error("ERR cannot apply a malformed log entry");
    return;
  }
  // A read through the log changes nothing; with nobody waiting (a follower, a replay after a
  // restart) its reply would only be built to be thrown away, and an MGET of many large
  // values would build a large one on every replica.
  // (SPUBLISH through the log publishes on every replica, as it forwards to every replica.)
  if (reply == nullptr && !spec->Writes(Args(args_)) && !spec->Has(kCmdPubSub)) return;
  ApplyContext ctx(txn, now_ms, Args(args_), out, partitions_, &expired_keys_);
  ctx.partition = partition;
  ctx.commands = commands_;
  ctx.reply_wanted = reply != nullptr;
  if (pubsub_ != nullptr) {
    ctx.pubsub = pubsub_;
    ctx.publishes = &publishes_;
  }
  if (notify_flags_ != nullptr) {
    int flags = notify_flags_->load(std::memory_order_relaxed);
    if (tracking_ != nullptr) {
      if (tracking_->active()) {
        flags |= kTrackKeys;
      } else {
        untracked_ = true;
      }
    }
    if (flags & (kNotifyKeyspace | kNotifyKeyevent | kTrackKeys)) {
      if (events_.size() < kMaxEvents) {
        ctx.events = &events_;
        ctx.notify_flags = flags;
        ctx.writer = writer_;
      } else {
        events_dropped_ = true;
      }
    }
  }
  // A logic error of an apply function (an argument a check let through, as SETRANGE's offset
  // overflow once did) is the same on every replica: answered as an error, so that one entry
  // cannot abort every replica of a cluster, again at each restart. What the command had
  // written to the transaction before it threw stays, identically everywhere. Anything else
  // (bad_alloc: not the same everywhere) still stops the server.
  const size_t reply_start = out.buffer()->size();
  const int64_t start = slowlog_ != nullptr ? net::MonotonicUs() : 0;
  try {
    RunApply(*spec, ctx);
  } catch (const std::logic_error& e) {
    LOG_WARNING("applying '%s' failed: %s", std::string(args_[0]).c_str(), e.what());
    out.buffer()->resize(reply_start);
    out.Error("ERR internal error applying this command");
  }
  if (slowlog_ != nullptr) {
    const int64_t took = net::MonotonicUs() - start;
    if (SlowLog::Slow(took, slower_than_->load(std::memory_order_relaxed))) {
      // A transaction's entry (flin.exec) and active expiry's (flin.expired) by name only:
      // their arguments are encoded commands and key lists.
      const Args shown = spec->Has(kCmdInternal) ? Args(args_).first(1) : Args(args_);
      slowlog_->Record(took, shown, "", "", max_len_->load(std::memory_order_relaxed));
    }
  }
}

void StateMachineImpl::AfterCommit(bool committed) {
  if (committed && pubsub_ != nullptr) {
    for (const PendingPublish& p : publishes_) pubsub_->Publish(p.shard, p.channel, p.message);
  }
  publishes_.clear();
  if (committed && tracking_ != nullptr) {
    // The batch is readable now; a client that began tracking reads after counting itself
    // (Tracking::active): one of the two sees the other.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    // A client that began tracking after some of this batch was applied (uncollected) may
    // already have read what the batch overwrites: everything is invalidated, once.
    if (events_dropped_ || (untracked_ && tracking_->active())) {
      tracking_->InvalidateAll();
    } else if (!events_.empty()) {
      tracking_->Changed(events_);
    }
  }
  events_dropped_ = untracked_ = false;
  if (events_.empty()) return;
  if (committed && pubsub_ != nullptr) {
    const int flags = notify_flags_->load(std::memory_order_relaxed);
    for (const KeyEvent& e : events_) PublishKeyEvent(*pubsub_, flags, e);
  }
  events_.clear();
}

}  // namespace flin::server

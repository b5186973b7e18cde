// Snapshots: the leader streams Storage's snapshot to a follower behind its first index, in
// chunks; the follower reassembles it (or the application keeps the chunks as they come:
// Config::stage_snapshot_chunk) and hands it to the application in Ready::snapshot.

#include "raft/raw_node.h"

namespace flin::raft {

void RawNode::StartSnapshot(NodeId to, Progress& pr) {
  auto meta = storage_->SnapshotMetadata();
  if (!meta.ok() || meta.value().index == 0) return;  // being built: retried later
  pr.BecomeSnapshot(meta.value().index);
  SendSnapshotChunk(to, pr);
}

void RawNode::SendSnapshotChunk(NodeId to, Progress& pr) {
  auto chunk = storage_->ReadSnapshotChunk(pr.pending_snapshot, pr.snapshot_offset,
                                           cfg_.snapshot_chunk_size);
  if (!chunk.ok()) {
    if (chunk.status().IsNotFound()) {
      // A newer snapshot replaced the one being streamed: start over with it. If none is
      // available now, probe again later.
      pr.BecomeProbe();
      pr.probe_sent = false;
    }
    return;
  }
  Message m;
  m.type = MessageType::kSnapshot;
  m.to = to;
  m.snapshot = std::move(chunk.value().meta);
  m.offset = pr.snapshot_offset;
  m.chunk = std::move(chunk.value().data);
  m.done = chunk.value().done;
  pr.snapshot_chunk_sent = true;
  pr.sent_tick = ticks_;
  Send(std::move(m));
}

void RawNode::HandleSnapshotResponse(const Message& m) {
  auto it = prs_.find(m.from);
  if (it == prs_.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;
  if (pr.state != ProgressState::kSnapshot || m.snapshot.index != pr.pending_snapshot) return;
  // The follower tells us the offset it expects next (0 after a reject: start over).
  pr.snapshot_offset = m.reject ? 0 : m.offset;
  SendSnapshotChunk(m.from, pr);
}

void RawNode::HandleSnapshotChunk(const Message& m) {
  NoteRecoveryTarget(m);
  const SnapshotMeta& meta = m.snapshot;
  auto respond = [&](uint64_t offset, bool reject) {
    Message r;
    r.type = MessageType::kSnapshotResp;
    r.to = m.from;
    r.snapshot.index = meta.index;
    r.snapshot.term = meta.term;
    r.offset = offset;
    r.reject = reject;
    Send(std::move(r));
  };
  if (meta.index <= log_.committed()) {
    // Nothing to learn from it: tell the leader where we are instead.
    ResetSnapshotReceive();
    Message r;
    r.type = MessageType::kAppendResp;
    r.to = m.from;
    r.index = log_.committed();
    Send(std::move(r));
    return;
  }
  if (!recv_snap_meta_ || !(*recv_snap_meta_ == meta)) {
    if (m.offset != 0) {
      respond(0, /*reject=*/true);
      return;
    }
    ResetSnapshotReceive();
    recv_snap_meta_ = meta;
  }
  if (m.offset != recv_snap_size_) {
    // Duplicate or out-of-order chunk: say which offset we need.
    respond(recv_snap_size_, /*reject=*/false);
    return;
  }
  if (cfg_.stage_snapshot_chunk) {
    Result<bool> kept = cfg_.stage_snapshot_chunk(meta, m.offset, m.chunk);
    if (!kept.ok()) {
      // Unanswered, and forgotten with what came before it: the leader's next send of this
      // chunk (on a later heartbeat) is refused, and it starts the stream over from 0.
      ResetSnapshotReceive();
      return;
    }
    recv_snap_staged_ = kept.value();
  }
  if (!recv_snap_staged_) recv_snap_data_.append(m.chunk);
  recv_snap_size_ += m.chunk.size();
  if (!m.done) {
    respond(recv_snap_size_, /*reject=*/false);
    return;
  }
  Snapshot snap;
  snap.meta = *recv_snap_meta_;
  snap.staged = recv_snap_staged_;
  snap.data = std::move(recv_snap_data_);
  ResetSnapshotReceive();
  if (cfg_.accept_snapshot && !cfg_.accept_snapshot(snap)) {
    respond(0, /*reject=*/true);  // the leader starts over
    return;
  }
  Restore(std::move(snap));
  // Either way the log now matches the leader's up to the snapshot index (and no further is
  // known: entries after it may be from an older term).
  Message r;
  r.type = MessageType::kAppendResp;
  r.to = m.from;
  r.index = log_.committed();
  Send(std::move(r));
}

void RawNode::ResetSnapshotReceive() {
  recv_snap_meta_.reset();
  recv_snap_size_ = 0;
  recv_snap_staged_ = false;
  recv_snap_data_.clear();
}

bool RawNode::Restore(Snapshot snap) {
  const uint64_t index = snap.meta.index;
  if (index <= log_.committed()) return false;
  // A snapshot is the leader's committed state: everything up to it matches.
  if (verified_ != std::numeric_limits<uint64_t>::max()) verified_ = std::max(verified_, index);
  if (log_.MatchTerm(index, snap.meta.term)) {
    // Our log already holds the snapshot's last entry: it is committed, keep the log.
    log_.CommitTo(index);
    CompactConfHistory();
    return false;
  }
  ResetConfig(index, snap.meta.conf_state);
  log_.Restore(std::move(snap));
  return true;
}

}  // namespace flin::raft

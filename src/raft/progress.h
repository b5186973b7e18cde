#pragma once
// Progress: the leader's view of one peer's log (etcd raft's tracker.Progress). Internal to the
// core; single-threaded like RawNode.
//
// States:
//   kProbe      next is a guess; at most one AppendEntries in flight until the follower
//               answers (the answer moves next via the conflict hint or confirms a match).
//   kReplicate  the follower is caught up to a known match; entries stream optimistically,
//               bounded by an inflight window of max_inflight messages (flow control).
//   kSnapshot   the follower is behind the leader's first index; a snapshot is streamed to
//               it chunk by chunk, one chunk in flight at a time.

#include <cstdint>
#include <deque>

#include "raft/types.h"

namespace flin::raft {

enum class ProgressState : uint8_t { kProbe = 0, kReplicate = 1, kSnapshot = 2 };

struct Progress {
  uint64_t match = 0;
  uint64_t next = 1;
  ProgressState state = ProgressState::kProbe;
  bool probe_sent = false;      // kProbe: an append is outstanding
  bool recent_active = false;   // heard from since the last check-quorum round
  // Last index of each AppendEntries in flight (kReplicate), oldest first.
  std::deque<uint64_t> inflight;
  // kSnapshot: index of the snapshot being streamed and the next offset to send.
  uint64_t pending_snapshot = 0;
  uint64_t snapshot_offset = 0;
  bool snapshot_chunk_sent = false;
  // The leader's tick when it last sent this peer an append or a snapshot chunk: a heartbeat
  // response shows that such a message was lost only if its heartbeat left in a later tick.
  uint64_t sent_tick = 0;
  // Lease / ReadIndex bookkeeping: highest leader tick and read sequence this peer acknowledged.
  uint64_t ack_tick = 0;
  uint64_t ack_read_seq = 0;
  // The run a recovering peer last named (Message::run_id; 0: an ordinary replica) and where
  // that run's recovery ends: this leader's last index when it first heard from the run.
  uint64_t run_id = 0;
  uint64_t recover_to = 0;

  void BecomeProbe();
  void BecomeReplicate();
  void BecomeSnapshot(uint64_t snapshot_index);
  // A successful append response for `index`; returns true if match advanced.
  bool MaybeUpdate(uint64_t index);
  // A rejection of an append at `rejected` with the follower's hint; returns false if stale.
  bool MaybeDecrTo(uint64_t rejected, uint64_t match_hint);
  // An append covering up to `last` was sent.
  void SentEntries(uint64_t last, uint64_t count);
  // Frees inflight slots for messages up to `index`.
  void FreeInflightsTo(uint64_t index);
  bool IsPaused(uint64_t max_inflight) const;
};

}  // namespace flin::raft

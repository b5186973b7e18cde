#include "raft/progress.h"

#include <algorithm>

namespace flin::raft {

void Progress::BecomeProbe() {
  if (state == ProgressState::kSnapshot) {
    // Resume probing right after the snapshot (or the known match if larger).
    next = std::max(match + 1, pending_snapshot + 1);
  } else {
    next = match + 1;
  }
  state = ProgressState::kProbe;
  probe_sent = false;
  pending_snapshot = 0;
  snapshot_offset = 0;
  snapshot_chunk_sent = false;
  inflight.clear();
}

void Progress::BecomeReplicate() {
  state = ProgressState::kReplicate;
  next = match + 1;
  probe_sent = false;
  pending_snapshot = 0;
  snapshot_offset = 0;
  snapshot_chunk_sent = false;
  inflight.clear();
}

void Progress::BecomeSnapshot(uint64_t snapshot_index) {
  state = ProgressState::kSnapshot;
  pending_snapshot = snapshot_index;
  snapshot_offset = 0;
  snapshot_chunk_sent = false;
  probe_sent = false;
  inflight.clear();
}

bool Progress::MaybeUpdate(uint64_t index) {
  bool updated = false;
  if (match < index) {
    match = index;
    updated = true;
    probe_sent = false;
  }
  next = std::max(next, index + 1);
  return updated;
}

bool Progress::MaybeDecrTo(uint64_t rejected, uint64_t match_hint) {
  if (state == ProgressState::kReplicate) {
    // Stale if the rejected append is at or below what we know matches.
    if (rejected <= match) return false;
    next = match + 1;
    return true;
  }
  // Probe: only the rejection of the last probe (next - 1) is meaningful.
  if (next == 0 || next - 1 != rejected) return false;
  next = std::max<uint64_t>(std::min(rejected, match_hint + 1), match + 1);
  probe_sent = false;
  return true;
}

void Progress::SentEntries(uint64_t last, uint64_t count) {
  if (state == ProgressState::kReplicate) {
    if (count > 0) {
      next = last + 1;
      inflight.push_back(last);
    }
  } else if (state == ProgressState::kProbe) {
    probe_sent = true;
  }
}

void Progress::FreeInflightsTo(uint64_t index) {
  while (!inflight.empty() && inflight.front() <= index) inflight.pop_front();
}

bool Progress::IsPaused(uint64_t max_inflight) const {
  switch (state) {
    case ProgressState::kProbe: return probe_sent;
    case ProgressState::kReplicate: return inflight.size() >= max_inflight;
    case ProgressState::kSnapshot: return true;
  }
  return true;
}

}  // namespace flin::raft

#pragma once
// Value types shared by the Raft core, its storage, its codec and its simulation: log entries,
// hard state, membership (ConfState / ConfChange), snapshots, messages, and the Ready batch the
// core hands to the application. Plain structs with value semantics; no behaviour beyond small
// helpers. Nothing here is thread-safe beyond what std::string / std::vector give.

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace flin::raft {

using NodeId = uint64_t;
// Node ids are non-zero; 0 means "nobody" (no vote, no known leader).
inline constexpr NodeId kNoNode = 0;

enum class EntryType : uint8_t {
  kNormal = 0,      // application data (may be empty: the leader's no-op of a new term)
  kConfChange = 1,  // data is an encoded ConfChange (codec.h EncodeConfChange)
};

struct Entry {
  uint64_t term = 0;
  uint64_t index = 0;
  EntryType type = EntryType::kNormal;
  std::string data;

  bool operator==(const Entry&) const = default;
  // Bytes counted against message and Ready size limits.
  uint64_t Size() const { return data.size() + 24; }
};

// Must be persisted (atomically with the entries of the same Ready) before the Ready's
// messages are sent.
struct HardState {
  uint64_t term = 0;
  NodeId vote = kNoNode;
  uint64_t commit = 0;

  bool operator==(const HardState&) const = default;
  bool IsEmpty() const { return term == 0 && vote == kNoNode && commit == 0; }
};

// A membership configuration. Voters count for elections and commitment; learners only
// receive the log. A node is never both.
struct ConfState {
  std::vector<NodeId> voters;
  std::vector<NodeId> learners;

  bool operator==(const ConfState&) const = default;
  bool IsVoter(NodeId id) const;
  bool IsLearner(NodeId id) const;
  bool Contains(NodeId id) const { return IsVoter(id) || IsLearner(id); }
};

// A single-server membership change (see raw_node.h "Membership" for the rules).
enum class ConfChangeType : uint8_t {
  kAddVoter = 0,        // a new node joins as a voter
  kAddLearner = 1,      // a new node joins as a non-voting learner
  kRemoveNode = 2,      // a voter or learner leaves
  kPromoteLearner = 3,  // an existing learner becomes a voter
};

struct ConfChange {
  ConfChangeType type = ConfChangeType::kAddVoter;
  NodeId node = kNoNode;

  bool operator==(const ConfChange&) const = default;
};

// Returns `cs` with `cc` applied, or InvalidArgument if the change does not fit `cs` (adding a
// present node, promoting a non-learner, removing an absent node, removing the last voter).
Result<ConfState> ApplyConfChange(const ConfState& cs, const ConfChange& cc);

struct SnapshotMeta {
  uint64_t index = 0;  // last log index the snapshot covers
  uint64_t term = 0;   // term of that entry
  ConfState conf_state;  // membership as of `index`

  bool operator==(const SnapshotMeta&) const = default;
};

struct Snapshot {
  SnapshotMeta meta;
  std::string data;  // opaque application state
  // A received snapshot whose data the app kept itself as it arrived (Config::
  // stage_snapshot_chunk): `data` is empty and the app installs from what it kept.
  bool staged = false;

  bool operator==(const Snapshot&) const = default;
  bool IsEmpty() const { return meta.index == 0; }
};

enum class MessageType : uint8_t {
  kAppend = 0,         // leader -> follower: entries after (index, log_term), commit
  kAppendResp = 1,     // follower -> leader: index = last matching index, or reject + hints
  kVote = 2,           // candidate -> all: (index, log_term) = candidate's last entry
  kVoteResp = 3,
  kPreVote = 4,        // like kVote, for term+1, without the sender changing its term
  kPreVoteResp = 5,
  kHeartbeat = 6,      // leader -> follower: commit, tick (lease), read_seq (ReadIndex)
  kHeartbeatResp = 7,  // echoes tick and read_seq
  kSnapshot = 8,       // leader -> follower: one chunk [offset, offset+chunk.size()) of snapshot
  kSnapshotResp = 9,   // follower -> leader: offset = next byte expected; reject = restart
  kTimeoutNow = 10,    // leader -> transferee: campaign now (leadership transfer)
};
inline constexpr int kNumMessageTypes = 11;
const char* MessageTypeName(MessageType t);

// One message of the Raft protocol. Which fields are meaningful depends on `type` (see
// MessageType). Unused fields stay zero/empty so the codec keeps them cheap.
struct Message {
  MessageType type = MessageType::kAppend;
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  uint64_t term = 0;
  uint64_t log_term = 0;
  uint64_t index = 0;
  uint64_t commit = 0;
  bool reject = false;
  uint64_t reject_hint = 0;  // kAppendResp reject: follower's suggested next probe index
  uint64_t tick = 0;         // kHeartbeat(Resp): leader's tick counter when sent
  uint64_t read_seq = 0;     // kHeartbeat(Resp): highest ReadIndex sequence covered
  bool force = false;        // kVote/kPreVote: leadership transfer, ignore leader lease
  std::vector<Entry> entries;
  SnapshotMeta snapshot;     // kSnapshot / kSnapshotResp: which snapshot the chunk belongs to
  uint64_t offset = 0;       // kSnapshot: chunk offset; kSnapshotResp: next offset expected
  std::string chunk;
  bool done = false;         // kSnapshot: this chunk is the last one
  // A recovering replica's run (Config::recovering): its responses and its probes (pre-votes
  // for term 1) name it (run_id); the answers to a probe echo it, and so do a leader's appends
  // and snapshot chunks to it, with the index its recovery must reach (recover_to). 0
  // everywhere else.
  uint64_t run_id = 0;
  uint64_t recover_to = 0;
  // kVote/kPreVote: the candidate wins only with every voter's grant, and replicas that
  // accept data loss may grant it (Config::accept_data_loss).
  bool unanimous = false;

  bool operator==(const Message&) const = default;
};

std::string DescribeMessage(const Message& m);

enum class Role : uint8_t { kFollower = 0, kPreCandidate = 1, kCandidate = 2, kLeader = 3 };
const char* RoleName(Role r);

// Volatile state; reported in Ready when it changes. Need not be persisted.
struct SoftState {
  NodeId leader = kNoNode;
  Role role = Role::kFollower;

  bool operator==(const SoftState&) const = default;
};

// A linearizable read is safe once the application has applied up to `index`.
struct ReadState {
  uint64_t index = 0;
  std::string context;  // the caller's request context, returned verbatim

  bool operator==(const ReadState&) const = default;
};

}  // namespace flin::raft

#pragma once
// RawNode: one replica of one Raft group, as a pure deterministic state machine (in the style
// of etcd raft's RawNode). It does no I/O, owns no thread and reads no clock: time is Tick(),
// input is Step()/Propose()/ReadIndex()/..., output is a Ready batch the application drains.
// Randomness (election timeouts) comes from a PRNG seeded by Config::seed, so a run is a pure
// function of its inputs. The core knows nothing of group ids: a multi-group node keeps one
// RawNode per group and tags messages itself.
//
// THE READY / ADVANCE CONTRACT. After any input, while HasReady(), the application:
//   1. r = GetReady();
//   2. if r.snapshot: installs it in stable storage (log replaced; the snapshot's index/term
//      becomes the compaction point) and restores the state machine from r.snapshot->data
//      (or, if r.snapshot->staged, from the chunks it kept: Config::stage_snapshot_chunk);
//   3. appends r.entries to stable storage, first truncating every stored entry at or after
//      r.entries[0].index, and stores r.hard_state if set; steps 2-3 must be durable (fsync,
//      per the app's policy) and atomic with respect to a crash;
//   4. only then sends r.messages (in any order, any may be lost: Raft retries). Sending a
//      message before the entries/hard state of the same Ready are durable breaks safety (a
//      vote or an append acknowledgement would promise state that a crash can lose);
//   5. applies r.committed_entries in order (they may include entries of r.entries: that is
//      why step 3 comes first); entries of type kConfChange carry an encoded ConfChange
//      (codec.h) that the app decodes to track membership for its own snapshots;
//   6. serves r.read_states once its applied index >= ReadState::index;
//   7. Advance(r).
// Tick/Step/Propose/... may be called between GetReady and Advance (their effects go into the
// next Ready), but GetReady must not be called again before Advance.
//
// STORAGE. The app implements Storage (storage.h) over its stable storage; the core only reads
// it. On restart, construct a new RawNode over the same storage: term, vote, commit, log and
// membership are restored from it; Config::applied says how far the state machine already is.
// Compaction: the app takes a snapshot of its state at an applied index i (with the
// membership as of i), makes Storage::SnapshotMetadata()/ReadSnapshotChunk() return it, and
// may then drop log entries <= i. Followers that need entries below the first index receive
// the snapshot from the leader in chunks of Config::snapshot_chunk_size (one chunk in flight,
// each acknowledged; a lost chunk is resent on the next heartbeat response); a follower that
// received every chunk returns the whole snapshot in Ready::snapshot. The core holds the
// chunks in memory unless the app keeps them as they come (Config::stage_snapshot_chunk).
//
// MEMBERSHIP. Single-server changes (add voter, add learner, remove, promote learner), at
// most one uncommitted change at a time, taking effect when APPENDED to a log (the Raft
// thesis, section 4.1), not when applied: every node uses the last configuration in its log,
// committed or not, and reverts if the entry is truncated. Safety: two configurations that
// differ by one server have overlapping majorities, and a leader appends a change only when
// (a) no change is uncommitted in its log and (b) it has committed an entry of its own term
// (Ongaro's fix for the leader-change bug, raft-dev 2015). By induction every committed
// configuration C_k is in the log of any server that can win an election (its majority
// overlaps C_k's commit majority and the up-to-date check carries the entry), so no server
// can use a configuration two steps stale, and any two deciding majorities intersect. A
// leader removed from the configuration keeps leading (not counting itself) until the change
// commits, then steps down.
//
// READS. ReadIndex(ctx, kSafe) confirms leadership with a heartbeat round acknowledged by a
// quorum, then releases ReadState{index = max(commit, first index of the leader's term)}.
// ReadIndex(ctx, kLease) releases immediately while the leader lease holds, else falls back
// to kSafe. The lease needs check_quorum: a follower that heard from the leader refuses
// (pre)votes for election_tick ticks, and so does a node for election_tick ticks after it
// starts (it may have forgotten such a contact in a crash). The leader's lease runs from the
// tick at which it SENT the latest heartbeat a quorum acknowledged, for lease_ticks <
// election_tick ticks. CLOCK ASSUMPTION: every node's ticks advance at the same rate within
// the drift covered by election_tick - lease_ticks ticks (default 2: one tick of quantization
// and one of drift per election timeout); a node whose clock runs slower than that could let
// a deposed leader serve a stale lease read. A leader that starts a leadership transfer stops
// serving lease reads for the rest of its term (the transferee's forced election ignores
// leases). Pending reads are dropped when the node stops being leader; callers retry.
//
// THREADING: not thread-safe. One thread (the raft thread) makes every call, including the
// Storage calls the core makes from inside them.

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "raft/progress.h"
#include "raft/raft_log.h"
#include "raft/storage.h"
#include "raft/types.h"

namespace flin::raft {

// Deliberate bugs, for proving that the simulation's checkers can fail. Never set in
// production; all default to off.
struct TestingKnobs {
  bool commit_any_term = false;      // commit by counting replicas regardless of entry term
  bool vote_twice = false;           // grant a vote even if already voted in this term
  bool lease_without_check_quorum = false;  // check_quorum off, yet the leader trusts its
                                            // lease for as long as it believes it leads
  bool no_restart_lease = false;     // forget the vote-refusal period after a restart
  int lease_ticks_override = 0;      // > 0: lease of this many ticks, even >= election_tick
  bool recover_without_terms = false;  // a recovering replica skips learning its peers' terms
  bool no_run_echo = false;  // a leader does not echo a recovering peer's run (it never ends)
};

struct Config {
  NodeId id = kNoNode;  // this node; non-zero
  // Ticks without hearing from a leader before a follower campaigns (randomized in
  // [election_tick, 2*election_tick)); also the check-quorum period. Default 10.
  int election_tick = 10;
  // Ticks between leader heartbeats. Must be < election_tick. Default 1.
  int heartbeat_tick = 1;
  // Index the application's state machine already reflects (restart); committed entries
  // after it are returned again. 0 means "from the snapshot".
  uint64_t applied = 0;
  uint64_t max_size_per_msg = 1 << 20;     // bytes of entries per AppendEntries (>= 1 entry)
  uint64_t max_inflight_msgs = 64;         // AppendEntries in flight per follower
  uint64_t max_uncommitted_entries = 8192; // Propose fails with Busy beyond this
  uint64_t max_committed_size_per_ready = 8 << 20;  // bytes of committed entries per Ready
  uint64_t snapshot_chunk_size = 1 << 20;  // bytes per InstallSnapshot chunk
  // Asked when a snapshot has arrived whole, before it is adopted: false refuses it (the
  // application could not install it, e.g. malformed data from a peer) and the leader starts
  // the stream over. Unset: every snapshot is accepted. Called on the node's own thread.
  std::function<bool(const Snapshot&)> accept_snapshot;
  // Where a follower keeps the chunks of a snapshot it is receiving: called with bytes
  // [offset, offset + data.size()) of the data of snapshot `meta`, in order from 0; offset 0
  // starts that snapshot afresh (whatever was kept of another is dropped). true: the app kept
  // them, and the whole snapshot comes in Ready::snapshot with `staged` set and no data (the
  // app installs it from what it kept); false: the core reassembles the chunks in memory (as
  // when unset). An error drops the chunk unanswered, and the stream with it: the leader's next
  // send is refused and it starts over from 0. What is kept need not survive a crash (a
  // restarted follower is sent the snapshot afresh), nor a stream the core gives up (it starts
  // the next one at 0). Called on the node's own thread.
  std::function<Result<bool>(const SnapshotMeta& meta, uint64_t offset, std::string_view data)>
      stage_snapshot_chunk;
  uint64_t max_pending_reads = 4096;       // ReadIndex fails with Busy beyond this
  bool pre_vote = true;
  bool check_quorum = true;
  // This replica lost its Raft state (a node whose data was wiped, rejoining under its old
  // id) and starts empty. It cannot keep the promises its earlier self made: the votes it
  // granted, the entries it acknowledged into commit quorums, and the term it had reached
  // (it would have refused a leader of an older term). So it RECOVERS in two steps, granting
  // no vote or pre-vote and never campaigning meanwhile:
  //  1. It learns a term at least as high as its earlier self's: it probes every other voter
  //     (a pre-vote for term 1 naming this run, which every peer answers with its own term
  //     and the run) and takes the highest term in the answers of ALL of them. A set meeting
  //     every quorum (n - q + 1 of n voters, quorum q; what this step took until session 14)
  //     is not enough: a quorum its earlier self joined may complete after the probe, its
  //     other members voting then (the candidate's request to them was slow), so only the
  //     candidate is sure to hold the term when it answers
  //     (RaftRecoveryTest.AVoteTheEarlierSelfGaveIsLearnedFromItsCandidate, 5 voters; with 3
  //     the two rules agree). Only answers to this run's probes count: any other message may
  //     have left its sender before this run began, with a term the sender has left since
  //     (RaftRecoveryTest.ADuplicateFromBeforeTheRestartIsNotAnAnswer). Until then it answers
  //     no append, heartbeat or snapshot chunk (a leader of a term older than its earlier
  //     self's would count its acknowledgement). So with 4 or more voters, a replica recovers
  //     only while every other voter is reachable.
  //  2. It follows leaders of that term or later, acknowledging appends (only leaders its
  //     earlier self would also have followed), until it holds, committed, that term's
  //     leader's log up to where it was when the leader first sent it anything in this run
  //     (see below), ending on an entry of that term. That log holds every entry its earlier
  //     self helped commit or acknowledged (the leader has every committed entry, and it only
  //     sent the earlier self entries it had). It then counts as having voted for that leader
  //     in that term (its earlier self may have voted in it) and is an ordinary replica.
  // The app persists the flag until recovering() is false (a crash before that starts the
  // recovery over). A group whose only voter lost its state has nothing to learn from: that
  // voter starts as an ordinary replica (recovering() is false at once).
  // The replica may also start on an OLDER copy of its state instead of an empty one (a
  // backup): its log then has a tail past its commit index that may have been overwritten
  // since, and its leaders may still send heartbeats computed from what its earlier self had
  // acknowledged (a commit index past what this log shares with theirs). So for the rest of
  // this run a heartbeat's commit index counts only up to what an append or snapshot of this
  // run has shown to match the leader's log (the simulation's restores found the heartbeat
  // committing a stale tail entry, seed 2185).
  // Step 2 ends only once the replica holds, committed, the leader's log up to where it was
  // when the leader first heard from this run: every response of a recovering replica names
  // its run (run_id, below), and a leader that hears a run it does not know yet forgets what
  // it knew of the peer's log, notes its own last index (past every entry the earlier self
  // could have acknowledged to it, or that any earlier leader committed) and echoes both in
  // each append and snapshot chunk it sends that peer. The replica takes a target only from
  // a message echoing its own run: an append sent before the leader met this run (delayed or
  // duplicated) cannot end the recovery early
  // (RaftRecoveryTest.AStaleAppendCannotEndARestoredReplicasRecovery). Ending on the first
  // committed entry of the term instead let a wiped replica vote with a log shorter than its
  // earlier self's (RaftRestartTest.ARecoveryThatEndsBeforeTheEarlierSelfsEntriesLosesOne)
  // and a restored one end at once on the committed entries of that term its copy held
  // (seed 26342).
  // ASSUMES the replica's stored membership is current (open: docs/RELIABILITY.md and the
  // disabled RaftRecoveryOpenTest cases; a Flin cluster never changes membership), and, when
  // every replica that held some term lost its state, that no message outlives both its
  // sender's and its receiver's processes (the recovered replicas may reuse that term; Flin's
  // transport joins two processes per connection; RaftRecoveryOpenTest.*TwoWiped*).
  bool recovering = false;
  // The operator accepts losing acknowledged writes that no replica of the group still knows
  // to be committed: every replica lost its state or came back on a backup (a whole cluster
  // restored after a disaster), so none can vouch for the others and a recovery (above) would
  // wait forever.
  // While recovering, such a replica may then vote and campaign again, but in UNANIMOUS
  // elections only: a candidate wins only with the grant of every voter (flagged on its
  // requests, Message::unanimous), and a recovering replica grants nothing else.
  //  - A unanimous request carries the candidate's commit index, and a voter grants it only
  //    if that is above its own, or equal with a last entry at least as up to date. The
  //    copies are states of one correct history, whose committed prefixes form a chain, so
  //    the winner's log holds every entry any voter had committed: nothing a replica applied
  //    is overwritten, and the replicas converge. The last entry alone would not do: a copy's
  //    stale tail of a later term beat a replica that had committed an older-term entry
  //    (RaftDataLossReviewTest.UpToDateDoesNot...). Nor would a majority: two older copies
  //    could elect each other over the newest (found by review in session 13). What is
  //    lost: entries no voter knew were committed, even if one held them (a voter cannot tell
  //    in one round: RaftDataLossReviewTest.AnEntryNoVoterKnew...), and a learner's committed
  //    entries beyond every voter's (the learner then stops following,
  //    Events::commit_conflicts).
  //  - Step 1 comes first (a replica votes, campaigns and follows only once it knows its
  //    peers' terms: an ordinary live peer may lead a newer term than its copy), and its
  //    earlier self may have voted in any term up to the one learned: it grants only above it
  //    (RaftDataLossReviewTest.AWipedReplicaVotesAgainInTheTermItLearned).
  //  - Terms whose every holder lost them lie beyond what any live replica knows; one reused
  //    could meet a held message of its earlier leader. A unanimous campaign leaps
  //    kLossTermGap terms and a random amount up to as many more, so only an era of that many
  //    elections since the newest copy, or two eras leaping from one term to one term, could
  //    be reused (RaftDataLossReviewTest.ARestoredQuorumReusesTheTermOfADeadLeader).
  //  - A grant is judged by the voter's state when it votes; a voter started on another copy
  //    since has not been. So the winner commits nothing until every voter has acknowledged
  //    an entry of its term from the run that granted the vote (vote responses name it), and
  //    steps down on hearing another run (RaftDataLossReviewTest.AGrantFromAnIncarnation...).
  //    Then it is an ordinary replica (every voter granted it and holds its log); the others
  //    end step 2 under it as usual. An ordinary replica that refuses a unanimous request because
  //    its own state is newer campaigns unanimously itself next, unless it hears of a leader
  //    first (else the group could wait forever for a candidate nobody can elect); one try
  //    each time, so a flag left on never keeps a majority from electing.
  // The price: no election while any voter is down. Meant for one start of a restored
  // cluster. ASSUMES, as recovery does, that the stored membership is current.
  bool accept_data_loss = false;
  // Names this run of a recovering replica to its leaders (above). It must differ from the
  // run id of every earlier run of this replica; 0 draws one from the PRNG (`seed`), which
  // then must differ from run to run.
  uint64_t run_id = 0;
  // Leader lease length in ticks; -1 means election_tick - 2; 0 disables lease reads.
  // Must be < election_tick. Ignored (no lease) without check_quorum.
  int lease_ticks = -1;
  uint64_t seed = 1;  // PRNG seed for election timeouts (use a different one per node)
  TestingKnobs testing;
};

// One batch of work for the application (see the contract above).
struct Ready {
  std::optional<SoftState> soft_state;  // set when leader or role changed
  std::optional<HardState> hard_state;  // set when it must be persisted
  std::vector<ReadState> read_states;
  std::vector<Entry> entries;           // to append to stable storage
  std::optional<Snapshot> snapshot;     // to install (follower received one)
  std::vector<Entry> committed_entries; // to apply, in order
  std::vector<Message> messages;        // to send after persisting

  bool Empty() const;
};

struct ProposeResult {
  uint64_t index = 0;  // the proposal is committed iff the entry applied at `index`
  uint64_t term = 0;   // has this term
};

enum class ReadMode : uint8_t { kSafe = 0, kLease = 1 };

// Leader's view of a peer, for status reporting (follower lag).
struct PeerStatus {
  NodeId id = kNoNode;
  uint64_t match = 0;
  uint64_t next = 0;
  ProgressState state = ProgressState::kProbe;
  bool learner = false;
  // Ticks since the heartbeat this peer last answered was sent (a live peer answers every
  // heartbeat; one that stopped, even with its connection up, falls behind). 0 until the peer
  // first answers this leader.
  uint64_t ticks_since_ack = 0;
};

class RawNode {
 public:
  // Builds a node from `storage` (borrowed; must outlive the node). Fails on an invalid
  // config or unreadable storage.
  static Result<std::unique_ptr<RawNode>> Create(const Config& config, const Storage* storage);

  RawNode(const RawNode&) = delete;
  RawNode& operator=(const RawNode&) = delete;

  // Advances logical time by one tick.
  void Tick();
  // Feeds a message received from a peer. Messages for another node, from node 0 or of an
  // unknown type, and what no correct leader sends (an append's entries not following its
  // (index, log_term) one index at a time, or in terms going down or above the message's; a
  // previous entry or a snapshot of a later term than the message's; a snapshot of term 0 or
  // with an impossible configuration; entries in any other message; an append, heartbeat or
  // snapshot of the current term from a node other than the leader this node knows for it,
  // or to a leader: a second leader of one term) are rejected with InvalidArgument, changing
  // nothing; stale ones are ignored (Ok).
  Status Step(const Message& m);
  // Appends `data` to the log if this node is leader. Errors: NotLeader; Busy while a
  // leadership transfer is in progress or with too many uncommitted entries.
  Result<ProposeResult> Propose(std::string data);
  // Appends a membership change (same errors as Propose, plus Busy while another change is
  // uncommitted or before the leader committed an entry of its term, InvalidArgument if the
  // change does not fit the current configuration).
  Result<ProposeResult> ProposeConfChange(const ConfChange& cc);
  // Requests a linearizable read; the answer is a ReadState with the same context in a later
  // Ready. Errors: NotLeader, Busy (too many pending reads).
  Status ReadIndex(std::string context, ReadMode mode);
  // Starts handing leadership to voter `to` (Busy proposals until done or timed out after
  // an election timeout). Errors: NotLeader, InvalidArgument.
  Status TransferLeader(NodeId to);
  // Starts an election now (as if the election timeout fired); no-op for leaders and
  // non-voters.
  void Campaign();

  bool HasReady() const;
  Ready GetReady();
  void Advance(const Ready& ready);

  // --- Status (cheap; for routing, INFO and tests) ---
  NodeId id() const { return cfg_.id; }
  uint64_t term() const { return term_; }
  NodeId vote() const { return vote_; }
  Role role() const { return role_; }
  // Whether a snapshot is being received (chunks arrived, the last not yet).
  bool receiving_snapshot() const { return recv_snap_meta_.has_value(); }
  // Whether this replica is still recovering lost state (Config::recovering).
  bool recovering() const { return recovering_; }
  // Whether its latest campaign was unanimous (Config::accept_data_loss).
  bool unanimous_campaign() const { return unanimous_campaign_; }
  // The app learned that this replica lost nothing after all (a new member of a cluster being
  // formed, whose data directory was fresh for that reason): an ordinary replica at once.
  void EndRecovery() {
    recovering_ = false;
    recovery_term_known_ = true;
    recovery_terms_.clear();
  }
  // The app learned that this replica lost state it had acknowledged (its storage went back
  // in time: a raw copy of a data directory, a disk that dropped fsynced writes; or another
  // of the node's replicas found so, Events::lost_state): it recovers from here on as under
  // Config::recovering (no votes until it learned its term and holds its leader's log again;
  // the app persists the flag). The core calls it itself when a leader's heartbeat names a
  // commit index past the end of this log: the leader only sends what this replica
  // acknowledged, so that much was persisted here once. No-op while recovering.
  void BeginRecovery();
  // Leader: peer `id` lost its state (it rejoins recovering, Config::recovering); what this
  // leader knew of its log is void, so it probes the peer from scratch. Safe at any time: a
  // lower match only delays commits, and the commit index never moves back.
  void ResetProgress(NodeId id);
  NodeId leader() const { return lead_; }
  uint64_t committed() const { return log_.committed(); }
  uint64_t applied() const { return log_.applied(); }
  uint64_t last_index() const { return log_.LastIndex(); }
  uint64_t first_index() const { return log_.FirstIndex(); }
  uint64_t TermAt(uint64_t index) const { return log_.TermOrZero(index); }
  // Membership in effect (the last configuration in the log).
  const ConfState& conf_state() const { return conf_log_.back().second; }
  HardState hard_state() const { return HardState{term_, vote_, log_.committed()}; }
  // True while this leader may serve lease reads.
  bool LeaseValid() const;
  // How many more Tick()s the lease survives (0: not valid now). An application converting
  // this to wall time should subtract one tick (the next Tick may come at any moment).
  uint64_t LeaseRemainingTicks() const;
  NodeId transferee() const { return lead_transferee_; }
  std::vector<PeerStatus> Peers() const;  // empty unless leader

  // Leadership lost or kept without a plan, counted since this node was built (observability
  // only: nothing in the protocol reads them). A planned move (TransferLeader) that completes
  // within an election timeout counts nothing.
  struct Events {
    uint64_t election_timeouts = 0;  // its election timer fired: it (pre-)campaigned
    uint64_t quorum_losses = 0;      // as leader, it stepped down for want of a quorum
    uint64_t transfers_aborted = 0;  // transfers it gave up after an election timeout
    uint64_t lost_state = 0;  // a heartbeat showed it lost acknowledged entries (BeginRecovery)
    // Its leader sent entries that differ from ones it had committed (left unanswered).
    uint64_t commit_conflicts = 0;
  };
  const Events& events() const { return events_; }

 private:
  RawNode(const Config& config, const Storage* storage);
  Status Init();

  // raft_election.cc
  void TickElection();
  void TickHeartbeat();
  void BecomeFollower(uint64_t term, NodeId lead);
  void BecomePreCandidate();
  void BecomeCandidate();
  void BecomeLeader();
  void StartElection(bool pre_vote, bool transfer);
  // A (pre)vote request for `term` to every other voter, carrying our last entry.
  // run_id: a recovering replica's probe names its run (ProbeTermsWhileRecovering), else 0.
  // unanimous: Message::unanimous (Config::accept_data_loss).
  void RequestVotes(MessageType type, uint64_t term, bool force, uint64_t run_id = 0,
                    bool unanimous = false);
  // Grants that win the current campaign: a quorum, or every voter if it is unanimous.
  size_t VotesToWin() const;
  // The term the current campaign asks for: the next one, or, if it is unanimous
  // (Config::accept_data_loss), kLossTermGap to twice that further (unanimous_term_).
  uint64_t CampaignTerm() const;
  static constexpr uint64_t kLossTermGap = 1 << 16;
  void HandleVoteRequest(const Message& m);
  void HandleVoteResponse(const Message& m);
  bool InLease() const;
  // A recovering replica campaigns only if it accepts data loss, and knows its peers' terms.
  bool Promotable() const {
    return conf_state().IsVoter(cfg_.id) &&
           (!recovering_ || (cfg_.accept_data_loss && recovery_term_known_));
  }
  void MaybeEndRecovery();
  void ResetTimers();
  size_t Quorum() const { return conf_state().voters.size() / 2 + 1; }
  bool QuorumActive();

  // raft_replication.cc
  Result<ProposeResult> AppendProposal(EntryType type, std::string data);
  void AppendToLog(std::vector<Entry> ents);
  bool SendAppend(NodeId to, bool send_if_empty);
  void BcastAppend();
  void BcastHeartbeat();
  // An append (below this replica's commit index) whose entries differ from committed ones.
  bool ConflictsWithCommitted(const Message& m) const;
  void HandleAppend(const Message& m);
  void HandleAppendResponse(const Message& m);
  void HandleHeartbeat(const Message& m);
  void HandleHeartbeatResponse(const Message& m);
  bool MaybeCommit();
  void AfterCommit();
  void Send(Message m);

  // raft_snapshot.cc
  void StartSnapshot(NodeId to, Progress& pr);
  void SendSnapshotChunk(NodeId to, Progress& pr);
  void HandleSnapshotChunk(const Message& m);
  void HandleSnapshotResponse(const Message& m);
  bool Restore(Snapshot snap);

  // raft_read.cc
  void AdvanceReads();
  // The largest value v such that a quorum of voters have value_of(voter) >= v (0 if the
  // configuration has no voters); value_of(id) gets this node's id too.
  template <typename F>
  uint64_t QuorumValue(F value_of) const {
    std::vector<uint64_t> vals;
    for (NodeId v : conf_state().voters) vals.push_back(value_of(v));
    if (vals.empty()) return 0;
    std::sort(vals.begin(), vals.end(), std::greater<uint64_t>());
    return vals[Quorum() - 1];
  }
  uint64_t PeerValue(NodeId id, uint64_t Progress::*field) const {
    auto it = prs_.find(id);
    return it == prs_.end() ? 0 : it->second.*field;
  }

  // raft_conf.cc
  Status LoadConfigFromLog();
  void TrackConfChanges(const std::vector<Entry>& ents);
  void ResetConfig(uint64_t index, const ConfState& cs);
  void CompactConfHistory();
  void SyncProgress();
  void SendTimeoutNow(NodeId to);
  void AbortTransfer() { lead_transferee_ = kNoNode; }
  uint64_t LastConfIndex() const { return conf_log_.back().first; }

  uint64_t NextRandom();

  Config cfg_;
  const Storage* storage_;
  RaftLog log_;
  uint64_t rng_state_;

  uint64_t term_ = 0;
  NodeId vote_ = kNoNode;
  NodeId lead_ = kNoNode;
  Role role_ = Role::kFollower;
  int lease_ticks_ = 0;

  uint64_t ticks_ = 1;  // monotonic logical clock (lease arithmetic)
  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_election_timeout_ = 0;
  bool boot_lease_ = true;  // refusing votes for election_tick ticks after start
  Events events_;

  // (index of the conf entry, configuration after it); the first element is the
  // configuration as of the log's start or the last committed change before the tail.
  std::vector<std::pair<uint64_t, ConfState>> conf_log_;

  // Leader state (cleared otherwise).
  std::map<NodeId, Progress> prs_;
  uint64_t term_start_index_ = 0;
  uint64_t leader_since_tick_ = 0;
  bool lease_revoked_ = false;
  NodeId lead_transferee_ = kNoNode;
  bool pending_bcast_ = false;
  struct PendingRead {
    uint64_t seq;
    ReadState state;
  };
  std::deque<PendingRead> pending_reads_;
  uint64_t read_seq_ = 0;

  bool recovering_ = false;  // Config::recovering, until it recovers
  // The next campaign is unanimous (Config::accept_data_loss): always for a recovering replica
  // that accepts data loss; once for an ordinary one that refused a unanimous candidate for
  // its older log (unless it hears of a leader first). And whether the current campaign is.
  bool unanimous_next_ = false;
  bool unanimous_campaign_ = false;
  uint64_t unanimous_term_ = 0;  // the term a unanimous campaign asks for (CampaignTerm)
  // A unanimous winner: the run each voter granted its vote from (Message::run_id; 0 for an
  // ordinary replica), and whether it still needs every one of them to acknowledge an entry
  // of its term, from that same run, before it commits anything: a voter started on another
  // copy since it voted was never judged by its new state (raft_sim seed 910 of the held-link
  // profile with the flag on), so the winner steps down on hearing a run other than the
  // one that voted.
  std::map<NodeId, uint64_t> vote_runs_;
  bool unanimous_commit_pending_ = false;
  // Recovering under accept_data_loss: the term step 1 learned. Its earlier self may have
  // voted in any term up to it, so it grants votes only above it.
  uint64_t vote_floor_ = 0;
  bool CampaignsUnanimously() const {
    return unanimous_next_ || (recovering_ && cfg_.accept_data_loss);
  }
  uint64_t run_id_ = 0;      // Config::run_id (nonzero) while recovering_
  // Started recovering: the highest index known to match the leaders' logs in this run (the
  // commit index it started with, then raised by appends and snapshots); heartbeats commit
  // no further. No limit otherwise.
  uint64_t verified_ = std::numeric_limits<uint64_t>::max();
  // Step 2's end (Config::recovering): the recover_to that the leader of
  // recovery_target_term_ echoed with this run's id, and whether one came; the recovery ends
  // only once that much is committed here.
  uint64_t recovery_target_ = 0;
  uint64_t recovery_target_term_ = 0;
  bool recovery_term_known_ = false;  // step 1 done
  std::map<NodeId, uint64_t> recovery_terms_;  // step 1: highest term heard from each voter
  void NoteTermWhileRecovering(const Message& m);
  // Step 2: an append or snapshot chunk from the leader of the current term.
  void NoteRecoveryTarget(const Message& m);
  // Leader: a response from a peer; a run it has not heard yet resets the peer's progress and
  // fixes where that run's recovery ends (Config::recovering).
  void NotePeerRun(const Message& m);
  // Leader: a response from a voter of its unanimous election in another run than the vote's
  // (vote_runs_): the election judged a state that is gone.
  bool UnanimousVoteVoid(const Message& m) const;
  void ProbeTermsWhileRecovering();

  // Candidate state: votes received this election (true = granted).
  std::map<NodeId, bool> votes_;

  // Follower state: the snapshot being received in chunks: how much of it, and its data
  // unless the app keeps it (Config::stage_snapshot_chunk).
  std::optional<SnapshotMeta> recv_snap_meta_;
  uint64_t recv_snap_size_ = 0;
  bool recv_snap_staged_ = false;
  std::string recv_snap_data_;
  void ResetSnapshotReceive();

  // Output accumulated for the next Ready.
  std::vector<Message> msgs_;
  std::vector<ReadState> read_states_;
  HardState prev_hard_state_;
  SoftState prev_soft_state_;
};

}  // namespace flin::raft

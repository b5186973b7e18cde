#include "cluster/multi_raft.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "cluster/single_node.h"
#include "common/log.h"
#include "common/slot.h"
#include "net/event_loop.h"
#include "protocol/reply_writer.h"
#include "raft/codec.h"

namespace flin::cluster {
namespace {

constexpr size_t kMaxQueuedMessageBytes = 256u << 20;

// Entry payload: proposer's timestamp (i64 LE), then the encoded command.
std::string EncodeEntryData(int64_t ts, const std::string& command) {
  std::string d(8, '\0');
  for (int i = 0; i < 8; ++i) d[i] = static_cast<char>((static_cast<uint64_t>(ts) >> (8 * i)) & 0xff);
  d += command;
  return d;
}

bool DecodeEntryData(std::string_view d, int64_t* ts, std::string_view* command) {
  if (d.size() < 8) return false;
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(d[i])) << (8 * i);
  *ts = static_cast<int64_t>(v);
  *command = d.substr(8);
  return true;
}

// Peer payload: a sequence of (group u16 LE, length u32 LE, encoded raft::Message).
void AppendFrame(std::string* out, int group, const std::string& msg) {
  const uint32_t len = static_cast<uint32_t>(msg.size());
  const char hdr[6] = {static_cast<char>(group & 0xff), static_cast<char>((group >> 8) & 0xff),
                       static_cast<char>(len & 0xff), static_cast<char>((len >> 8) & 0xff),
                       static_cast<char>((len >> 16) & 0xff), static_cast<char>((len >> 24) & 0xff)};
  out->append(hdr, 6);
  out->append(msg);
}

// Messages bound for peers, gathered into payloads per peer (frames as above), each of at
// most kMaxPayloadBytes unless one message alone is larger: a round's appends to one peer
// (up to raft::Config::max_size_per_msg per partition, or one entry) stay under the
// transport's frame limit.
constexpr size_t kMaxPayloadBytes = 16u << 20;
struct PeerPayloads {
  std::map<uint64_t, std::vector<std::string>> by_peer;
  std::string scratch;
  void Add(int group, const raft::Message& m) {
    scratch.clear();
    raft::EncodeMessage(m, &scratch);
    auto& payloads = by_peer[m.to];
    if (payloads.empty() || payloads.back().size() + 6 + scratch.size() > kMaxPayloadBytes) {
      payloads.emplace_back();
    }
    AppendFrame(&payloads.back(), group, scratch);
  }
};

// A leader's messages, which promise nothing about its own disk (see HandleReady, step 0).
bool LeaderMessage(const raft::Message& m) {
  return m.type == raft::MessageType::kAppend || m.type == raft::MessageType::kHeartbeat ||
         m.type == raft::MessageType::kSnapshot || m.type == raft::MessageType::kTimeoutNow;
}

// A write Raft's promises rest on failed (a full or failing disk): the node cannot go on
// without breaking them, and cannot take back what it promised, so it stops. Its data is
// what the last successful write left; restarted once the disk works, it catches up from its
// peers, which go on meanwhile. An exit status, not abort(): this is not a bug.
[[noreturn]] void FailStop(const char* what, const Status& s) {
  LOG_WARNING("%s failed, stopping this node (restart it once the disk works; it catches up "
              "from its peers): %s", what, s.ToString().c_str());
  std::_Exit(3);
}

std::string ErrorReply(int proto, const std::string& msg) {
  std::string r;
  protocol::ReplyWriter(&r, proto).Error(msg);
  return r;
}

}  // namespace

MultiRaftNode::MultiRaftNode(storage::Store* store, StateMachine* sm, Topology topology,
                             MultiRaftOptions options)
    : store_(store),
      sm_(sm),
      topology_(std::move(topology)),
      options_(std::move(options)),
      fsync_(options_.fsync),
      views_(new GroupView[topology_.partitions()]),
      apply_txn_(store) {}

MultiRaftNode::~MultiRaftNode() { Stop(); }

Status MultiRaftNode::Start() {
  groups_.resize(topology_.partitions());
  // Snapshot files are made for one run's followers, received ones are kept only until
  // installed, and an install's SST only until ingested; a crash leaves them behind.
  if (!options_.snapshot_dir.empty()) {
    std::error_code ec;
    for (const auto& f : std::filesystem::directory_iterator(options_.snapshot_dir, ec)) {
      const auto ext = f.path().extension();
      if (ext == ".snap" || ext == ".part" || ext == ".sst") std::filesystem::remove(f.path(), ec);
    }
  }
  LogStoreOptions lo;
  lo.dir = options_.log_dir.empty() ? store_->dir() + "/raft-log" : options_.log_dir;
  lo.segment_bytes = options_.log_segment_bytes;
  auto log = LogStore::Open(lo);
  if (!log.ok()) return log.status();
  log_ = std::move(log).value();
  auto identity = PeerIdentity::Open(store_, topology_.nodes().size());
  if (!identity.ok()) return identity.status();
  identity_ = std::move(identity).value();
  if (options_.restored) {
    Status s = identity_->Reincarnate();
    if (!s.ok()) return s;
    LOG_WARNING("started on a backup: this node rejoins as incarnation %llu, every partition "
                "recovering (it forgot what it promised since the copy)",
                static_cast<unsigned long long>(identity_->incarnation()));
  }
  if (options_.accept_data_loss) {
    LOG_WARNING("accept-data-loss: a partition whose every replica lost what it promised "
                "elects, with every replica's vote, the one that knew the most of its "
                "committed log; writes no replica knew were committed are lost. Restart "
                "without it once every partition has a leader");
  }
  // Peers that moved, where they were last heard to be: dialed and named there from the start.
  for (const auto& [peer, where] : identity_->Addresses()) {
    auto n = ParseNodeAddress(peer, where);
    if (n.ok() && topology_.SetAddress(n.value())) {
      LOG_NOTICE("cluster: node %llu was last heard to be at %s",
                 static_cast<unsigned long long>(peer), where.c_str());
    }
  }
  // A node started on a backup marks every partition recovering (below, one write).
  rocksdb::WriteBatch restored_marks;
  // Names this process to the leaders of its recovering partitions (raft::Config::run_id).
  const uint64_t run_id = PeerIdentity::RandomId();
  // Until its peers say whether it replaces a node that lost its data, a node on a fresh data
  // directory takes no part in elections (its partitions recover).
  const bool unresolved = identity_->verdict() == PeerIdentity::Verdict::kUnresolved;
  for (int p = 0; p < topology_.partitions(); ++p) {
    if (!topology_.Hosts(p)) continue;
    raft::ConfState cs;
    cs.voters = topology_.Replicas(p);
    std::sort(cs.voters.begin(), cs.voters.end());
    auto gs = GroupStorage::Open(store_, log_.get(), p, cs, options_.snapshot_dir);
    if (!gs.ok()) return gs.status();
    auto g = std::make_unique<Group>();
    g->id = p;
    g->storage = std::move(gs).value();
    g->storage->set_snapshot_gate([this] { return MayStartSnapshot(); });
    g->storage->set_snapshot_failed([this, p](const Status& why) {
      snapshot_build_failures_.fetch_add(1, std::memory_order_relaxed);
      uint64_t held = 0;
      if (build_failure_warnings_.Allow(net::MonotonicMs(), &held)) {
        LOG_WARNING("group %d: snapshot failed: %s (and %llu more since the last such warning; "
                    "each partition retries after 1 s, doubling to 30 s; INFO: "
                    "raft_snapshot_build_failures)",
                    p, why.ToString().c_str(), static_cast<unsigned long long>(held));
      }
    });
    g->storage->set_ingest_bytes(options_.snapshot_ingest_bytes);
    // Entry timestamps go on from where this partition's log had got to, and reads judge
    // expiry by at least that (a wall clock set back while the node was down changes nothing).
    g->last_ts = g->storage->applied_clock();
    store_->AdvanceApplyClock(p, g->last_ts);
    raft::Config rc;
    rc.id = topology_.self_id();
    rc.election_tick = options_.election_ticks;
    rc.heartbeat_tick = options_.heartbeat_ticks;
    rc.applied = g->storage->applied();
    // A snapshot from a peer that this node could not install is refused before the core
    // adopts it (adopting it would claim data the partition does not hold).
    rc.accept_snapshot = [gs = g->storage.get(), p](const raft::Snapshot& snap) {
      Status s = gs->ValidateSnapshot(snap);
      if (!s.ok()) LOG_WARNING("group %d: refusing a snapshot: %s", p, s.ToString().c_str());
      return s.ok();
    };
    // A received snapshot goes to a file chunk by chunk, not into memory.
    rc.stage_snapshot_chunk = [this, gs = g->storage.get(), p](const raft::SnapshotMeta& meta,
                                                         uint64_t offset,
                                                         std::string_view data) {
      Result<bool> kept = gs->StageSnapshotChunk(meta, offset, data);
      if (!kept.ok()) {
        // The leader starts the stream over on a later heartbeat: while the disk stays full
        // that is several times a second per partition.
        snapshot_chunks_not_kept_.fetch_add(1, std::memory_order_relaxed);
        uint64_t held = 0;
        if (chunk_failure_warnings_.Allow(net::MonotonicMs(), &held)) {
          LOG_WARNING("group %d: cannot keep a snapshot chunk: %s (and %llu more since the "
                      "last such warning; INFO: raft_snapshot_chunks_not_kept)",
                      p, kept.status().ToString().c_str(), static_cast<unsigned long long>(held));
        }
      }
      return kept;
    };
    if (options_.restored) g->storage->SetRecovering(true, &restored_marks);
    rc.recovering = unresolved || g->storage->recovering();
    rc.accept_data_loss = options_.accept_data_loss;
    rc.seed = topology_.self_id() * 1000003ULL + static_cast<uint64_t>(p) * 7919ULL +
              static_cast<uint64_t>(net::MonotonicUs());
    rc.run_id = run_id;  // this process: no earlier run of this node had it
    auto node = raft::RawNode::Create(rc, g->storage.get());
    if (!node.ok()) return node.status();
    g->node = std::move(node).value();
    if (g->node->recovering()) g->readonly_from = Group::kStillRecovering;
    views_[p].recovering.store(g->node->recovering(), std::memory_order_relaxed);
    // Each partition's preferred leader starts an election at once: leaders begin balanced
    // and a fresh cluster serves within a round trip instead of an election timeout. (Not a
    // recovering one: it campaigns once it may, SettleIdentity.)
    if (topology_.Replicas(p).front() == topology_.self_id()) g->node->Campaign();
    groups_[p] = std::move(g);
  }
  log_->ForgetUnattached();
  if (restored_marks.Count() > 0) {
    // Persisted before the raft thread starts: a crash from here on starts the recovery over.
    Status s = store_->Write(&restored_marks, /*sync=*/true);
    if (!s.ok()) return s;
  }

  TransportOptions to;
  to.node_id = topology_.self_id();
  to.cluster_id = topology_.cluster_id();
  to.fill_handshake = [id = identity_.get(), self = topology_.self(),
                      announced = topology_.announced()](uint64_t peer, Handshake* h) {
    id->FillHandshake(peer, h);
    // A node moved to another address (--announce) says where it is now, so peers that still
    // have the old one find it; one at its listed address says nothing (topology.h).
    if (!announced) return;
    h->host = self.host;
    h->client_port = static_cast<uint16_t>(self.client_port);
    h->bus_port = static_cast<uint16_t>(self.bus_port);
  };
  to.on_handshake = [this](uint64_t peer, const Handshake& h) {
    const NodeInfo listed = *topology_.Listed(peer);
    const NodeInfo at = h.host.empty() ? listed
                                       : NodeInfo{peer, h.host, h.client_port, h.bus_port};
    if (topology_.SetAddress(at)) {
      LOG_NOTICE("cluster: node %llu is at %s (bus port %d) now; clients are sent there",
                 static_cast<unsigned long long>(peer), at.ClientAddress().c_str(), at.bus_port);
      identity_->RememberAddress(peer, at.SameAddress(listed) ? "" : at.Spec());
    }
    Result<bool> replaced = identity_->OnHandshake(peer, h);
    if (!replaced.ok()) FailStop("remembering a peer's data directory", replaced.status());
    if (!replaced.value()) return;
    // In line with its payloads: the old process's messages still queued come before it, and
    // must not restore what the reset forgets (HandleMessages).
    {
      std::lock_guard<std::mutex> lock(mu_);
      messages_.push_back(Inbound{peer, std::string(), true});
    }
    cv_.notify_one();
  };
  to.bind_host = topology_.self().host;
  to.bind_port = topology_.self().bus_port;
  to.max_queue_age_ms_while_down = 2 * options_.election_ticks * options_.tick_ms;
  for (const auto& n : topology_.nodes()) {
    if (n.id == topology_.self_id()) continue;
    const NodeInfo listed = *topology_.Listed(n.id);
    PeerAddress a{n.id, listed.host, listed.bus_port};
    if (!n.SameAddress(listed)) {
      a.moved_host = n.host;
      a.moved_port = n.bus_port;
    }
    to.peers.push_back(a);
  }
  transport_ = std::make_unique<Transport>(to, [this](uint64_t from, std::string&& payload) {
    if (payload.size() >= 6 && static_cast<uint8_t>(payload[0]) == 0xFF &&
        static_cast<uint8_t>(payload[1]) == 0xFF) {
      // A node message (SendNodeMessage): the whole payload is the one item.
      uint32_t len = 0;
      for (int i = 0; i < 4; ++i) {
        len |= static_cast<uint32_t>(static_cast<uint8_t>(payload[2 + i])) << (8 * i);
      }
      if (len != payload.size() - 6) {
        NoteRefused(from, "a node message of the wrong length");
      } else if (node_message_handler_) {
        node_message_handler_(from, std::string_view(payload).substr(6));
      }
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      // Bounded: beyond the bound messages are dropped, which Raft tolerates (it resends).
      if (queued_message_bytes_ + payload.size() > kMaxQueuedMessageBytes) return;
      queued_message_bytes_ += payload.size();
      messages_.push_back(Inbound{from, std::move(payload), false});
    }
    cv_.notify_one();
  });
  if (topology_.nodes().size() > 1) {
    Status s = transport_->Start();
    if (!s.ok()) return s;
  }
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "flin-raft");
    Loop();
  });
  return Status::Ok();
}

void MultiRaftNode::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_one();
  handoff_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (transport_) transport_->Stop();
}

bool MultiRaftNode::SendNodeMessage(uint64_t to, std::string_view body) {
  if (body.size() > UINT32_MAX - 6) return false;
  std::string payload;
  payload.reserve(6 + body.size());
  payload.push_back(static_cast<char>(0xFF));
  payload.push_back(static_cast<char>(0xFF));
  const auto len = static_cast<uint32_t>(body.size());
  for (int i = 0; i < 4; ++i) payload.push_back(static_cast<char>((len >> (8 * i)) & 0xFF));
  payload.append(body);
  return transport_->Send(to, std::move(payload), kNodeMessageQueueBytes);
}

Status MultiRaftNode::Propose(Proposal&& p) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return Status::Unavailable("shutting down");
    if (proposals_.size() >= options_.max_queued) return Status::Busy("write queue full");
    proposals_.push_back(std::move(p));
    if (proposals_.size() > 1) return Status::Ok();
  }
  cv_.notify_one();
  return Status::Ok();
}

Status MultiRaftNode::ProposeBatch(std::vector<Proposal>* batch) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return Status::Unavailable("shutting down");
    if (proposals_.size() + batch->size() > options_.max_queued) return Status::Busy("queue full");
    for (auto& p : *batch) proposals_.push_back(std::move(p));
  }
  batch->clear();
  cv_.notify_one();
  return Status::Ok();
}

void MultiRaftNode::Loop() {
  std::vector<Proposal> proposals;
  std::vector<Inbound> messages;
  tick_time_ms_ = net::MonotonicMs();
  int64_t next_tick = tick_time_ms_ + options_.tick_ms;
  int64_t last_status = 0;
  while (true) {
    bool stopping;
    {
      std::unique_lock<std::mutex> lock(mu_);
      const int64_t wait = std::max<int64_t>(0, next_tick - net::MonotonicMs());
      cv_.wait_for(lock, std::chrono::milliseconds(wait),
                   [this] { return stopping_ || !proposals_.empty() || !messages_.empty(); });
      stopping = stopping_;
      proposals.swap(proposals_);
      messages.swap(messages_);
      queued_message_bytes_ = 0;
    }
    if (stopping) {
      for (auto& g : groups_) {
        if (!g) continue;
        for (auto& h : g->held) proposals.push_back(std::move(h.p));
        g->held.clear();
      }
      held_count_ = held_bytes_ = 0;
      for (auto& p : proposals) Fail(p, "TRYAGAIN the server is shutting down");
      FlushDeliveries();
      break;
    }
    SettleIdentity();
    HandleMessages(messages);
    messages.clear();
    ReleaseHeld(net::MonotonicMs());
    HandleProposals(proposals);
    proposals.clear();
    const int64_t now = net::MonotonicMs();
    // Ticks follow the monotonic clock: the ticks a stall (a slow fsync, a starved CPU, a
    // stopped thread) made this thread miss are all taken now, after the messages that
    // arrived meanwhile, so that a count of ticks always means that much elapsed time. The
    // leader lease and the election timeouts are counted in ticks; skipping missed ticks
    // would stretch a leader's lease past the followers' vote-refusal window. Beyond
    // 4 election timeouts every timeout has fired and the rest are dropped.
    for (int caught = 0; now >= next_tick; ++caught) {
      if (caught < 4 * options_.election_ticks) {
        const bool draining = draining_.load(std::memory_order_relaxed);
        for (auto& g : groups_) {
          // A stopping node does not campaign: its followers' election timers stay still.
          if (g && !(draining && g->node->role() != raft::Role::kLeader)) g->node->Tick();
        }
      }
      tick_time_ms_ = next_tick;
      next_tick += options_.tick_ms;
    }
    HandleReady();
    SyncLogEverySecond(net::MonotonicMs());
    CollectLogGarbage(net::MonotonicMs());
    ExpireProposals(net::MonotonicMs());
    PublishViews();
    if (draining_.load(std::memory_order_relaxed)) {
      HandOff();
    } else if (options_.balance_leaders && now - last_balance_ms_ > 2000) {
      last_balance_ms_ = now;
      BalanceLeaders();
    }
    if (now - last_status > 500) {
      last_status = now;
      size_t recovering = 0;
      for (auto& g : groups_) {
        if (!g) continue;
        recovering += g->node->recovering();
        // A received snapshot's file outlives its stream only if the core gave the stream up
        // (a stream it completed was installed in this round's HandleReady, which removed it).
        if (g->storage->has_incoming() && !g->node->receiving_snapshot()) {
          g->storage->DropIncoming();
        }
      }
      std::string report = "raft_snapshots_in_flight:" + std::to_string(SnapshotsInFlight()) +
                           "\r\nraft_recovering_partitions:" + std::to_string(recovering) +
                           // 1 once a leader showed this run that its data went back in time
                           "\r\nraft_data_went_back:" + std::to_string(state_went_back_) +
                           "\r\nincarnation:" + std::to_string(identity_->incarnation()) +
                           "\r\n";
      for (auto& g : groups_) {
        if (!g) continue;
        const raft::RawNode& n = *g->node;
        report += "partition_" + std::to_string(g->id) + ":role=" + raft::RoleName(n.role()) +
                  ",leader=" + std::to_string(n.leader()) + ",term=" + std::to_string(n.term()) +
                  ",commit=" + std::to_string(n.committed()) +
                  ",applied=" + std::to_string(g->storage->applied()) +
                  ",first_index=" + std::to_string(g->storage->FirstIndex()) +
                  (n.recovering() ? ",recovering=1" : "");
        uint64_t max_lag = 0;
        for (const auto& peer : n.Peers()) {
          if (peer.id == topology_.self_id()) continue;
          max_lag = std::max(max_lag, n.last_index() - std::min(peer.match, n.last_index()));
        }
        if (n.role() == raft::Role::kLeader) {
          report += ",max_follower_lag=" + std::to_string(max_lag) +
                    ",lease_ticks=" + std::to_string(n.LeaseRemainingTicks());
        }
        report += "\r\n";
      }
      std::lock_guard<std::mutex> lock(status_mu_);
      status_.swap(report);
    }
  }
}

void MultiRaftNode::HandleMessages(std::vector<Inbound>& inbox) {
  for (auto& [from, payload, peer_replaced] : inbox) {
    if (peer_replaced) {
      // What the partitions this node leads knew of the peer's log was lost with its data; an
      // idle partition would otherwise never send it an entry.
      for (auto& g : groups_) {
        if (g) g->node->ResetProgress(from);
      }
      continue;
    }
    std::string_view in = payload;
    while (in.size() >= 6) {
      const int group = static_cast<uint8_t>(in[0]) | (static_cast<uint8_t>(in[1]) << 8);
      uint32_t len = 0;
      for (int i = 0; i < 4; ++i) len |= static_cast<uint32_t>(static_cast<uint8_t>(in[2 + i])) << (8 * i);
      in.remove_prefix(6);
      if (len > in.size()) {
        NoteRefused(from, "a truncated payload");  // and the rest of it
        break;
      }
      auto m = raft::DecodeMessage(in.substr(0, len));
      in.remove_prefix(len);
      if (!m.ok()) {
        NoteRefused(from, "a message that does not decode: " + m.status().ToString());
        continue;
      }
      if (group >= static_cast<int>(groups_.size()) || !groups_[group] || m->from != from ||
          m->to != topology_.self_id()) {
        NoteRefused(from, "a message for a partition this node does not host, or not from its "
                          "sender or not to this node");
        continue;
      }
      if (m->type == raft::MessageType::kTimeoutNow) {
        // Draining: leadership offered to this node is refused (the sender's transfer times
        // out, as for a dead transferee). Else, a partition's preferred node handing its
        // leadership here is draining: remember not to balance it back.
        if (draining_.load(std::memory_order_relaxed)) continue;
        const uint64_t preferred = topology_.Replicas(group).front();
        if (from == preferred) NoteDeclined(*groups_[group], preferred);
      }
      Group& g = *groups_[group];
      const uint64_t lost = g.node->events().lost_state;
      const uint64_t conflicts = g.node->events().commit_conflicts;
      const Status stepped = g.node->Step(m.value());
      if (!stepped.ok()) {
        NoteRefused(from, "partition " + std::to_string(g.id) + ": " + stepped.ToString());
      }
      if (g.node->events().lost_state != lost) NoteStateWentBack(g, from);
      if (g.node->events().commit_conflicts != conflicts && conflicts == 0) {
        LOG_WARNING("group %d: leader %llu's log differs from entries this replica committed; "
                    "it no longer follows (a backup from another history? see docs/DESIGN.md)",
                    g.id, static_cast<unsigned long long>(from));
      }
    }
  }
}

// -MOVED to `leader` (0: none known; self: this node led the partition when the request was
// routed here, and does no more), else NoLeaderError. It names the request's slot (`slot`,
// or the partition's first if unknown), as the -MOVED the I/O thread answers does.
std::string MultiRaftNode::Redirect(int partition, uint64_t leader, int slot) const {
  if (slot < 0) slot = PartitionFirstSlot(partition, topology_.partitions());
  if (leader == 0 || leader == topology_.self_id()) return NoLeaderError(partition);
  const std::optional<NodeInfo> n = topology_.Find(leader);
  if (!n) return "CLUSTERDOWN unknown leader";
  return "MOVED " + std::to_string(slot) + " " + n->ClientAddress();
}

// When NoLeaderError starts answering -CLUSTERDOWN: two election timeouts after this node last
// knew the partition's leader (0: it never knew one).
int64_t MultiRaftNode::ElectionWindowEnd(int partition) const {
  const int64_t seen = views_[partition].leader_seen_ms.load(std::memory_order_relaxed);
  return seen == 0 ? 0 : seen + 2LL * options_.election_ticks * options_.tick_ms;
}

bool MultiRaftNode::ElectionWindowOpen(int partition) const {
  if (partition < 0 || partition >= topology_.partitions() || !topology_.Hosts(partition)) {
    return false;
  }
  return net::MonotonicMs() <= ElectionWindowEnd(partition);
}

std::string EntryTooLargeError(size_t max_entry_bytes) {
  return "ERR a replicated write may carry at most " + std::to_string(max_entry_bytes) +
         " bytes (raft-entry-max-bytes)";
}

std::string MultiRaftNode::NoLeaderError(int partition) const {
  if (net::MonotonicMs() <= ElectionWindowEnd(partition)) {
    return "TRYAGAIN partition " + std::to_string(partition) + " is electing a leader";
  }
  return "CLUSTERDOWN partition " + std::to_string(partition) + " has no leader right now";
}

void MultiRaftNode::Fail(Proposal& p, const std::string& error) {
  if (p.sink) Deliver(p.sink, p.conn_id, p.seq, ErrorReply(p.proto, error));
}

void MultiRaftNode::HandleProposals(std::vector<Proposal>& proposals) {
  const int64_t now = net::MonotonicMs();
  for (auto& p : proposals) Submit(p, now, 0);
}

// Proposes p to the group of its partition if this node leads it; else answers -MOVED to the
// leader it knows. While the partition's leadership moves — no leader known, but one was
// moments ago (an election, mostly a planned transfer); or this leader handing over — the
// proposal waits in the group's held queue instead of failing, and ReleaseHeld submits it again
// each round. A planned move takes milliseconds: clients see an answer a little later instead
// of an error. Each round decides afresh, so a proposal held through a transfer that ends in an
// election is held through that election too (the transfer, the old leader stepping down and
// the new one's election each take their own time: a slow disk stretches every step by an
// fsync); but no proposal is held longer than MaxHoldMs in all. Nothing held was appended to a
// log, so whatever error a held proposal ends with, it certainly did not happen.
// held_since: 0 for a new proposal, else when it was first held.
void MultiRaftNode::Submit(Proposal& p, int64_t now_ms, int64_t held_since) {
  if (p.partition < 0 || p.partition >= static_cast<int>(groups_.size()) ||
      !groups_[p.partition]) {
    Fail(p, p.partition < 0
                ? "ERR a cluster write must name one partition"
                : Redirect(p.partition, views_[p.partition].leader.load(std::memory_order_relaxed),
                           p.slot));
    return;
  }
  if (p.command.size() > options_.max_entry_bytes) {  // the I/O threads refuse these first
    Fail(p, EntryTooLargeError(options_.max_entry_bytes));
    return;
  }
  Group& g = *groups_[p.partition];
  if (g.node->role() != raft::Role::kLeader) {
    const uint64_t leader = g.node->leader();
    // An election under way: a leader was known within two election timeouts.
    if (leader == 0 && now_ms <= ElectionWindowEnd(g.id) && Hold(g, p, held_since, now_ms)) {
      return;
    }
    Fail(p, Redirect(p.partition, leader, p.slot));
    return;
  }
  g.last_ts = std::max(g.last_ts, UnixMs());  // the entry's wall-clock timestamp (expiry)
  auto r = g.node->Propose(EncodeEntryData(g.last_ts, p.command));
  if (!r.ok()) {
    // A transfer in progress (the core ends it within an election timeout, done or not).
    if (g.node->transferee() != 0 && Hold(g, p, held_since, now_ms)) return;
    Fail(p, r.status().code() == Status::Code::kNotLeader
                ? Redirect(p.partition, g.node->leader(), p.slot)
                : "TRYAGAIN " + r.status().message());
    return;
  }
  if (p.sink) {
    g.pending[r->index] = Group::Pending{r->term, p.proto, p.sink, p.conn_id, p.seq,
                                         now_ms + options_.proposal_timeout_ms};
  }
}

// The longest a proposal is held: a transfer (at most an election timeout) and then the
// election window after the old leader stepped down (two more).
int64_t MultiRaftNode::MaxHoldMs() const {
  return 3LL * options_.election_ticks * options_.tick_ms;
}

// Queues p in g's held queue, first held at held_since (0: a new proposal, held from now).
// False, leaving p alone, if it has been held MaxHoldMs already or (a new one) the queues are
// full (max_held proposals or max_held_bytes of commands on this node).
bool MultiRaftNode::Hold(Group& g, Proposal& p, int64_t held_since, int64_t now_ms) {
  if (held_since != 0 && now_ms - held_since >= MaxHoldMs()) return false;
  if (held_since == 0 && (held_count_ >= options_.max_held ||
                          held_bytes_ + p.command.size() > options_.max_held_bytes)) {
    return false;
  }
  ++held_count_;
  held_bytes_ += p.command.size();
  g.held.push_back(Group::Held{std::move(p), held_since != 0 ? held_since : now_ms});
  return true;
}

// Submits every held proposal again, oldest first (before the round's new proposals, so that
// a client's writes to one partition keep their order).
void MultiRaftNode::ReleaseHeld(int64_t now_ms) {
  if (held_count_ == 0) return;
  for (auto& g : groups_) {
    if (!g || g->held.empty()) continue;
    std::deque<Group::Held> held;
    held.swap(g->held);
    for (auto& h : held) {
      --held_count_;
      held_bytes_ -= h.p.command.size();
      Submit(h.p, now_ms, h.since_ms);
    }
  }
}

void MultiRaftNode::HandleReady() {
  struct Item {
    Group* g;
    raft::Ready r;
    size_t early;  // committed entries [0, early) are durable already: apply before the write
  };
  std::vector<Item> items;
  for (auto& g : groups_) {
    if (!g || !g->node->HasReady()) continue;
    Item item{g.get(), g->node->GetReady(), 0};
    // Committed entries this node had persisted before this Ready can be applied (and their
    // clients answered) before this round's fsync instead of after it; entries of this Ready
    // itself, or at/after an overwrite or a snapshot, wait for the write.
    if (!item.r.snapshot) {
      uint64_t durable = g->storage->LastIndex();
      if (!item.r.entries.empty()) durable = std::min(durable, item.r.entries.front().index - 1);
      while (item.early < item.r.committed_entries.size() &&
             item.r.committed_entries[item.early].index <= durable) {
        ++item.early;
      }
    }
    items.push_back(std::move(item));
  }
  if (items.empty()) return;

  // 0. A leader's appends and heartbeats go out before its own fsync, so the followers' disks
  // work while the leader's does (Raft thesis 10.2.1). Safe here: they promise nothing about
  // the leader's disk, and an entry is only counted committed from acknowledgements handled
  // in a later round, after this round's write has completed. Not when the term or vote
  // changes in this Ready, and never a follower's or candidate's messages (acknowledgements
  // and votes promise what is being written).
  auto send = [this](PeerPayloads& payloads) {
    for (auto& [to, list] : payloads.by_peer) {
      for (auto& payload : list) transport_->Send(to, std::move(payload));
    }
  };
  PeerPayloads first;
  for (auto& it : items) {
    if (it.r.hard_state && it.g->storage->ChangesTermOrVote(*it.r.hard_state)) continue;
    auto& msgs = it.r.messages;
    auto rest = std::stable_partition(msgs.begin(), msgs.end(), LeaderMessage);
    for (auto m = msgs.begin(); m != rest; ++m) first.Add(it.g->id, *m);
    msgs.erase(msgs.begin(), rest);
  }
  send(first);

  // 1. Apply what is already durable.
  std::vector<std::pair<Group*, std::span<const raft::Entry>>> batch;
  for (auto& it : items) {
    batch.emplace_back(it.g, std::span<const raft::Entry>(it.r.committed_entries.data(), it.early));
  }
  ApplyEntries(batch);

  // 2. Everything the groups must remember, in one write: one fsync for all partitions.
  rocksdb::WriteBatch wb;
  bool must_sync = false, safety = false;  // safety: a term, vote or recovering mark changes
  bool appended = false, installed = false;
  for (auto& [g, r, early] : items) {
    if (r.snapshot) {
      // Into this round's write (a small partition), or durable on return (a large one, an SST
      // ingested); either way the entries and hard state that follow it in this Ready go into
      // the round's write, after it.
      const int64_t started = net::MonotonicMs();
      Status s = g->storage->InstallSnapshot(*r.snapshot, r.hard_state ? &*r.hard_state : nullptr,
                                             &wb);
      // Validated before the core adopted it (accept_snapshot), so this cannot fail on the
      // data; if it fails anyway (the disk), going on would leave the partition without the
      // data the core now believes it holds.
      if (!s.ok()) FailStop("installing a snapshot", s);
      LOG_NOTICE("group %d: installed snapshot at index %llu in %lld ms", g->id,
                 static_cast<unsigned long long>(r.snapshot->meta.index),
                 static_cast<long long>(net::MonotonicMs() - started));
      // The partition's clock as of the snapshot: entries go on from it, and reads judge
      // expiry by at least it (as after a restart).
      g->last_ts = std::max(g->last_ts, g->storage->applied_clock());
      store_->AdvanceApplyClock(g->id, g->last_ts);
      installed = true;
    }
    must_sync = must_sync || !r.entries.empty() || r.snapshot.has_value();
    appended = appended || !r.entries.empty();
    g->storage->Append(r.entries);
    // Recovered (raft::Config::recovering): forgotten with the entries that ended it.
    if (g->storage->recovering() && !g->node->recovering()) g->storage->SetRecovering(false, &wb);
    // Began recovering (NoteStateWentBack): durable before anything it answers leaves.
    if (state_went_back_ && g->node->recovering() && !g->storage->recovering()) {
      g->storage->SetRecovering(true, &wb);
      must_sync = safety = true;
    }
    if (r.hard_state && g->storage->SetHardState(*r.hard_state, &wb)) must_sync = safety = true;
  }
  if (wb.Count() > 0 || appended) {
    const int64_t started = net::MonotonicMs();
    const bool sync = ShouldSyncLog(must_sync, safety, started);
    // RocksDB's part first: a term or vote must never be older on disk than entries of that
    // term, and a snapshot's new log generation must be there before entries of it count.
    if (wb.Count() > 0) {
      Status s = store_->Write(&wb, sync);
      if (!s.ok()) FailStop("the Raft state write", s);
    }
    // A synced round syncs the log even if it appended nothing: it marks the log synced
    // below, and entries written unsynced in earlier rounds (everysec) would otherwise stay
    // so until some later round appends again — and RocksDB's part, just synced, may hold
    // applies and a commit index that count on them.
    if (appended || (sync && log_unsynced_)) {
      Status s = log_->Sync(sync);
      if (!s.ok()) FailStop("the Raft log write", s);
    }
    if (sync) {
      log_unsynced_ = false;
      last_log_sync_ms_ = started;
      NoteLogSync(net::MonotonicMs() - started);
    } else if (must_sync) {
      log_unsynced_ = true;
    }
  }
  if (installed) sm_->DataReplaced();  // readable now
  // 3. Messages, one payload per peer (only now: they may promise what was just written).
  PeerPayloads out;
  for (auto& [g, r, early] : items) {
    for (const auto& m : r.messages) out.Add(g->id, m);
  }
  send(out);
  // 4. Apply the rest, then Advance.
  batch.clear();
  for (auto& it : items) {
    batch.emplace_back(it.g, std::span<const raft::Entry>(it.r.committed_entries).subspan(it.early));
  }
  ApplyEntries(batch);
  for (auto& [g, r, early] : items) {
    g->node->Advance(r);
    MaybeCompact(*g);
  }
}

// Applies committed entries of several groups in one WriteTxn (each group's applied index in
// the same batch as its data) and answers the proposals they complete.
void MultiRaftNode::ApplyEntries(
    const std::vector<std::pair<Group*, std::span<const raft::Entry>>>& batch) {
  storage::WriteTxn& txn = apply_txn_;
  bool applied_any = false;
  for (auto& [g, entries] : batch) {
    if (entries.empty()) continue;
    applied_any = true;
    for (const auto& e : entries) {
      auto it = g->pending.find(e.index);
      Group::Pending* pending = nullptr;
      if (it != g->pending.end()) {
        if (it->second.term == e.term) {
          pending = &it->second;
        } else {
          // Another leader's entry took this index: our proposal was never committed.
          Deliver(it->second.sink, it->second.conn_id, it->second.seq,
                  ErrorReply(it->second.proto, "TRYAGAIN leadership changed, write not applied"));
          g->pending.erase(it);
          it = g->pending.end();
        }
      }
      int64_t ts;
      std::string_view command;
      if (e.type == raft::EntryType::kNormal && DecodeEntryData(e.data, &ts, &command)) {
        g->last_ts = std::max(g->last_ts, ts);
        std::string reply;
        protocol::ReplyWriter w(&reply, pending ? pending->proto : 2);
        sm_->SetWriter(pending ? pending->conn_id : 0);
        sm_->Apply(txn, g->id, ts, command, pending ? &w : nullptr);
        if (pending) {
          if (pending->sink) {
            deliveries_[pending->sink].push_back(Completion{pending->conn_id, pending->seq,
                                                            std::move(reply), g->id, e.term,
                                                            e.index});
          }
          g->pending.erase(it);
        }
        store_->AdvanceApplyClock(g->id, ts);
      } else if (pending) {
        Deliver(pending->sink, pending->conn_id, pending->seq,
                ErrorReply(pending->proto, "ERR not applied"));
        g->pending.erase(it);
      }
    }
    raft::SnapshotMeta at;
    at.index = entries.back().index;
    at.term = entries.back().term;
    at.conf_state = g->node->conf_state();
    txn.PutRaw(GroupMetaKey('a', g->id), GroupStorage::AppliedValue(at, g->last_ts));
    g->storage->set_applied(at.index, at.conf_state, g->last_ts);
  }
  if (!applied_any) return;
  Status s = txn.Commit(false);  // the log is durable: a lost apply is redone on restart
  if (!s.ok()) FailStop("the apply write", s);
  sm_->AfterCommit(true);
  FlushDeliveries();
}

void MultiRaftNode::MaybeCompact(Group& g) {
  const uint64_t applied = g.storage->applied();
  if (applied < g.storage->FirstIndex() + options_.snapshot_entries) return;
  uint64_t to = applied - std::min(applied, options_.keep_entries);
  // Not past a snapshot being built, or streamed to a follower: the follower installing it
  // goes on from its index with the log, and a compaction past it would make it useless on
  // arrival (under steady writes, every one after it too).
  bool streaming = false;
  for (const auto& peer : g.node->Peers()) streaming |= peer.state == raft::ProgressState::kSnapshot;
  to = std::min(to, g.storage->SnapshotInUse(streaming));
  rocksdb::WriteBatch wb;
  g.storage->Compact(to, &wb);
  if (wb.Count() > 0) store_->Write(&wb, false).ok();
}

void MultiRaftNode::ExpireProposals(int64_t now_ms) {
  for (auto& g : groups_) {
    if (!g) continue;
    for (auto it = g->pending.begin(); it != g->pending.end();) {
      if (it->second.deadline_ms > now_ms) {
        ++it;
        continue;
      }
      Deliver(it->second.sink, it->second.conn_id, it->second.seq,
              ErrorReply(it->second.proto,
                         "TIMEOUT the write was not confirmed in time; it may or may not apply"));
      it = g->pending.erase(it);
    }
  }
  FlushDeliveries();
}

void MultiRaftNode::PublishViews() {
  // A leader may serve reads locally while its lease holds and it has applied everything it
  // committed in its own term. The lease, counted in ticks by the core, is published as a
  // monotonic deadline one tick short of its end (the next tick may come at any moment); if
  // this thread stalls, the deadline passes on its own and reads stop being served locally.
  // Counted from the time the current tick stands for, not from now: this round's write may
  // have taken a while since the last tick.
  const int64_t tick_us = tick_time_ms_ * 1000;
  raft::RawNode::Events events;  // summed over the groups, for INFO
  const bool watching = replication_watchers_.load(std::memory_order_relaxed) > 0;
  for (auto& g : groups_) {
    if (!g) continue;
    const raft::RawNode& n = *g->node;
    events.election_timeouts += n.events().election_timeouts;
    events.quorum_losses += n.events().quorum_losses;
    events.transfers_aborted += n.events().transfers_aborted;
    GroupView& v = views_[g->id];
    if (v.leader.load(std::memory_order_relaxed) != n.leader() ||
        v.term.load(std::memory_order_relaxed) != n.term()) {
      LOG_DEBUG("group %d: term %llu, %s, leader %llu", g->id,
                static_cast<unsigned long long>(n.term()), raft::RoleName(n.role()),
                static_cast<unsigned long long>(n.leader()));
    }
    if (v.leader.load(std::memory_order_relaxed) != n.leader()) {
      store_->SetRowCacheAdmitsWrites(g->id, n.role() == raft::Role::kLeader);
    }
    v.leader.store(n.leader(), std::memory_order_relaxed);
    if (n.leader() != 0) v.leader_seen_ms.store(tick_time_ms_, std::memory_order_relaxed);
    v.term.store(n.term(), std::memory_order_relaxed);
    if (n.recovering()) {
      g->readonly_from = Group::kStillRecovering;
    } else if (g->readonly_from == Group::kStillRecovering) {
      g->readonly_from = n.committed();  // recovered: readable once that much is applied
    }
    if (g->readonly_from != 0 && g->storage->applied() >= g->readonly_from) g->readonly_from = 0;
    v.recovering.store(g->readonly_from != 0, std::memory_order_relaxed);
    const uint64_t lease_ticks = n.LeaseRemainingTicks();
    const bool readable = lease_ticks > 1 && n.TermAt(n.committed()) == n.term() &&
                          g->storage->applied() >= n.committed() &&
                          n.transferee() == raft::kNoNode;  // see StartTransfer
    const int64_t until =
        tick_us + static_cast<int64_t>(lease_ticks - 1) * options_.tick_ms * 1000;
    v.lease_until_us.store(readable ? until : 0, std::memory_order_release);
    if (watching) {
      std::lock_guard<std::mutex> lock(v.progress_mu);
      v.follower_match.clear();
      v.progress_term = n.role() == raft::Role::kLeader ? n.term() : 0;
      if (v.progress_term != 0) {
        for (const auto& peer : n.Peers()) {  // the leader's own progress among them
          if (!peer.learner && peer.id != topology_.self_id()) {
            v.follower_match.push_back(peer.match);
          }
        }
      }
    }
  }
  election_timeouts_.store(events.election_timeouts, std::memory_order_relaxed);
  quorum_losses_.store(events.quorum_losses, std::memory_order_relaxed);
  transfers_aborted_.store(events.transfers_aborted, std::memory_order_relaxed);
}

int MultiRaftNode::FollowersHolding(int partition, uint64_t term, uint64_t index) const {
  if (partition < 0 || partition >= topology_.partitions()) return -1;
  const GroupView& v = views_[partition];
  std::lock_guard<std::mutex> lock(v.progress_mu);
  if (v.progress_term == 0 || v.progress_term < term) return -1;
  int n = 0;
  for (uint64_t match : v.follower_match) n += match >= index ? 1 : 0;
  return n;
}

std::vector<uint64_t> MultiRaftNode::ConnectedPeers() const {
  std::vector<uint64_t> connected;
  for (const auto& p : transport_->Peers()) {
    if (p.connected) connected.push_back(p.id);
  }
  return connected;
}

void MultiRaftNode::BalanceLeaders() {
  const std::vector<Transport::PeerState> peers = transport_->Peers();
  const int64_t now = net::MonotonicMs();
  for (auto& g : groups_) {
    if (!g || g->node->role() != raft::Role::kLeader) continue;
    const uint64_t preferred = topology_.Replicas(g->id).front();
    if (preferred == topology_.self_id()) continue;
    // A dead node can look caught up while nothing is written; a failed transfer costs the
    // leader its lease for the rest of the term. So: only to a node we are connected to.
    auto ps = std::find_if(peers.begin(), peers.end(),
                           [&](const Transport::PeerState& p) { return p.id == preferred; });
    if (ps == peers.end() || !ps->connected) {
      g->declined_until_ms = 0;  // it went away: once back, a new process that wants its share
      continue;
    }
    if (now < g->declined_until_ms && ps->connects == g->declined_connects) continue;
    g->declined_until_ms = 0;
    for (const auto& peer : g->node->Peers()) {
      if (peer.id == preferred && peer.match == g->node->last_index()) {
        StartTransfer(*g, preferred);
      }
    }
  }
}

void MultiRaftNode::NoteDeclined(Group& g, uint64_t preferred) {
  for (const auto& p : transport_->Peers()) {
    if (p.id != preferred) continue;
    g.declined_connects = p.connects;
    g.declined_until_ms = net::MonotonicMs() + 60000;
  }
}

int MultiRaftNode::HandOffLeadership() {
  if (topology_.nodes().size() < 2) return 0;  // nobody to hand anything to
  // Each transfer is bounded by the core (an election timeout); this bounds the whole, which
  // a loaded machine may stretch over many rounds.
  const auto deadline = std::chrono::steady_clock::now() +
      std::chrono::milliseconds(10LL * options_.election_ticks * options_.tick_ms);
  std::unique_lock<std::mutex> lock(mu_);
  draining_.store(true, std::memory_order_relaxed);
  handoff_reported_ = false;
  cv_.notify_one();
  handoff_cv_.wait_until(lock, deadline, [this] {
    return stopping_ || (handoff_reported_ && (handoff_leading_ == 0 || handoff_movable_ == 0));
  });
  return handoff_reported_ ? handoff_leading_ : -1;
}

void MultiRaftNode::StartTransfer(Group& g, uint64_t to) {
  // The core stops its lease when it sends TimeoutNow, but that message leaves early in the
  // next round (before its fsync) while the lease published at the end of this round would
  // let the I/O threads read locally until that next round ends, long after the transferee
  // may have won and committed (a slow fsync: stale reads, found by review in session 11).
  // So the published lease goes now, and PublishViews keeps it off while the transfer lasts.
  views_[g.id].lease_until_us.store(0, std::memory_order_seq_cst);
  g.node->TransferLeader(to).ok();
}

// Raft thread, every round while draining: each partition this node leads is handed to the
// most caught-up voter that is connected (its preferred node among equals, else one chosen by
// partition so that they spread). A transfer the core gave up (after an election timeout: the
// peer stalled, is recovering, or is stopping too) is retried a round later, so that what was
// held meanwhile is proposed in between, with another candidate if there is one; after three
// attempts the partition is left to an election. (No filter on recent heartbeat answers: after
// a stall of this thread every peer would look silent for a round, and the wait would end.)
void MultiRaftNode::HandOff() {
  const std::vector<uint64_t> connected = ConnectedPeers();
  int leading = 0, movable = 0;
  for (auto& g : groups_) {
    if (!g || g->node->role() != raft::Role::kLeader) continue;
    ++leading;
    if (g->node->transferee() != raft::kNoNode) {
      ++movable;  // under way
      continue;
    }
    if (g->handoff_attempts >= 3) continue;
    if (g->handoff_attempts > 0 && !g->handoff_paused) {
      g->handoff_paused = true;  // the last attempt was given up: one round for held requests
      ++movable;
      continue;
    }
    g->handoff_paused = false;
    std::vector<raft::PeerStatus> candidates;
    for (const auto& peer : g->node->Peers()) {
      if (peer.id == topology_.self_id() || peer.learner ||
          std::find(connected.begin(), connected.end(), peer.id) == connected.end()) {
        continue;
      }
      candidates.push_back(peer);
    }
    if (candidates.size() > 1) {  // the one that just let a transfer time out goes last
      std::erase_if(candidates, [&](const raft::PeerStatus& p) { return p.id == g->handoff_to; });
    }
    if (candidates.empty()) continue;
    uint64_t best_match = 0;
    for (const auto& p : candidates) best_match = std::max(best_match, p.match);
    std::erase_if(candidates, [&](const raft::PeerStatus& p) { return p.match < best_match; });
    const uint64_t preferred = topology_.Replicas(g->id).front();
    uint64_t to = candidates[g->id % candidates.size()].id;
    for (const auto& p : candidates) {
      if (p.id == preferred) to = p.id;
    }
    ++movable;
    ++g->handoff_attempts;
    g->handoff_to = to;
    StartTransfer(*g, to);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    handoff_reported_ = true;
    handoff_leading_ = leading;
    handoff_movable_ = movable;
  }
  handoff_cv_.notify_all();
}

void MultiRaftNode::Deliver(CompletionSink* sink, uint64_t conn_id, uint64_t seq,
                            std::string reply) {
  if (sink) deliveries_[sink].push_back(Completion{conn_id, seq, std::move(reply)});
}

void MultiRaftNode::FlushDeliveries() {
  for (auto& [sink, completions] : deliveries_) sink->Complete(std::move(completions));
  deliveries_.clear();
}

bool MultiRaftNode::ShouldSyncLog(bool must_sync, bool safety, int64_t now_ms) const {
  switch (fsync_.load(std::memory_order_relaxed)) {
    case FsyncPolicy::kAlways:
      return must_sync;
    case FsyncPolicy::kEverySec:
      // A vote or term forgotten in a power cut could elect two leaders of one term; those
      // are rare (elections) and synced at once. Entries wait up to a second, as Redis's
      // appendfsync everysec: what a power cut of a majority (or of one node, with another
      // failure within the second) loses is bounded by that second.
      return safety || ((must_sync || log_unsynced_) && now_ms - last_log_sync_ms_ >= 1000);
    case FsyncPolicy::kNo:
      return false;
  }
  return true;
}

void MultiRaftNode::SyncLogEverySecond(int64_t now_ms) {
  if (!log_unsynced_ || fsync_.load(std::memory_order_relaxed) != FsyncPolicy::kEverySec ||
      now_ms - last_log_sync_ms_ < 1000) {
    return;
  }
  Status s = store_->SyncWal();  // hard states, marks and installs written since
  if (s.ok()) s = log_->Sync(true);
  if (!s.ok()) FailStop("the Raft log sync", s);
  log_unsynced_ = false;
  last_log_sync_ms_ = now_ms;
  NoteLogSync(net::MonotonicMs() - now_ms);
}

void MultiRaftNode::CollectLogGarbage(int64_t now_ms) {
  log_segments_.store(log_->segments(), std::memory_order_relaxed);
  if (now_ms - last_log_gc_ms_ < 1000 || log_->segments() < 2) return;
  last_log_gc_ms_ = now_ms;
  // Idle partitions' few entries in the oldest segment would keep it, and so every later one.
  auto moved = log_->Relocate(8u << 20);
  if (!moved.ok()) FailStop("rewriting the Raft log", moved.status());
  if (moved.value() == 0 && log_->garbage_segments() == 0) return;
  // The compaction points (and the applies below them) durable before the entries go, and the
  // rewritten entries before their old copies do.
  Status s = store_->SyncWal();
  if (s.ok()) s = log_->Sync(true);
  const size_t before = log_->segments();
  if (s.ok()) s = log_->CollectGarbage();
  if (!s.ok()) FailStop("collecting the Raft log's segments", s);
  log_segments_deleted_.fetch_add(before - log_->segments(), std::memory_order_relaxed);
  log_segments_.store(log_->segments(), std::memory_order_relaxed);
}

// A disk whose fsync takes a good part of the election timeout costs the cluster its leaders
// (every step of an election and of a transfer waits for one: with 30 ms ticks, fsyncs of
// 100 ms lost leaders in a fresh cluster, 75 ms did not). Counts a log write that took over a
// quarter of the shortest election timeout, and says so in the log at most once a minute.
void MultiRaftNode::NoteLogSync(int64_t ms) {
  if (ms > log_sync_max_ms_.load(std::memory_order_relaxed)) {
    log_sync_max_ms_.store(ms, std::memory_order_relaxed);
  }
  const int64_t election_ms = static_cast<int64_t>(options_.election_ticks) * options_.tick_ms;
  if (ms * 4 <= election_ms) return;
  slow_log_syncs_.fetch_add(1, std::memory_order_relaxed);
  uint64_t held = 0;
  if (!slow_sync_warnings_.Allow(net::MonotonicMs(), &held)) return;
  LOG_WARNING("a Raft log write with fsync took %lld ms, over a quarter of the election timeout "
              "(%lld ms): a disk this slow can cost partitions their leaders; a longer "
              "--raft-tick-ms lengthens the timeout (INFO: raft_slow_log_syncs)",
              static_cast<long long>(ms), static_cast<long long>(election_ms));
}

// Messages no correct peer sends are dropped unanswered (their sender is a node with a bug or
// of an incompatible version, or a term was reused: raft::RawNode::Step): counted, and named
// in a warning at most once a minute (whose text tests/jepsen/harness.py looks for). Raft
// thread.
void MultiRaftNode::NoteRefused(uint64_t from, const std::string& what) {
  peer_messages_refused_.fetch_add(1, std::memory_order_relaxed);
  uint64_t held = 0;
  if (!refused_warnings_.Allow(net::MonotonicMs(), &held)) return;
  LOG_WARNING("refused %llu message(s) from peers since the last such warning; the latest, from "
              "node %llu: %s (INFO: raft_peer_messages_refused)",
              static_cast<unsigned long long>(held + 1),
              static_cast<unsigned long long>(from), what.c_str());
}

// Snapshots being built, and streams of one to a follower whose connection is up and that
// answered a heartbeat within an election timeout (a stream to a node that went away, or that
// stopped — a paused process keeps its connections — holds no place). Raft thread.
size_t MultiRaftNode::SnapshotsInFlight() const {
  const std::vector<uint64_t> connected = ConnectedPeers();
  const auto live = static_cast<uint64_t>(options_.election_ticks);
  size_t n = 0;
  for (const auto& g : groups_) {
    if (!g) continue;
    if (g->storage->building_snapshot()) ++n;
    if (g->node->role() != raft::Role::kLeader) continue;
    for (const auto& peer : g->node->Peers()) {
      if (peer.state == raft::ProgressState::kSnapshot && peer.ticks_since_ack <= live &&
          std::find(connected.begin(), connected.end(), peer.id) != connected.end()) {
        ++n;
      }
    }
  }
  return n;
}

// The gate of every group's snapshots (GroupStorage::set_snapshot_gate), asked only when one
// is about to start. Raft thread.
bool MultiRaftNode::MayStartSnapshot() {
  const size_t n = SnapshotsInFlight();
  if (n < options_.max_snapshots_in_flight) {
    if (n + 1 > snapshots_in_flight_peak_.load(std::memory_order_relaxed)) {
      snapshots_in_flight_peak_.store(n + 1, std::memory_order_relaxed);
    }
    return true;
  }
  snapshots_deferred_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

void MultiRaftNode::NoteStateWentBack(const Group& g, uint64_t leader) {
  if (!state_went_back_) {
    LOG_WARNING("group %d: its leader, node %llu, holds this node's acknowledgement of entries "
                "its log no longer has (it ends at %llu): this node's data went back in time "
                "(started on a raw copy of a data directory, or a disk lost fsynced writes). "
                "Every partition recovers now: no votes until each holds its leader's log again",
                g.id, static_cast<unsigned long long>(leader),
                static_cast<unsigned long long>(g.node->last_index()));
  }
  state_went_back_ = true;
  for (auto& other : groups_) {
    if (other) other->node->BeginRecovery();
  }
}

// Acts once on PeerIdentity's verdict about this node's fresh data directory: a new member's
// partitions lost nothing (they stop recovering, and preferred leaders campaign, as at a first
// start); a replacement's stay recovering, now marked one by one until each has caught up.
// Raft thread.
void MultiRaftNode::SettleIdentity() {
  const PeerIdentity::Verdict v = identity_->verdict();
  if (v != PeerIdentity::Verdict::kNew && v != PeerIdentity::Verdict::kReplacement) return;
  rocksdb::WriteBatch wb;
  for (auto& g : groups_) {
    if (!g) continue;
    if (v == PeerIdentity::Verdict::kNew) {
      g->node->EndRecovery();
      if (topology_.Replicas(g->id).front() == topology_.self_id()) g->node->Campaign();
    }
    g->storage->SetRecovering(g->node->recovering(), &wb);
  }
  Status s = store_->Write(&wb, true);
  if (s.ok()) s = identity_->Settle();
  if (!s.ok()) FailStop("recording this node's identity", s);
}

raft::RawNode::Events MultiRaftNode::Events() const {
  raft::RawNode::Events e;
  e.election_timeouts = election_timeouts_.load(std::memory_order_relaxed);
  e.quorum_losses = quorum_losses_.load(std::memory_order_relaxed);
  e.transfers_aborted = transfers_aborted_.load(std::memory_order_relaxed);
  return e;
}

std::string MultiRaftNode::StatusReport() const {
  std::lock_guard<std::mutex> lock(status_mu_);
  return status_;
}

}  // namespace flin::cluster

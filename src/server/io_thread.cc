#include "server/io_thread.h"

#include <unistd.h>

#include <cstring>

#include "common/log.h"
#include "common/warning_limiter.h"
#include "net/socket.h"
#include "server/command.h"
#include "server/server.h"

namespace flin::server {

IoThread::IoThread(Server* server, int index) : server_(server), index_(index) {}

IoThread::~IoThread() {
  Stop();
  Join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    conns_.clear();
  }
  graveyard_.clear();  // the listening socket belongs to the Server
}

Status IoThread::Start(int listen_fd) {
  listen_fd_ = listen_fd;
  if (!loop_.Add(listen_fd_, EPOLLIN | EPOLLEXCLUSIVE, this)) {
    return Status::IOError("epoll add listener");
  }
  loop_.RunEvery(100, [this] { Cron(); });
  loop_.RunEvery(kWaiterPollMs, [this] {
    PollWaiters();
    ResumePaused();
  });
  loop_.BeforeWait([this] {
    // Proposals applied inline can publish (keyspace notifications), and sending messages can
    // let a connection go on and propose: until neither has anything left, or else once more
    // after this round's turn of the other connections.
    for (int round = 0; round < 8; ++round) {
      FlushPushed();
      FlushProposals();
      if (pushed_.empty() && outbox_.empty()) return;
    }
    loop_.Post([] {});  // wakes the loop, which comes back here before waiting
  });
  thread_ = std::thread([this] {
    std::string name = "flin-io-" + std::to_string(index_);
    pthread_setname_np(pthread_self(), name.c_str());
    loop_.Run();
  });
  return Status::Ok();
}

void IoThread::Stop() { loop_.Stop(); }

void IoThread::Join() {
  if (thread_.joinable()) thread_.join();
}

void IoThread::OnEvent(uint32_t) {
  const Config& cfg = server_->config();
  for (int i = 0; i < 64; ++i) {
    std::string peer, local;
    int fd = net::Accept(listen_fd_, &peer, &local);
    if (fd < 0) return;
    IoStats::Add(stats_.connections, 1);
    if (server_->connected_clients.fetch_add(1) >= cfg.maxclients.load()) {
      server_->connected_clients.fetch_sub(1);
      IoStats::Add(stats_.rejected_connections, 1);
      static WarningLimiter warnings;  // a flood of connections must not flood the log
      uint64_t held = 0;
      if (warnings.Allow(net::MonotonicMs(), &held)) {
        LOG_WARNING("rejected a client from %s: max number of clients reached (and %llu more "
                    "since the last such warning; INFO: rejected_connections)",
                    peer.c_str(), static_cast<unsigned long long>(held));
      }
      static constexpr char kMsg[] = "-ERR max number of clients reached\r\n";
      ssize_t n = write(fd, kMsg, sizeof(kMsg) - 1);
      (void)n;
      close(fd);
      continue;
    }
    uint64_t id = server_->NextClientId();
    LOG_DEBUG("client %llu connected from %s", static_cast<unsigned long long>(id), peer.c_str());
    auto conn = std::make_unique<ClientConn>(this, fd, id, std::move(peer), std::move(local));
    if (!loop_.Add(fd, EPOLLIN, conn.get())) {
      server_->connected_clients.fetch_sub(1);
      continue;  // the conn's destructor closes fd
    }
    std::lock_guard<std::mutex> lock(mu_);
    conns_.emplace(id, std::move(conn));
  }
}

void IoThread::Forget(uint64_t id) {
  std::unique_ptr<ClientConn> dead;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    dead = std::move(it->second);
    conns_.erase(it);
  }
  server_->connected_clients.fetch_sub(1);
  // The connection may be deep in its own call stack: delete it after the current event.
  if (graveyard_.empty()) loop_.Post([this] { graveyard_.clear(); });
  graveyard_.push_back(std::move(dead));
}

void IoThread::ResumeLater(uint64_t id) {
  loop_.Post([this, id] {
    auto it = conns_.find(id);
    if (it != conns_.end()) it->second->FlushAndMaybeClose();
  });
}

void IoThread::Complete(std::vector<cluster::Completion>&& batch) {
  // On this thread: a write the replicator applied inline while this loop handed it the
  // round's proposals (FlushProposals). Delivered now, without a trip through the wake fd;
  // writes the answered connections propose next leave in the same FlushProposals.
  if (loop_.InLoopThread()) return Deliver(batch);
  loop_.Post([this, batch = std::move(batch)]() mutable { Deliver(batch); });
}

void IoThread::Deliver(std::vector<cluster::Completion>& batch) {
  std::vector<ClientConn*> touched;
  for (auto& c : batch) {
    auto it = conns_.find(c.conn_id);  // only this thread changes conns_
    if (it == conns_.end()) continue;  // closed meanwhile: the write stands, the reply is lost
    if (c.partition >= 0) it->second->NoteWrite(c.partition, c.term, c.index);
    it->second->OnCompletion(c.seq, std::move(c.reply));
    if (touched.empty() || touched.back() != it->second.get()) {
      touched.push_back(it->second.get());
    }
  }
  for (ClientConn* conn : touched) {
    if (conns_.count(conn->id())) conn->FlushAndMaybeClose();
  }
}

void IoThread::Push(PushBatch&& batch) {
  if (loop_.InLoopThread()) return DeliverPushes(batch);
  const size_t bytes = batch.Bytes();
  if (queued_push_bytes_.fetch_add(bytes, std::memory_order_relaxed) + bytes >
      kMaxQueuedPushBytes) {
    queued_push_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
    std::lock_guard<std::mutex> lock(overflow_mu_);
    for (const auto& t : batch.targets) overflow_victims_.insert(t.conn_id);
    if (!overflow_posted_) {  // one task however many batches overflow meanwhile
      overflow_posted_ = true;
      loop_.Post([this] { DropOverflowVictims(); });
    }
    return;
  }
  loop_.Post([this, batch = std::move(batch), bytes] {
    queued_push_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
    DeliverPushes(batch);
    FlushPushed();
  });
}

void IoThread::DeliverPushes(const PushBatch& batch) {
  for (const auto& t : batch.targets) {
    auto it = conns_.find(t.conn_id);  // only this thread changes conns_
    if (it == conns_.end()) continue;  // closed meanwhile
    it->second->Push(batch, t);
    if (!it->second->push_flush_queued) {
      it->second->push_flush_queued = true;
      pushed_.push_back(t.conn_id);
    }
  }
}

void IoThread::FlushPushed() {
  // Delivered during another connection's command (a PUBLISH on this thread), so sent here,
  // after it. Each connection is listed once (push_flush_queued).
  FlushListed(&pushed_, &ClientConn::push_flush_queued);
}

void IoThread::FlushListed(std::vector<uint64_t>* ids, bool ClientConn::*listed) {
  std::vector<uint64_t> taken;
  taken.swap(*ids);  // flushing may list a connection again
  for (uint64_t id : taken) {
    auto it = conns_.find(id);
    if (it == conns_.end()) continue;
    it->second.get()->*listed = false;
    it->second->FlushAndMaybeClose();
  }
}

void IoThread::DropOverflowVictims() {
  absl::flat_hash_set<uint64_t> victims;
  {
    std::lock_guard<std::mutex> lock(overflow_mu_);
    victims.swap(overflow_victims_);
    overflow_posted_ = false;
  }
  for (uint64_t id : victims) {
    auto it = conns_.find(id);
    if (it == conns_.end()) continue;
    LOG_NOTICE("dropping subscriber %llu (%s): its I/O thread fell behind its messages",
               static_cast<unsigned long long>(id), it->second->peer().c_str());
    it->second->Abort();
  }
}

void IoThread::AddWaiter(uint64_t conn_id, uint64_t seq, int64_t deadline_ms, WaitPoll poll) {
  waiters_.push_back(Waiter{conn_id, seq, deadline_ms, std::move(poll)});
}

void IoThread::PollWaiters() {
  if (waiters_.empty()) return;
  const int64_t now = net::MonotonicMs();
  std::vector<Waiter> waiting;
  waiting.swap(waiters_);  // a reply can let its connection add a waiter again
  std::vector<std::pair<Waiter, std::string>> done;
  for (auto& w : waiting) {
    auto it = conns_.find(w.conn_id);
    if (it == conns_.end()) continue;  // closed: dropped
    std::string reply;
    const bool expired = w.deadline_ms != 0 && now >= w.deadline_ms;
    if (w.poll(*it->second, expired, &reply)) {
      done.emplace_back(std::move(w), std::move(reply));
    } else {
      waiters_.push_back(std::move(w));
    }
  }
  for (auto& [w, reply] : done) {
    auto it = conns_.find(w.conn_id);
    if (it == conns_.end()) continue;
    it->second->OnCompletion(w.seq, std::move(reply));
    if (conns_.count(w.conn_id)) it->second->FlushAndMaybeClose();
  }
}

void IoThread::ResumePaused() {
  // A connection still paused holds itself again.
  FlushListed(&paused_, &ClientConn::held_for_pause);
}

void IoThread::FlushProposals() {
  // Answering refused writes can let their connections go on and propose again: those must
  // leave in this round too (the loop may wait next for a long time).
  while (!outbox_.empty()) RefuseOrHandOn();
}

void IoThread::RefuseOrHandOn() {
  Status s = server_->replicator().ProposeBatch(&outbox_);
  if (s.ok()) return;
  // Refused as a whole (queue full, shutting down, the disk failed since Admit): each write
  // is answered with the error in its place in line, as a refusal in Propose would have been.
  // Out of outbox_ first: an answer can be delivered at once (a fan-in's last part, Complete on
  // this thread), and the connections it lets go on propose again, into outbox_.
  std::vector<cluster::Proposal> refused;
  refused.swap(outbox_);
  std::vector<cluster::Completion> errors;
  std::vector<std::pair<cluster::CompletionSink*, cluster::Completion>> fan_ins;
  errors.reserve(refused.size());
  for (auto& p : refused) {
    if (p.sink == nullptr) continue;
    std::string reply;
    protocol::ReplyWriter(&reply, p.proto).Error(RefusalError(s));
    cluster::Completion c{p.conn_id, p.seq, std::move(reply)};
    if (p.sink == this) {
      errors.push_back(std::move(c));
    } else {
      fan_ins.emplace_back(p.sink, std::move(c));  // a fan-in (cluster FLUSHALL) counts it
    }
  }
  refused.clear();  // their bytes leave the pending-write budget before the answers go out
  for (auto& [sink, c] : fan_ins) {
    std::vector<cluster::Completion> one;
    one.push_back(std::move(c));
    sink->Complete(std::move(one));
  }
  IoStats::Add(stats_.errors, errors.size());
  Deliver(errors);
}

// Closes clients idle longer than --timeout, and clients that stopped reading their replies
// (over the soft output limit with no byte taken for the stall timeout).
void IoThread::Cron() {
  const Config& cfg = server_->config();
  const int64_t timeout_ms = cfg.timeout_s.load() * 1000;
  const int64_t now = net::MonotonicMs();
  const int64_t stall_since = now - cfg.output_stall_s.load() * 1000;
  std::vector<ClientConn*> idle, stalled;
  for (auto& [id, conn] : conns_) {
    if (conn->StalledSince(stall_since)) {
      stalled.push_back(conn.get());
    } else if (timeout_ms > 0 &&
               now - conn->last_interaction_ms.load(std::memory_order_relaxed) > timeout_ms) {
      idle.push_back(conn.get());
    }
  }
  for (ClientConn* conn : stalled) {
    LOG_NOTICE("dropping client %llu (%s): it stopped reading its replies",
               static_cast<unsigned long long>(conn->id()), conn->peer().c_str());
    conn->Abort();
  }
  for (ClientConn* conn : idle) {
    conn->CloseAfterReply();
    conn->FlushAndMaybeClose();
  }
}

std::vector<IoThread::ClientInfo> IoThread::ListClients() {
  std::vector<ClientInfo> out;
  const int64_t now = net::MonotonicMs();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [id, c] : conns_) {
    ClientInfo info;
    info.id = id;
    info.addr = c->peer();
    info.laddr = c->local();
    info.name = c->name;
    info.fd = c->fd();
    info.age_s = (now - c->created_ms()) / 1000;
    info.idle_s = (now - c->last_interaction_ms.load(std::memory_order_relaxed)) / 1000;
    info.qbuf = c->in_bytes.load(std::memory_order_relaxed);
    info.obuf = c->out_bytes.load(std::memory_order_relaxed);
    const CommandSpec* cmd = c->last_command.load(std::memory_order_relaxed);
    info.cmd = cmd ? cmd->name : "NULL";
    info.proto = c->proto();
    info.multi = c->multi_queued.load(std::memory_order_relaxed);
    info.multi_bytes = c->multi_bytes.load(std::memory_order_relaxed);
    info.readonly = c->readonly();
    info.sub = c->sub.load(std::memory_order_relaxed);
    info.psub = c->psub.load(std::memory_order_relaxed);
    info.ssub = c->ssub.load(std::memory_order_relaxed);
    info.tracking = c->tracking_on.load(std::memory_order_relaxed);
    info.tracking_bcast = c->tracking_bcast.load(std::memory_order_relaxed);
    info.tracking_broken = info.tracking && server_->tracking().RedirectBroken(id);
    info.redir =
        info.tracking ? static_cast<int64_t>(c->tracking_redirect.load(std::memory_order_relaxed))
                      : -1;
    out.push_back(std::move(info));
  }
  return out;
}

bool IoThread::HasClient(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  return conns_.contains(id);
}

void IoThread::SetName(ClientConn* conn, std::string name) {
  std::lock_guard<std::mutex> lock(mu_);
  conn->name = std::move(name);
}

std::string IoThread::GetName(ClientConn* conn) {
  std::lock_guard<std::mutex> lock(mu_);
  return conn->name;
}

int IoThread::Kill(uint64_t id, const std::string& addr, const std::string& laddr,
                   uint64_t skip_id, int subscribed) {
  std::vector<uint64_t> victims;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [cid, c] : conns_) {
      if (cid == skip_id) continue;
      if (id != 0 && cid != id) continue;
      if (!addr.empty() && c->peer() != addr) continue;
      if (!laddr.empty() && c->local() != laddr) continue;
      if (subscribed >= 0) {
        const size_t subs = c->sub.load(std::memory_order_relaxed) +
                            c->psub.load(std::memory_order_relaxed) +
                            c->ssub.load(std::memory_order_relaxed);
        if ((subs > 0) != (subscribed == 1)) continue;
      }
      victims.push_back(cid);
    }
  }
  if (!victims.empty()) {
    loop_.Post([this, victims] {
      for (uint64_t v : victims) {
        auto it = conns_.find(v);
        if (it == conns_.end()) continue;
        it->second->CloseAfterReply();
        it->second->FlushAndMaybeClose();
      }
    });
  }
  return static_cast<int>(victims.size());
}

}  // namespace flin::server

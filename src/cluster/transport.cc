#include "cluster/transport.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "cluster/transport_frame.h"
#include "common/log.h"
#include "common/warning_limiter.h"
#include "net/event_loop.h"
#include "net/socket.h"

namespace flin::cluster {
namespace {

constexpr int kMaxBackoffMs = 2000;
constexpr size_t kReadChunkBytes = 64 << 10;
// Bytes read from one connection per readiness event, so one busy peer cannot starve the rest
// (epoll is level-triggered: what is left is reported again).
constexpr size_t kReadBudgetBytes = 4 << 20;
constexpr int kMaxIov = 64;

using ULL = unsigned long long;

// One frame waiting in an outbound connection.
struct OutFrame {
  char header[kFrameHeaderBytes];
  std::string payload;
  bool counted;  // a Send() payload, counted in queued_bytes and sent_frames; not the handshake
};

}  // namespace

class Transport::Impl {
 public:
  Impl(TransportOptions options, Receiver receiver);
  ~Impl() { Stop(); }

  Status Start();
  void Stop();
  bool Send(uint64_t to, std::string payload, size_t max_queued);
  std::vector<PeerState> Peers() const;
  int port() const { return port_.load(std::memory_order_relaxed); }
  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

 private:
  struct Peer;

  // One socket registered with the loop. Owned by conns_ while open, then by graveyard_ until
  // the next tick, since an event for it may still be due in the loop's current batch.
  struct Conn : net::EventHandler {
    enum class Kind { kListener, kOutbound, kInbound };
    Conn(Impl* t, Kind kind, int fd) : t(t), kind(kind), fd(fd) {}
    void OnEvent(uint32_t events) override {
      if (!closed) t->OnEvent(this, events);
    }

    Impl* const t;
    const Kind kind;
    const int fd;
    bool closed = false;
    Peer* peer = nullptr;  // outbound: the peer dialed; inbound: set by a valid handshake
    std::string remote;    // "host:port", for logs
    // Outbound.
    bool connecting = false;
    int64_t deadline_ms = 0;  // while connecting
    int64_t connected_ms = 0;
    std::deque<OutFrame> out;  // frames taken from the peer's queue, not yet fully written
    size_t out_offset = 0;     // bytes of out.front() (header included) already written
    bool want_write = false;   // EPOLLOUT registered
    // Inbound.
    FrameDecoder decoder{kMaxHandshakeBytes};
    std::string claimed;  // the address its handshake named ("": none)
    uint64_t accept_seq = 0;
    int64_t accepted_ms = 0;
  };

  struct Peer {
    PeerAddress addr;    // where it is dialed (loop thread only, but for the immutable id)
    PeerAddress listed;  // where the options put it
    // Loop thread: where the peer said it moved (or was last heard to be), if not listed
    // (empty host: nowhere else). Redials alternate between it and the listed address: it
    // may be stale (the peer moved back while we were down).
    std::string moved_host;
    int moved_port = 0;
    // Shared with Send() callers.
    std::mutex mu;
    struct Queued {
      std::string payload;
      int64_t at_ms;  // monotonic, when Send() queued it
    };
    std::deque<Queued> queue;             // guarded by mu
    bool flush_due = false;               // guarded by mu: a flush is posted, or comes at connect
    std::atomic<size_t> queued_bytes{0};  // in queue, plus in the connection's out
    std::atomic<bool> connected{false};
    std::atomic<uint64_t> connects{0};  // outbound connections made
    std::atomic<uint64_t> sent{0}, received{0}, dropped{0};
    // Loop thread only.
    Conn* out = nullptr;  // the outbound connection, if dialing or up
    Conn* in = nullptr;   // the handshaken inbound connection, if any
    int64_t next_dial_ms = 0;
    int backoff_ms = 0;
  };

  void OnEvent(Conn* c, uint32_t events);
  void Tick();
  // While p is not connected: drops what has waited longer than max_queue_age_ms_while_down.
  void DropStale(Peer* p, int64_t now);
  Conn* NewConn(Conn::Kind kind, int fd);
  void Close(Conn* c);

  // Outbound side (one connection per peer, write-only).
  void Dial(Peer* p);
  void OnConnected(Conn* c);
  void OnOutboundEvent(Conn* c, uint32_t events);
  void OnQueueReady(Peer* p);
  void Flush(Conn* c);
  void Break(Conn* c, const char* why);
  void ScheduleRedial(Peer* p);

  // Inbound side (accepted connections, read-only).
  void OnAccept();
  void OnInboundEvent(Conn* c);
  bool OnFrame(Conn* c, std::string&& payload);
  void Refuse(Conn* c, const std::string& why);
  // The peer's handshake named another bus address: dial it there from now on.
  void Move(Peer* p, const std::string& host, int port);
  void CloseInbound(Conn* c);

  const TransportOptions options_;
  const Receiver receiver_;
  const int max_backoff_ms_;
  const size_t max_inbound_;
  std::vector<std::unique_ptr<Peer>> peers_;         // fixed after construction
  std::unordered_map<uint64_t, Peer*> peers_by_id_;  // fixed after construction

  std::mutex lifecycle_mu_;  // serializes Start() and Stop()
  bool started_ = false;     // guarded by lifecycle_mu_
  std::atomic<bool> stopped_{false};
  std::atomic<int> port_{0};
  std::atomic<uint64_t> refused_{0};
  WarningLimiter refusal_warnings_;  // connections refused or closed: once a minute
  net::EventLoop loop_;
  std::thread thread_;

  // Loop thread only (or the owner's, once the thread is joined).
  std::unordered_map<Conn*, std::unique_ptr<Conn>> conns_;
  std::vector<std::unique_ptr<Conn>> graveyard_;
  int listen_fd_ = -1;
  Conn* listener_ = nullptr;
  bool accept_paused_ = false;
  size_t inbound_count_ = 0;
  uint64_t next_accept_seq_ = 0;
  std::unique_ptr<char[]> read_buf_{new char[kReadChunkBytes]};
};

Transport::Impl::Impl(TransportOptions options, Receiver receiver)
    : options_(std::move(options)),
      receiver_(std::move(receiver)),
      max_backoff_ms_(std::max(kMaxBackoffMs, options_.reconnect_backoff_ms)),
      max_inbound_(2 * std::max<size_t>(options_.peers.size(), 1)) {
  for (const PeerAddress& a : options_.peers) {
    auto p = std::make_unique<Peer>();
    p->addr = a;
    p->listed = a;
    if (!a.moved_host.empty()) {
      p->addr.host = p->moved_host = a.moved_host;
      p->addr.port = p->moved_port = a.moved_port;
    }
    peers_by_id_.emplace(a.id, p.get());
    peers_.push_back(std::move(p));
  }
}

Status Transport::Impl::Start() {
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  if (started_ || stopped_) return Status::InvalidArgument("transport already started");
  if (options_.node_id == 0) return Status::InvalidArgument("transport: node_id must be set");
  if (!receiver_) return Status::InvalidArgument("transport: no receiver");
  if (options_.cluster_id.size() > kMaxClusterIdBytes) {
    return Status::InvalidArgument("transport: cluster id over 256 bytes");
  }
  if (options_.max_frame_bytes == 0 || options_.max_frame_bytes > UINT32_MAX) {
    return Status::InvalidArgument("transport: max_frame_bytes out of range");
  }
  std::unordered_set<uint64_t> ids;
  for (const PeerAddress& a : options_.peers) {
    if (a.id == 0 || a.id == options_.node_id || !ids.insert(a.id).second) {
      return Status::InvalidArgument("transport: bad or duplicate peer id " + std::to_string(a.id));
    }
    if (a.port <= 0 || a.port > 65535) {
      return Status::InvalidArgument("transport: bad port for peer " + std::to_string(a.id));
    }
  }
  auto listen = net::Listen(options_.bind_host, options_.bind_port, /*reuse_port=*/false, 128);
  if (!listen.ok()) return listen.status();
  const int fd = listen.value();
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    port_ = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                           : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  }
  listen_fd_ = fd;
  listener_ = NewConn(Conn::Kind::kListener, fd);
  if (!loop_.Add(fd, EPOLLIN, listener_)) {
    Close(listener_);
    return Status::IOError("transport: cannot watch the listener");
  }
  // Timers are coarse: connect, handshake and backoff deadlines are checked on this tick.
  loop_.RunEvery(std::clamp(options_.reconnect_backoff_ms / 2, 5, 50), [this] { Tick(); });
  loop_.Post([this] {
    for (auto& p : peers_) Dial(p.get());
  });
  started_ = true;
  thread_ = std::thread([this] { loop_.Run(); });
  LOG_NOTICE("transport: node %llu listening on the cluster bus at %s:%d", ULL(options_.node_id),
             options_.bind_host.c_str(), port());
  return Status::Ok();
}

void Transport::Impl::Stop() {
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  stopped_.store(true);
  if (thread_.joinable()) {
    loop_.Stop();
    thread_.join();
  }
  // The thread is gone: what was its own is now ours.
  for (auto& [c, owned] : conns_) {
    loop_.Remove(c->fd);
    ::close(c->fd);
  }
  conns_.clear();
  graveyard_.clear();
  for (auto& p : peers_) {
    std::lock_guard<std::mutex> plock(p->mu);
    p->dropped += p->queue.size();
    p->queue.clear();
    p->queued_bytes = 0;
    p->connected = false;
    p->out = p->in = nullptr;
  }
}

bool Transport::Impl::Send(uint64_t to, std::string payload, size_t max_queued) {
  if (stopped_.load(std::memory_order_acquire)) return false;
  auto it = peers_by_id_.find(to);
  if (it == peers_by_id_.end()) return false;
  Peer* p = it->second;
  bool post = false;
  {
    std::lock_guard<std::mutex> lock(p->mu);
    if (payload.size() > options_.max_frame_bytes ||
        p->queued_bytes.load() + payload.size() >
            std::min(max_queued, options_.max_queued_bytes_per_peer)) {
      p->dropped.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    p->queued_bytes += payload.size();
    p->queue.push_back(Peer::Queued{std::move(payload), net::MonotonicMs()});
    post = !p->flush_due;
    p->flush_due = true;
  }
  // One task per burst: Sends made before the loop runs are written together.
  if (post) loop_.Post([this, p] { OnQueueReady(p); });
  return true;
}

std::vector<Transport::PeerState> Transport::Impl::Peers() const {
  std::vector<PeerState> out;
  out.reserve(peers_.size());
  for (const auto& p : peers_) {
    out.push_back(PeerState{p->addr.id, p->connected.load(), p->connects.load(), p->sent.load(),
                            p->received.load(), p->dropped.load()});
  }
  return out;
}

void Transport::Impl::OnEvent(Conn* c, uint32_t events) {
  switch (c->kind) {
    case Conn::Kind::kListener:
      OnAccept();
      break;
    case Conn::Kind::kOutbound:
      OnOutboundEvent(c, events);
      break;
    case Conn::Kind::kInbound:
      OnInboundEvent(c);
      break;
  }
}

void Transport::Impl::Tick() {
  graveyard_.clear();  // no event of this loop iteration can still name them
  const int64_t now = net::MonotonicMs();
  if (accept_paused_) {
    accept_paused_ = false;
    loop_.Modify(listen_fd_, EPOLLIN, listener_);
  }
  for (auto& p : peers_) {
    if (p->out == nullptr && now >= p->next_dial_ms) {
      Dial(p.get());
    } else if (p->out != nullptr && p->out->connecting && now >= p->out->deadline_ms) {
      Break(p->out, "connect timed out");
    }
    if (p->out == nullptr || p->out->connecting) DropStale(p.get(), now);
  }
  std::vector<Conn*> late;
  for (auto& [c, owned] : conns_) {
    if (c->kind == Conn::Kind::kInbound && c->peer == nullptr &&
        now - c->accepted_ms >= options_.handshake_timeout_ms) {
      late.push_back(c);
    }
  }
  for (Conn* c : late) Refuse(c, "no handshake in time");
}

Transport::Impl::Conn* Transport::Impl::NewConn(Conn::Kind kind, int fd) {
  auto owned = std::make_unique<Conn>(this, kind, fd);
  Conn* c = owned.get();
  conns_.emplace(c, std::move(owned));
  return c;
}

void Transport::Impl::Close(Conn* c) {
  loop_.Remove(c->fd);
  ::close(c->fd);
  c->closed = true;
  c->out.clear();
  auto it = conns_.find(c);
  graveyard_.push_back(std::move(it->second));
  conns_.erase(it);
}

// ---- Outbound ----

void Transport::Impl::DropStale(Peer* p, int64_t now) {
  if (options_.max_queue_age_ms_while_down <= 0) return;
  std::lock_guard<std::mutex> lock(p->mu);
  while (!p->queue.empty() &&
         now - p->queue.front().at_ms > options_.max_queue_age_ms_while_down) {
    p->queued_bytes -= p->queue.front().payload.size();
    p->dropped.fetch_add(1, std::memory_order_relaxed);
    p->queue.pop_front();
  }
}

void Transport::Impl::Dial(Peer* p) {
  const PeerAddress& a = p->addr;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* ai = nullptr;
  if (getaddrinfo(a.host.c_str(), std::to_string(a.port).c_str(), &hints, &ai) != 0 ||
      ai == nullptr) {
    LOG_WARNING("transport: cannot resolve peer %llu's host %s", ULL(a.id), a.host.c_str());
    ScheduleRedial(p);
    return;
  }
  const int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int rc = fd < 0 ? -1 : connect(fd, ai->ai_addr, ai->ai_addrlen);
  const int err = errno;
  freeaddrinfo(ai);
  if (fd < 0 || (rc != 0 && err != EINPROGRESS)) {
    LOG_DEBUG("transport: dialing peer %llu failed: %s", ULL(a.id), strerror(err));
    if (fd >= 0) ::close(fd);
    ScheduleRedial(p);
    return;
  }
  Conn* c = NewConn(Conn::Kind::kOutbound, fd);
  c->peer = p;
  c->remote = a.host + ":" + std::to_string(a.port);
  p->out = c;
  c->connecting = rc != 0;
  c->deadline_ms = net::MonotonicMs() + options_.connect_timeout_ms;
  if (!loop_.Add(fd, c->connecting ? EPOLLOUT : EPOLLIN, c)) {
    Break(c, "epoll_ctl failed");
    return;
  }
  if (!c->connecting) OnConnected(c);
}

void Transport::Impl::OnConnected(Conn* c) {
  c->connecting = false;
  c->connected_ms = net::MonotonicMs();
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  loop_.Modify(c->fd, EPOLLIN, c);
  Handshake mine;
  mine.node_id = options_.node_id;
  mine.cluster_id = options_.cluster_id;
  if (options_.fill_handshake) options_.fill_handshake(c->peer->addr.id, &mine);
  const std::string frame = EncodeHandshakeFrame(mine);
  OutFrame hs{{}, frame.substr(kFrameHeaderBytes), false};
  std::memcpy(hs.header, frame.data(), kFrameHeaderBytes);
  c->out.push_back(std::move(hs));
  c->peer->connected = true;
  c->peer->connects.fetch_add(1, std::memory_order_relaxed);
  LOG_NOTICE("transport: connected to peer %llu at %s", ULL(c->peer->addr.id), c->remote.c_str());
  Flush(c);
}

void Transport::Impl::OnOutboundEvent(Conn* c, uint32_t events) {
  if (c->connecting) {
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) {
      Break(c, strerror(err));
    } else if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
      OnConnected(c);
    }
    return;
  }
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
    // The acceptor never writes; reading is how EOF and errors are noticed. Anything it does
    // send is discarded.
    for (size_t budget = kReadBudgetBytes; budget > 0;) {
      ssize_t n = read(c->fd, read_buf_.get(), kReadChunkBytes);
      if (n > 0) {
        budget -= std::min<size_t>(budget, n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      Break(c, n == 0 ? "closed by the peer" : strerror(errno));
      return;
    }
  }
  if (events & EPOLLOUT) Flush(c);
}

void Transport::Impl::OnQueueReady(Peer* p) {
  // Not connected: the queue stays (flush_due too) and goes out from OnConnected.
  if (p->out != nullptr && !p->out->connecting) Flush(p->out);
}

void Transport::Impl::Flush(Conn* c) {
  Peer* p = c->peer;
  std::deque<Peer::Queued> taken;
  {
    std::lock_guard<std::mutex> lock(p->mu);
    taken.swap(p->queue);
    p->flush_due = false;
  }
  for (Peer::Queued& q : taken) {
    OutFrame f{{}, std::move(q.payload), true};
    EncodeFrameHeader(static_cast<uint32_t>(f.payload.size()), f.header);
    c->out.push_back(std::move(f));
  }
  while (!c->out.empty()) {
    iovec iov[kMaxIov];
    int n = 0;
    size_t skip = c->out_offset;  // only the front frame is partly written
    for (auto it = c->out.begin(); it != c->out.end() && n + 2 <= kMaxIov; ++it) {
      if (skip < kFrameHeaderBytes) {
        iov[n++] = iovec{it->header + skip, kFrameHeaderBytes - skip};
        skip = 0;
      } else {
        skip -= kFrameHeaderBytes;
      }
      if (it->payload.size() > skip) {
        iov[n++] = iovec{it->payload.data() + skip, it->payload.size() - skip};
      }
      skip = 0;
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = n;
    ssize_t w = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      Break(c, strerror(errno));
      return;
    }
    size_t left = static_cast<size_t>(w);
    size_t done_bytes = 0;
    uint64_t done_frames = 0;
    while (!c->out.empty()) {
      OutFrame& f = c->out.front();
      const size_t rest = kFrameHeaderBytes + f.payload.size() - c->out_offset;
      if (left < rest) {
        c->out_offset += left;
        break;
      }
      left -= rest;
      if (f.counted) {
        done_bytes += f.payload.size();
        ++done_frames;
      }
      c->out.pop_front();
      c->out_offset = 0;
    }
    p->queued_bytes -= done_bytes;
    p->sent += done_frames;
  }
  const bool want = !c->out.empty();
  if (want != c->want_write) {
    c->want_write = want;
    loop_.Modify(c->fd, want ? EPOLLIN | EPOLLOUT : EPOLLIN, c);
  }
}

void Transport::Impl::Break(Conn* c, const char* why) {
  Peer* p = c->peer;
  if (c->connecting) {
    LOG_DEBUG("transport: dialing peer %llu at %s failed: %s", ULL(p->addr.id), c->remote.c_str(),
              why);
  } else {
    LOG_NOTICE("transport: lost connection to peer %llu at %s: %s", ULL(p->addr.id),
               c->remote.c_str(), why);
  }
  // What was handed to the socket may or may not have arrived; it is never resent (at most
  // once), so it all counts as dropped.
  size_t lost_bytes = 0;
  uint64_t lost_frames = 0;
  for (const OutFrame& f : c->out) {
    if (!f.counted) continue;
    lost_bytes += f.payload.size();
    ++lost_frames;
  }
  p->queued_bytes -= lost_bytes;
  p->dropped += lost_frames;
  // A connection that lived a while was a success: start the backoff over. One closed at once
  // (e.g. refused for its cluster id) keeps doubling it, so refusals are not redialed hot.
  if (!c->connecting && net::MonotonicMs() - c->connected_ms >= max_backoff_ms_) p->backoff_ms = 0;
  p->connected = false;
  p->out = nullptr;
  Close(c);
  ScheduleRedial(p);
}

void Transport::Impl::ScheduleRedial(Peer* p) {
  if (!p->moved_host.empty()) {
    const bool at_moved = p->addr.host == p->moved_host && p->addr.port == p->moved_port;
    p->addr.host = at_moved ? p->listed.host : p->moved_host;
    p->addr.port = at_moved ? p->listed.port : p->moved_port;
  }
  p->backoff_ms = p->backoff_ms == 0 ? std::max(1, options_.reconnect_backoff_ms)
                                     : std::min(2 * p->backoff_ms, max_backoff_ms_);
  p->next_dial_ms = net::MonotonicMs() + p->backoff_ms;
}

// ---- Inbound ----

void Transport::Impl::OnAccept() {
  for (;;) {
    std::string remote, local;
    const int fd = net::Accept(listen_fd_, &remote, &local);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) {
        return;
      }
      // Out of descriptors (EMFILE, ENFILE, ENOBUFS): the listener would stay readable and spin
      // the loop, so it is not watched until the next tick.
      LOG_WARNING("transport: accept failed: %s; pausing the listener", strerror(errno));
      accept_paused_ = true;
      loop_.Modify(listen_fd_, 0, listener_);
      return;
    }
    if (inbound_count_ >= max_inbound_) {
      // Make room by closing the oldest connection still owing its handshake.
      Conn* oldest = nullptr;
      for (auto& [c, owned] : conns_) {
        if (c->kind == Conn::Kind::kInbound && c->peer == nullptr &&
            (oldest == nullptr || c->accept_seq < oldest->accept_seq)) {
          oldest = c;
        }
      }
      if (oldest == nullptr) {
        uint64_t held = 0;
        if (refusal_warnings_.Allow(net::MonotonicMs(), &held)) {
          LOG_WARNING("transport: refusing connection from %s: too many inbound connections "
                      "(and %llu more refusals since the last such warning)",
                      remote.c_str(), ULL(held));
        }
        refused_++;
        ::close(fd);
        continue;
      }
      Refuse(oldest, "too many inbound connections; closing the oldest without a handshake");
    }
    Conn* c = NewConn(Conn::Kind::kInbound, fd);
    c->remote = remote;
    c->accept_seq = next_accept_seq_++;
    c->accepted_ms = net::MonotonicMs();
    ++inbound_count_;
    if (!loop_.Add(fd, EPOLLIN, c)) CloseInbound(c);
  }
}

void Transport::Impl::OnInboundEvent(Conn* c) {
  const auto on_frame = [this, c](std::string&& payload) { return OnFrame(c, std::move(payload)); };
  for (size_t budget = kReadBudgetBytes; budget > 0 && !c->closed;) {
    const size_t want = std::min(budget, kReadChunkBytes);
    ssize_t n = read(c->fd, read_buf_.get(), want);
    if (n > 0) {
      budget -= n;
      Status s = c->decoder.Feed(std::string_view(read_buf_.get(), n), on_frame);
      if (!s.ok()) {
        if (!c->closed) Refuse(c, s.message());
        return;
      }
      if (static_cast<size_t>(n) < want) return;  // drained; epoll reports more
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (c->peer != nullptr) {
      LOG_NOTICE("transport: peer %llu closed its connection from %s%s: %s", ULL(c->peer->addr.id),
                 c->remote.c_str(), c->decoder.mid_frame() ? " mid-frame" : "",
                 n == 0 ? "EOF" : strerror(errno));
      CloseInbound(c);
    } else {
      Refuse(c, n == 0 ? "closed before its handshake" : strerror(errno));
    }
    return;
  }
}

bool Transport::Impl::OnFrame(Conn* c, std::string&& payload) {
  if (c->peer != nullptr) {
    c->peer->received.fetch_add(1, std::memory_order_relaxed);
    receiver_(c->peer->addr.id, std::move(payload));
    return true;
  }
  auto h = DecodeHandshake(payload);
  if (!h.ok()) {
    Refuse(c, h.status().message());
    return false;
  }
  if (h->cluster_id != options_.cluster_id) {
    Refuse(c, "node " + std::to_string(h->node_id) + " is of cluster '" + h->cluster_id +
                  "', not '" + options_.cluster_id + "'");
    return false;
  }
  auto it = peers_by_id_.find(h->node_id);
  if (it == peers_by_id_.end()) {
    Refuse(c, "node " + std::to_string(h->node_id) + " is not a peer");
    return false;
  }
  Peer* p = it->second;
  c->claimed = h->host.empty() ? "" : h->host + ":" + std::to_string(h->bus_port);
  if (p->in != nullptr && p->in->claimed != c->claimed) {
    // A node that moved closes its old process first; two live ones under one id (a data
    // directory copied and started twice) would vote and acknowledge as one node.
    LOG_WARNING("transport: node %llu connected from %s naming address '%s' while its "
                "connection from %s naming '%s' is still open: if both are running, two "
                "processes use one node id, which can lose acknowledged writes",
                ULL(p->addr.id), c->remote.c_str(), c->claimed.c_str(),
                p->in->remote.c_str(), p->in->claimed.c_str());
  }
  if (p->in != nullptr) {
    // The peer restarted or redialed: its new connection carries what it sends from now on.
    LOG_NOTICE("transport: peer %llu reconnected from %s; closing its old connection from %s",
               ULL(p->addr.id), c->remote.c_str(), p->in->remote.c_str());
    CloseInbound(p->in);
  } else {
    LOG_NOTICE("transport: peer %llu connected from %s", ULL(p->addr.id), c->remote.c_str());
  }
  c->peer = p;
  p->in = c;
  c->decoder.set_max_frame_bytes(options_.max_frame_bytes);
  // Where to dial the peer: where it says it is, or, if it says nothing, where the options put
  // it (it moved back, or never moved).
  std::string host = p->listed.host;
  int port = p->listed.port;
  if (!h->host.empty()) {
    host = h->host;
    port = h->bus_port;
  }
  if (host != p->addr.host || port != p->addr.port) Move(p, host, port);
  if (options_.on_handshake) options_.on_handshake(h->node_id, h.value());
  return true;
}

void Transport::Impl::Move(Peer* p, const std::string& host, int port) {
  LOG_NOTICE("transport: peer %llu is at %s:%d now (it was dialed at %s:%d)", ULL(p->addr.id),
             host.c_str(), port, p->addr.host.c_str(), p->addr.port);
  if (p->out != nullptr) Break(p->out, "the peer moved");
  const bool listed = host == p->listed.host && port == p->listed.port;
  p->moved_host = listed ? std::string() : host;
  p->moved_port = listed ? 0 : port;
  p->addr.host = host;
  p->addr.port = port;
  p->backoff_ms = 0;
  Dial(p);
}

void Transport::Impl::Refuse(Conn* c, const std::string& why) {
  uint64_t held = 0;
  if (refusal_warnings_.Allow(net::MonotonicMs(), &held)) {
    LOG_WARNING("transport: closing connection from %s: %s (and %llu more refusals since the "
                "last such warning)", c->remote.c_str(), why.c_str(), ULL(held));
  }
  refused_++;
  CloseInbound(c);
}

void Transport::Impl::CloseInbound(Conn* c) {
  if (c->peer != nullptr && c->peer->in == c) c->peer->in = nullptr;
  --inbound_count_;
  Close(c);
}

// ---- Transport ----

Transport::Transport(TransportOptions options, Receiver receiver)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(receiver))) {}
Transport::~Transport() = default;
Status Transport::Start() { return impl_->Start(); }
void Transport::Stop() { impl_->Stop(); }
bool Transport::Send(uint64_t to, std::string payload, size_t max_queued) {
  return impl_->Send(to, std::move(payload), max_queued);
}
std::vector<Transport::PeerState> Transport::Peers() const { return impl_->Peers(); }
int Transport::port() const { return impl_->port(); }
uint64_t Transport::refused_connections() const { return impl_->refused(); }

}  // namespace flin::cluster

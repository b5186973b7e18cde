#include "server/client_conn.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/strings.h"
#include "net/event_loop.h"
#include "server/cluster_family.h"
#include "server/command.h"
#include "server/io_thread.h"
#include "server/lua_script.h"
#include "server/server.h"
#include "server/transaction_family.h"

namespace flin::server {
namespace {

constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kKeepCapacity = 1 << 20;  // larger idle buffers are released

protocol::ParserLimits LimitsFrom(const Config& c) {
  protocol::ParserLimits l;
  l.max_bulk_bytes = static_cast<size_t>(c.max_value_bytes.load(std::memory_order_relaxed));
  l.max_request_bytes = std::max<size_t>(512u << 20, 4 * l.max_bulk_bytes);
  return l;
}

// PUBLISH and SPUBLISH: what CLIENT PAUSE WRITE holds beside writes (Redis's may-replicate).
bool IsPublish(const CommandSpec& spec) { return spec.Has(kCmdPubSub) && spec.apply != nullptr; }

std::string UnknownCommandError(const std::vector<std::string_view>& args) {
  std::string a;
  for (size_t i = 1; i < args.size() && a.size() < 128; ++i) {
    a += "'" + std::string(args[i].substr(0, 128 - a.size())) + "' ";
  }
  return "ERR unknown command '" + std::string(args[0].substr(0, 128)) +
         "', with args beginning with: " + a;
}

}  // namespace

ClientConn::ClientConn(IoThread* io, int fd, uint64_t id, std::string peer, std::string local)
    : io_(io),
      server_(&io->server()),
      fd_(fd),
      id_(id),
      peer_(std::move(peer)),
      local_(std::move(local)),
      created_ms_(net::MonotonicMs()),
      parser_(LimitsFrom(io->server().config())) {
  last_interaction_ms.store(created_ms_, std::memory_order_relaxed);
}

ClientConn::~ClientConn() {
  UnsubscribeAll();
  if (!closed_) EndTracking();
  UncountOutput();
  if (!closed_) {
    io_->loop().Remove(fd_);
    close(fd_);
  }
}

void ClientConn::Close() {
  if (closed_) return;
  closed_ = true;
  UnsubscribeAll();
  UncountOutput();
  io_->loop().Remove(fd_);
  close(fd_);
  fd_ = -1;
  io_->Forget(id_);  // kept (in the graveyard) until the loop's round ends
  // After Forget: a client enabling a redirection to this connection looks for it
  // (Server::FindClient) after counting itself as tracking (tracking_family.cc), so either it
  // does not find this connection or the check below sees it tracking.
  EndTracking();
}

void ClientConn::Reset() {
  set_proto(2);
  authenticated_ = false;
  readonly_.store(false, std::memory_order_relaxed);
  transaction_ = Transaction();
  UnsubscribeAll();
  StopTracking();
  io_->SetName(this, "");
}

void ClientConn::StopTracking() {
  if (tracking_.on) server_->tracking().Disable(id_);
  tracking_ = TrackingMode();
  tracking_on.store(false, std::memory_order_relaxed);
  tracking_bcast.store(false, std::memory_order_relaxed);
  tracking_redirect.store(0, std::memory_order_relaxed);
}

void ClientConn::EndTracking() {
  // Also for a connection that never tracked: others may redirect to it. With no client
  // tracking on this node nobody does.
  Tracking& t = server_->tracking();
  if (tracking_.on || t.active()) t.Closed(id_);
}

void ClientConn::TrackRead(const CommandSpec& spec, Args args, bool queued) {
  if (!tracking_.on || tracking_.bcast) return;
  std::vector<std::string_view> keys;
  if (IsExec(spec)) {
    keys.assign(transaction_.tracked.begin(), transaction_.tracked.end());
  } else {
    if (tracking_.optin ? !tracking_.caching : tracking_.optout && tracking_.caching) return;
    // Shard channels are keys only for routing (Redis leaves them out too).
    if (spec.Has(kCmdPubSub)) return;
    // A script's keys as it declares them: more than the reads inside it (Redis tracks
    // those), never fewer when the script keeps to its declared keys.
    if (!spec.OnlyReads(args) && !spec.tracked_as_read && !IsScriptCommand(spec)) return;
    for (size_t i : spec.KeyPositions(args)) keys.push_back(args[i]);
    if (queued) {
      transaction_.tracked.insert(transaction_.tracked.end(), keys.begin(), keys.end());
      return;
    }
  }
  if (keys.empty()) return;
  own_pushes_wanted_ = true;
  server_->tracking().Remember(id_, keys);
  own_pushes_wanted_ = false;
}

void ClientConn::UnsubscribeAll() {
  if (subscriptions_.Total() == 0) return;
  PubSub& registry = server_->pubsub();
  const PubSub::Subscriber me{io_, id_};
  for (const auto& c : subscriptions_.channels) {
    registry.Unsubscribe(PubSub::Space::kChannel, c, me);
  }
  for (const auto& p : subscriptions_.patterns) {
    registry.Unsubscribe(PubSub::Space::kPattern, p, me);
  }
  for (const auto& c : subscriptions_.shard_channels) {
    registry.Unsubscribe(PubSub::Space::kShard, c, me);
  }
  subscriptions_ = Subscriptions();
  CountSubscriptions();
}

void ClientConn::Push(const PushBatch& batch, const PushBatch::Target& t) {
  if (closed_) return;
  if (t.kind == PushBatch::Kind::kInvalidate || t.kind == PushBatch::Kind::kRedirBroken) {
    return PushTracking(batch, t);
  }
  const bool subscribed =
      t.kind == PushBatch::Kind::kMessage    ? subscriptions_.channels.contains(*batch.channel)
      : t.kind == PushBatch::Kind::kPMessage ? subscriptions_.patterns.contains(t.pattern)
                                             : subscriptions_.shard_channels.contains(*batch.channel);
  if (!subscribed) return;
  const size_t hard =
      static_cast<size_t>(server_->config().output_hard_bytes.load(std::memory_order_relaxed));
  if (out_.size() - out_sent_ > hard) return;  // FlushAndMaybeClose drops the connection
  protocol::ReplyWriter w(&out_, proto());
  switch (t.kind) {
    case PushBatch::Kind::kMessage:
      w.PushHeader(3);
      w.Bulk("message");
      break;
    case PushBatch::Kind::kPMessage:
      w.PushHeader(4);
      w.Bulk("pmessage");
      w.Bulk(t.pattern);
      break;
    case PushBatch::Kind::kSMessage:
      w.PushHeader(3);
      w.Bulk("smessage");
      break;
    case PushBatch::Kind::kInvalidate:
    case PushBatch::Kind::kRedirBroken:
      return;  // PushTracking's
  }
  w.Bulk(*batch.channel);
  w.Bulk(*batch.message);
}

void ClientConn::PushTracking(const PushBatch& batch, const PushBatch::Target& t) {
  const size_t hard =
      static_cast<size_t>(server_->config().output_hard_bytes.load(std::memory_order_relaxed));
  if (out_.size() - out_sent_ > hard) return;  // FlushAndMaybeClose drops the connection
  std::string bytes;
  protocol::ReplyWriter w(&bytes, proto());
  if (t.kind == PushBatch::Kind::kRedirBroken) {
    if (proto() < 3) return;  // RESP2 cannot carry it
    w.PushHeader(2);
    w.Bulk("tracking-redir-broken");
    int64_t id = 0;
    ParseInt64(*batch.message, &id);
    w.Integer(id);
  } else {
    if (proto() >= 3) {
      w.PushHeader(2);
      w.Bulk("invalidate");
    } else if (t.redirected && subscriptions_.Total() > 0) {
      w.PushHeader(3);
      w.Bulk("message");
      w.Bulk("__redis__:invalidate");
    } else {
      return;  // RESP2 without a subscribed redirection: nowhere to put it, as Redis
    }
    if (batch.message) {
      bytes += *batch.message;
    } else {
      w.Null();  // every key
    }
  }
  if (own_pushes_wanted_) {  // caused by the command being dispatched: after its reply
    own_pushes_ += bytes;
    return;
  }
  // Behind replies still in flight: a read's reply may carry the value this invalidates.
  if (slots_.empty()) {
    out_ += bytes;
  } else {
    slots_.push_back(Slot{true, 0, std::move(bytes)});
  }
}

void ClientConn::OnEvent(uint32_t events) {
  if (closed_) return;
  if (events & EPOLLIN) {
    ReadInput();
  } else if (events & (EPOLLERR | EPOLLHUP)) {
    Close();
    return;
  }
  if (closed_) return;
  ProcessInput();
  FlushAndMaybeClose();
}

void ClientConn::ReadInput() {
  IoStats& st = io_->stats();
  for (int i = 0; i < 16; ++i) {
    if (in_start_ == in_.size()) {
      in_.clear();
      in_start_ = 0;
    }
    // Read into a per-thread scratch buffer and append what came: growing in_ by a whole
    // chunk first would zero-fill 64 KiB per read.
    thread_local char scratch[kReadChunk];
    ssize_t n = read(fd_, scratch, kReadChunk);
    if (n > 0) {
      in_.append(scratch, static_cast<size_t>(n));
      IoStats::Add(st.net_in, n);
      last_interaction_ms.store(net::MonotonicMs(), std::memory_order_relaxed);
      if (static_cast<size_t>(n) < kReadChunk) break;
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      Close();
      return;
    }
    break;
  }
  in_bytes.store(in_.size() - in_start_, std::memory_order_relaxed);
}

void ClientConn::ProcessInput() {
  if (in_process_ || closed_) return;
  in_process_ = true;
  const Config& cfg = server_->config();
  const size_t soft = OutputAllowance();
  const auto max_pending_bytes =
      static_cast<size_t>(cfg.client_pending_write_bytes.load(std::memory_order_relaxed));
  while (!closed_ && !close_after_reply_ && pending_ < kMaxPending &&
         pending_bytes_ < max_pending_bytes &&
         in_start_ < in_.size() && out_.size() - out_sent_ <= soft) {
    size_t consumed = 0;
    bool authed = authenticated_ || !cfg.has_password.load(std::memory_order_relaxed);
    // CONFIG SET max-value-bytes reaches connections already open (between requests).
    if (parser_.limits().max_bulk_bytes !=
        static_cast<size_t>(cfg.max_value_bytes.load(std::memory_order_relaxed))) {
      parser_.set_limits(LimitsFrom(cfg));
    }
    auto r = parser_.Parse(std::string_view(in_).substr(in_start_), authed, &consumed);
    if (r == protocol::RequestParser::Result::kNeedMore) break;
    if (r == protocol::RequestParser::Result::kError) {
      std::string err;
      protocol::ReplyWriter(&err, proto()).Error("ERR " + parser_.error());
      if (slots_.empty()) {
        out_ += err;
      } else {
        slots_.push_back(Slot{true, 0, std::move(err)});
      }
      close_after_reply_ = true;
      in_.clear();
      in_start_ = 0;
      break;
    }
    if (!parser_.args().empty() && !Dispatch(parser_.args())) break;  // wait; parse again later
    in_start_ += consumed;
  }
  if (in_start_ == in_.size()) {
    in_.clear();
    in_start_ = 0;
    if (in_.capacity() > kKeepCapacity) in_.shrink_to_fit();
  } else if (in_start_ > kReadChunk && in_start_ * 2 > in_.size()) {
    in_.erase(0, in_start_);
    in_start_ = 0;
  }
  in_bytes.store(in_.size() - in_start_, std::memory_order_relaxed);
  in_process_ = false;
}

bool ClientConn::Dispatch(const std::vector<std::string_view>& args) {
  const CommandSpec* spec = server_->commands().Find(args[0]);
  if (spec != nullptr && spec->Has(kCmdInternal)) spec = nullptr;
  const bool is_write = spec != nullptr && spec->Writes(args);
  // A command that follows writes still in flight on this connection must see them and answer
  // after them. A write simply follows them into the log; so does a read that can be applied
  // from the log (GET, MGET, EXISTS, TTL, ...), which lets a pipeline of mixed reads and writes
  // share one fsync. Anything else waits until the writes are answered.
  // Not while keys are watched: what this connection reads of them is checked here
  // (NoteWatchedRead), on this thread. (A cluster leader without a confirmed lease still
  // reads through the log: see NoteReadThroughLog.)
  const bool log_read = pending_ > 0 && !is_write && spec != nullptr &&
                        spec->OnlyReads(args) && spec->apply != nullptr &&
                        transaction_.watched.empty();
  if (pending_ > 0 && !is_write && !log_read) return false;
  // CLIENT REPLY: whether this command's reply is dropped (decided before it runs, as the
  // command may be CLIENT REPLY itself, which says for itself through reply_this_).
  const bool skipped = skip_next_;
  const bool silent = reply_off_ || skipped;
  skip_next_ = false;
  reply_this_ = 0;
  const size_t slots_before = slots_.size();

  IoStats& st = io_->stats();
  // While proposals are in flight, a direct reply (an error) waits in line behind them.
  std::string queued;
  std::string* sink = pending_ > 0 ? &queued : &out_;
  protocol::ReplyWriter w(sink, proto());
  const size_t before = sink->size();
  const int pending_before = pending_;

  const Config& cfg = server_->config();
  // Inside MULTI, a command refused before it is queued aborts the transaction.
  const bool queueing = transaction_.active && (spec == nullptr || !RunsInsideMulti(*spec));
  if (spec == nullptr) {
    w.Error(UnknownCommandError(args));
    IoStats::Add(st.errors, 1);
    if (queueing) transaction_.dirty = true;
  } else {
    IoStats::PerCommand& pc = st.per_command[server_->commands().IndexOf(spec)];
    last_command.store(spec, std::memory_order_relaxed);
    // Refused before it runs; the arity first, as Redis checks it.
    std::string refusal;
    if (!spec->ArityOk(args.size())) {
      refusal = ErrWrongArity(args[0]);
    } else if (cfg.has_password.load(std::memory_order_relaxed) && !authenticated_ &&
               !spec->Has(kCmdNoAuth)) {
      refusal = "NOAUTH Authentication required.";
    } else if (InSubscribedMode() && !spec->Has(kCmdSubscribedMode)) {
      // Named as Redis names it: a container's subcommand as "client|id". An unknown
      // subcommand goes on to its handler, which answers it as Redis does first.
      std::string name = spec->name;
      if (!spec->subcommands.empty() && args.size() >= 2) {
        const std::string sub = spec->name + "|" + ToLower(args[1]);
        const auto& subs = spec->subcommands;
        name = std::find(subs.begin(), subs.end(), sub) != subs.end() ? sub : std::string();
      }
      if (!name.empty()) {
        refusal = "ERR Can't execute '" + name +
                  "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed "
                  "in this context";
      }
    }
    if (!refusal.empty()) {
      IoStats::Add(pc.rejected, 1);
      IoStats::Add(st.errors, 1);
      if (IsExec(*spec)) {
        // As Redis: a refused EXEC discards the transaction and its watches, and says why.
        transaction_ = Transaction();
        w.Error("EXECABORT Transaction discarded because of: " +
                (refusal.starts_with("ERR ") ? refusal.substr(4) : refusal));
      } else {
        w.Error(refusal);
        if (transaction_.active) transaction_.dirty = true;
      }
    } else if (server_->Paused(is_write || IsPublish(*spec))) {
      // CLIENT PAUSE: held, unparsed, until the pause ends (IoThread::ResumePaused).
      held_for_pause = true;
      io_->HoldForPause(id_);
      skip_next_ = skipped;  // not run: it is still the one to skip
      return false;
    } else {
      int64_t start = net::MonotonicUs();
      CommandContext ctx{Args(args), w, *this, *server_, *spec, NowMs()};
      // CLIENT TRACKING: a read's keys are remembered just before it runs or is proposed
      // (here, and in RouteCommand for a read it sends through the log), not when it is
      // redirected.
      if (queueing) {
        TrackRead(*spec, ctx.args, /*queued=*/true);
        QueueInTransaction(ctx);  // no proposal is in flight inside MULTI (see Dispatch's top)
      } else if (log_read && spec->ArityOk(args.size())) {
        const int p = LogReadPartition(ctx);
        if (p < 0) {  // cannot go through a log here: wait for the writes
          skip_next_ = skipped;
          return false;
        }
        TrackRead(*spec, ctx.args);
        ctx.Propose(p);
      } else if (RouteCommand(ctx)) {
        TrackRead(*spec, ctx.args);
        if (is_write && !transaction_.watched.empty()) CheckWatchedKeysBeforeWrite(ctx);
        spec->handler(ctx);
        // A string read met another type (ReadString): WRONGTYPE is the answer. A command
        // that went to the log is answered by its apply, which checks for itself.
        if (ctx.wrong_type && pending_ == pending_before) {
          sink->resize(before);
          w.Error(kErrWrongType);
        }
      }
      const int64_t took = net::MonotonicUs() - start;
      IoStats::Add(pc.calls, 1);
      IoStats::Add(pc.usec, took);
      // Answered here (not queued in MULTI, not sent to the log or the background worker,
      // which record their own time): slowlog.h.
      if (SlowLog::Slow(took, cfg.slowlog_slower_than_us.load(std::memory_order_relaxed)) &&
          !queueing && pending_ == pending_before) {
        server_->slowlog().Record(took, Args(args), peer_, name,
                                  cfg.slowlog_max_len.load(std::memory_order_relaxed));
      }
      if (sink->size() > before && (*sink)[before] == '-') {
        IoStats::Add(pc.failed, 1);
        IoStats::Add(st.errors, 1);
      }
    }
  }
  multi_queued.store(transaction_.active ? static_cast<int64_t>(transaction_.queued.size()) : -1,
                     std::memory_order_relaxed);
  multi_bytes.store(transaction_.bytes, std::memory_order_relaxed);
  // Counted once it has run (a read that returned above to wait for writes runs again later).
  IoStats::Add(st.commands, 1);
  // CLIENT CACHING holds for the next command only, or a whole MULTI ... EXEC (and through
  // other CLIENT subcommands), as Redis.
  if (tracking_.caching && !transaction_.active && (spec == nullptr || spec->name != "client")) {
    tracking_.caching = false;
  }
  if (reply_this_ < 0 || (reply_this_ == 0 && silent)) {
    sink->resize(before);  // a direct reply
    for (size_t i = slots_before; i < slots_.size(); ++i) slots_[i].discard = true;
  }
  if (sink == &queued && pending_ == pending_before) {
    slots_.push_back(Slot{true, 0, std::move(queued)});
  }
  if (!own_pushes_.empty()) {
    if (slots_.empty()) {
      out_ += own_pushes_;
    } else {
      slots_.push_back(Slot{true, 0, std::move(own_pushes_)});
    }
    own_pushes_.clear();
  }
  return true;
}

void ClientConn::OnCompletion(uint64_t seq, std::string&& reply) {
  if (closed_) return;
  for (auto& slot : slots_) {
    if (!slot.filled && slot.seq == seq) {
      slot.filled = true;
      slot.bytes = std::move(reply);
      --pending_;
      pending_bytes_ -= slot.request_bytes;
      break;
    }
  }
  while (!slots_.empty() && slots_.front().filled) {
    if (!slots_.front().discard) out_ += slots_.front().bytes;
    slots_.pop_front();
  }
  if (pending_ == 0) ProcessInput();
}

bool ClientConn::StalledSince(int64_t since_ms) const {
  return !closed_ && out_sent_ < out_.size() && last_progress_ms_ < since_ms;
}

void ClientConn::FlushAndMaybeClose() {
  if (closed_) return;
  IoStats& st = io_->stats();
  const Config& cfg = server_->config();
  if (out_sent_ == out_.size()) last_progress_ms_ = net::MonotonicMs();
  // Send; then, if requests were held back by the soft output limit and the client has read
  // enough, process them and send again (bounded rounds, so one client cannot hog the loop).
  int round = 0;
  for (; round < 16; ++round) {
    while (out_sent_ < out_.size()) {
      ssize_t n = send(fd_, out_.data() + out_sent_, out_.size() - out_sent_, MSG_NOSIGNAL);
      if (n > 0) {
        last_progress_ms_ = net::MonotonicMs();
        out_sent_ += n;
        IoStats::Add(st.net_out, n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      Close();
      return;
    }
    if (out_sent_ == out_.size()) {
      out_.clear();
      out_sent_ = 0;
      if (out_.capacity() > kKeepCapacity) out_.shrink_to_fit();
      if (close_after_reply_ && pending_ == 0) {
        Close();
        return;
      }
    }
    if (out_.size() - out_sent_ > OutputAllowance() || in_start_ >= in_.size() || pending_ > 0 ||
        in_process_ || close_after_reply_) {
      break;
    }
    const size_t before = out_.size() - out_sent_;
    ProcessInput();
    if (out_.size() - out_sent_ == before) break;
  }
  if (round == 16) io_->ResumeLater(id_);  // more to do: after the other connections' turn
  if (out_sent_ < out_.size()) {
    if (out_.size() - out_sent_ >
        static_cast<size_t>(cfg.output_hard_bytes.load(std::memory_order_relaxed))) {
      Close();  // a client that does not read its replies
      return;
    }
    if (out_sent_ > kKeepCapacity && out_sent_ * 2 > out_.size()) {
      out_.erase(0, out_sent_);
      out_sent_ = 0;
    }
  }
  CountOutput();
  UpdateInterest();
}

size_t ClientConn::OutputAllowance() const {
  const Config& cfg = server_->config();
  if (server_->client_output_bytes() > cfg.output_total_bytes.load(std::memory_order_relaxed)) {
    return 0;
  }
  return static_cast<size_t>(cfg.output_soft_bytes.load(std::memory_order_relaxed));
}

void ClientConn::CountOutput() {
  const size_t unsent = out_.size() - out_sent_;
  // The memory the unsent replies hold: the buffer's capacity, which its growth by doubling
  // (and the part already sent, dropped only now and then) puts at up to 3x what is unsent.
  const size_t held = unsent == 0 ? 0 : out_.capacity();
  if (held != out_counted_) {
    server_->AddClientOutput(static_cast<int64_t>(held) - static_cast<int64_t>(out_counted_));
    out_counted_ = held;
  }
  out_bytes.store(unsent, std::memory_order_relaxed);
}

void ClientConn::UncountOutput() {
  if (out_counted_ == 0) return;
  server_->AddClientOutput(-static_cast<int64_t>(out_counted_));
  out_counted_ = 0;
}

void ClientConn::UpdateInterest() {
  const bool want_write = out_sent_ < out_.size();
  // Stop reading while blocked (writes in flight, or replies unread) once a good amount of
  // input is buffered: the kernel's socket buffer then pushes back on the client.
  const bool blocked =
      pending_ > 0 || held_for_pause || out_.size() - out_sent_ > OutputAllowance();
  const bool reading = !(blocked && in_.size() - in_start_ > kKeepCapacity);
  if (want_write == want_write_ && reading == reading_) return;
  want_write_ = want_write;
  reading_ = reading;
  const uint32_t events = (reading ? uint32_t{EPOLLIN} : 0u) | (want_write ? uint32_t{EPOLLOUT} : 0u);
  io_->loop().Modify(fd_, events, this);
}

}  // namespace flin::server

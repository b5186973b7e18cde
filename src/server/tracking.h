#pragma once
// Tracking: CLIENT TRACKING on this node, the server side of Redis 6's client-side caching.
//
// Two modes, as Redis's:
//   - default: the keys a tracking client reads (a read-only command's keys) are remembered
//     against it; the first change of such a key sends the client an invalidation message and
//     forgets the key, until the client reads it again;
//   - BCAST: the client names prefixes (none: every key) and is sent every changed key that
//     starts with one, read or not. The keys one committed batch changed go out together, one
//     message per prefix.
// A client may redirect its messages to another connection (REDIRECT id): a RESP3 one gets the
// pushes, a RESP2 one in subscribed mode (to __redis__:invalidate) gets them as pub/sub
// messages of that channel. Once that connection is gone, the client gets
// `tracking-redir-broken` instead. NOLOOP leaves out the changes the client made itself.
// A flush sends a null key list ("everything") to every tracking client.
//
// Ordering. Changes are reported by the state machine once their batch is committed and
// readable (StateMachineImpl::AfterCommit), as keyspace notifications are; every replica
// applies every write, so each node invalidates its own clients. A client's keys are
// remembered *before* the read runs (ClientConn::Dispatch), so a change is either seen by
// that read or invalidated after it; and a connection queues an invalidation behind its own
// replies still in flight (ClientConn::Push), so a message never overtakes the reply that
// carried the old value.
//
// Bounds: at most tracking-table-max-keys remembered keys (beyond, keys are invalidated and
// forgotten to make room, as Redis does); prefixes and redirections are per client, like
// subscriptions.
//
// Threading: every method from any thread; one mutex over the state. Messages go to the I/O
// threads' PushSinks (pubsub.h) after it is released.
// Ownership: borrows the sinks, which outlive their connections; a connection calls Closed()
// as it closes.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <map>
#include <string>
#include <tuple>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "server/keyspace_events.h"
#include "server/pubsub.h"

namespace flin::server {

class Tracking {
 public:
  struct Mode {
    bool bcast = false;
    bool noloop = false;
    uint64_t redirect = 0;      // 0: none
    PushSink* redirect_sink = nullptr;  // the I/O thread of `redirect`
    std::vector<std::string> prefixes;  // BCAST: added to the client's (none at all: "")
  };

  // CLIENT TRACKING ON for connection `id` of `sink`; called again, replaces the mode but
  // keeps (and adds to) a BCAST client's prefixes, as Redis. Returns the client's prefixes now
  // (for CLIENT TRACKINGINFO).
  std::vector<std::string> Enable(PushSink* sink, uint64_t id, const Mode& mode);
  // CLIENT TRACKING OFF (and RESET). Keys remembered for the client are forgotten lazily
  // (at once when no client is left tracking).
  void Disable(uint64_t id);
  // The connection closed: Disable, and the clients redirecting to it now get
  // tracking-redir-broken.
  void Closed(uint64_t id);
  // Whether the client's redirection is broken: its target closed and a message could not go
  // there since (CLIENT TRACKINGINFO, CLIENT LIST's R).
  bool RedirectBroken(uint64_t id) const;

  // Default mode: the client may cache `keys` (one command's) from now on. Over
  // tracking-table-max-keys, keys are invalidated to make room (maybe some of these: the
  // caller sends their messages after the reply carrying them).
  void Remember(uint64_t id, const std::vector<std::string_view>& keys);
  void Remember(uint64_t id, std::string_view key) {
    Remember(id, std::vector<std::string_view>{key});
  }
  // A committed batch's changes (KeyEvent::writer made them; keyspace misses and "new" are
  // not changes). A kTrackFlush event invalidates everything.
  void Changed(const std::vector<KeyEvent>& events);
  // Everything changed (a flush, a replaced partition).
  void InvalidateAll();

  // Whether any client tracks: the state machine collects changes only then. Sequentially
  // consistent: a client counts itself before it reads, the state machine writes before it
  // looks again (StateMachineImpl::AfterCommit), and one of them must see the other.
  bool active() const { return clients_count_.load() > 0; }
  // tracking-table-max-keys (read at each Remember; 0: unbounded). Outlives this object.
  void set_max_keys(const std::atomic<int64_t>* n) { max_keys_ = n; }

  // INFO.
  size_t NumClients() const { return static_cast<size_t>(clients_count_.load()); }
  size_t NumKeys() const;
  size_t NumItems() const;
  size_t NumPrefixes() const;

  // The array of keys an invalidation carries, RESP-encoded (the same in RESP2 and RESP3).
  static std::string EncodeKeys(const std::vector<std::string_view>& keys);

 private:
  struct Client {
    PushSink* sink = nullptr;
    Mode mode;
    bool target_gone = false;  // the connection it redirects to closed
    bool broken = false;       // ... and a message could not go there since (Redis's flag)
  };
  // The messages one call sends, one batch per (sink, kind, message), found by `index`.
  struct Out {
    std::vector<std::pair<PushSink*, PushBatch>> batches;
    absl::flat_hash_map<std::tuple<PushSink*, int, const std::string*>, size_t> index;
    PushBatch& For(PushSink* sink, PushBatch::Kind kind,
                   const std::shared_ptr<const std::string>& message);
  };

  // Under mu_: the message for `id` (to itself or where it redirects) into `out`; `keys` null
  // means "everything".
  void SendLocked(uint64_t id, Client& c, const std::shared_ptr<const std::string>& keys,
                  Out* out);
  void InvalidateKeyLocked(std::string_view key, uint64_t writer, Out* out);
  void InvalidateAllLocked(Out* out);
  void RemoveLocked(uint64_t id);
  static void Deliver(Out* out);

  mutable std::mutex mu_;
  absl::flat_hash_map<uint64_t, Client> clients_;
  // Default mode: key -> clients that may cache it.
  absl::flat_hash_map<std::string, std::vector<uint64_t>> table_;
  size_t items_ = 0;
  // BCAST: prefix -> clients, and how many prefixes there are of each length (a changed key
  // is looked up once per length, not compared with every prefix).
  absl::flat_hash_map<std::string, std::vector<uint64_t>> prefixes_;
  std::map<size_t, size_t> prefix_lengths_;
  // Redirect target -> the clients redirecting to it.
  absl::flat_hash_map<uint64_t, std::vector<uint64_t>> redirected_;
  std::atomic<int64_t> clients_count_{0};
  const std::atomic<int64_t>* max_keys_ = nullptr;
};

}  // namespace flin::server

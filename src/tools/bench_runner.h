#pragma once
// BenchThread: one client thread of flin-bench. It owns its share of the connections and
// drives them all from one epoll loop: each client keeps --pipeline requests in flight (a
// closed loop), every reply is matched to its request in order, and the time from queuing
// the request to reading its reply goes into a per-operation histogram.
//
// In cluster mode a client holds one connection per node and sends each request to the node
// that serves its key's slot, by the thread's own copy of the slot map (RouteTable). A -MOVED
// reply updates that map and the request is resent to the node it names; -ASK resends it once
// to the node named, after ASKING. Both are counted as redirects, not errors, and a request
// redirected more than kMaxRedirects times is an error. The latency of a redirected request
// runs from its first send to its final reply. Every other error reply (TRYAGAIN,
// CLUSTERDOWN, TIMEOUT, ...) is counted as an error and never retried into a success.
//
// A connection that fails loses its in-flight requests (errors, counted as lost); the thread
// then reloads the map (CLUSTER SLOTS from any reachable node) and reconnects with back-off.
// A request whose node cannot be reached meanwhile waits (parked) until the map or the node
// comes back, at most kParkTimeout, then is an error too. Outside cluster mode (one server) a
// failed connection ends its client, and a redirection is an error like any other.
//
// Thread-safety: construct and Connect() on one thread, then Run() on the bench thread; the
// only state shared while running is Progress (atomics).

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "flin/cluster.h"
#include "flin/connection.h"
#include "tools/bench_options.h"
#include "tools/histogram.h"
#include "tools/workload.h"

namespace flin::bench {

using Clock = std::chrono::steady_clock;

// Which nodes exist and which serves each slot.
struct Topology {
  std::vector<NodeAddress> nodes;
  std::vector<int16_t> slot_node;  // kSlots entries, index into nodes
  bool cluster = false;
};
// Reads the topology from the first reachable seed (CLUSTER SLOTS, or one plain server).
Result<Topology> LoadTopology(const BenchOptions& options);

inline constexpr int kMaxRedirects = 5;  // MOVED/ASK followed per request, then an error
inline constexpr auto kParkTimeout = std::chrono::seconds(5);
inline constexpr auto kRefreshInterval = std::chrono::milliseconds(100);

// One bench thread's slot map. Node indexes are stable: a node once known keeps its index
// (its connections are found by it) even when a refresh leaves it no slot.
class RouteTable {
 public:
  explicit RouteTable(const Topology& topology);
  // The node serving `slot`, or -1 when no node is known to.
  int NodeOf(int slot) const { return slot_node_[slot]; }
  // The index of `node`, added if new.
  int IndexOf(const NodeAddress& node);
  // After "MOVED slot node".
  void Assign(int slot, int node) { slot_node_[slot] = static_cast<int16_t>(node); }
  // Takes every slot's owner from a fresh map (CLUSTER SLOTS). A slot the map leaves
  // uncovered (its partition is electing) keeps its last known owner: requests for it then
  // wait for that node or the next map rather than drawing CLUSTERDOWN from another node.
  void Replace(const SlotMap& map);
  const std::vector<NodeAddress>& nodes() const { return nodes_; }

 private:
  std::vector<NodeAddress> nodes_;
  std::vector<int16_t> slot_node_;  // kSlots entries
};

// What to do with a reply: accept it as final (a success or an error), or resend the request
// where a redirection says.
struct ReplyAction {
  enum Kind { kFinal, kFollowMoved, kFollowAsk, kTooManyRedirects } kind = kFinal;
  Redirect redirect;  // kFollowMoved / kFollowAsk
};
// `redirects` is how often the request was redirected already; `follow` is false outside
// cluster mode (redirections are then final errors). `host` fills a redirect's empty host.
ReplyAction DecideReply(const Reply& reply, int redirects, bool follow, const std::string& host);

// Delay before reconnect attempt `failures` (1, 2, ...) to a node: doubles from 50 ms, at
// most 1 s.
Clock::duration ReconnectBackoff(int failures);

struct Progress {
  std::atomic<uint64_t> completed{0};  // replies (ok + error) in the measured window
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> ok{0};  // successful replies in the measured window
};

struct RunPlan {
  Clock::time_point measure_start;  // replies to requests sent before this are not counted
  Clock::time_point end;            // duration mode: stop sending; later replies not counted
  int64_t quota = 0;                // requests mode: measured requests this thread sends
  // Set (by a signal, from any thread): stop sending now, in either mode; replies to what was
  // sent are still awaited and counted. Null: never.
  const std::atomic<bool>* stop = nullptr;
  bool Stopped() const { return stop != nullptr && stop->load(std::memory_order_relaxed); }
};

struct ThreadResult {
  ThreadResult() : histograms(kOpCount) {}
  std::vector<LatencyHistogram> histograms;  // successful replies, per operation
  uint64_t ok[kOpCount] = {};
  uint64_t errors[kOpCount] = {};
  uint64_t redirects = 0;       // MOVED/ASK followed (not errors); cluster mode only
  uint64_t lost = 0;            // requests whose connection failed or that found no node
                                // (counted in errors too)
  uint64_t reconnects = 0;      // connections reopened after a failure (cluster mode)
  uint64_t refreshes = 0;       // slot map reloads (cluster mode)
  uint64_t parked = 0;          // times a request waited for its node to be reachable
  Clock::time_point last_reply{};
  std::string first_error;
  std::map<std::string, uint64_t> error_kinds;  // error replies by first word (TRYAGAIN, ...)
  std::map<std::string, std::string> first_error_of_kind;  // the first such reply of each
};

class BenchThread {
 public:
  BenchThread(const BenchOptions& options, const Topology& topology, const ZipfParams* zipf,
              int index, int thread_count, int clients, Progress* progress);
  ~BenchThread();

  // Opens every connection; an error names the node that refused. Against a cluster, a node
  // that cannot be reached is tried again during the run (as one lost mid-run is: its
  // requests wait for it or for a map that no longer names it), so a run can start while a
  // node is down; an error only if a client reaches no node at all.
  Status Connect();
  void Run(const RunPlan& plan);
  const ThreadResult& result() const { return result_; }

 private:
  struct Client;
  // One request, with what it takes to send it again (its key is rebuilt from key_index).
  struct Request {
    Clock::time_point at;  // first send: latency runs from here
    Op op;
    uint8_t redirects = 0;
    bool asking = false;  // the ASKING before an ASK resend: its reply is dropped
    uint64_t key_index = 0;
  };
  struct Conn {
    std::unique_ptr<Connection> conn;
    Client* client = nullptr;
    int node = 0;
    std::deque<Request> in_flight;
    bool watching_write = false;
    bool dirty = false;
    bool dead = false;
  };
  struct Client {
    std::vector<std::unique_ptr<Conn>> conns;  // by node index; null: none (yet, or lost)
    int in_flight = 0;                         // requests sent or parked, not answered
    bool dead = false;
  };
  struct NodeState {
    int failures = 0;  // consecutive failed connects
    Clock::time_point retry_at{};
  };
  // A connect to `node` failed at `now`: it is not tried again before its back-off, and the
  // map is reloaded.
  void NoteConnectFailure(int node, Clock::time_point now);
  struct Parked {
    Client* client;
    Request request;
    Clock::time_point since;
  };

  bool Issue(Client* client, Clock::time_point now, const RunPlan& plan);
  // Sends request (whose argv is in argv_) to node (-1: any), or parks it.
  void Send(Client* client, const Request& request, int node, bool ask, Clock::time_point now);
  // The same without parking: false when node has no connection now.
  bool SendNow(Client* client, const Request& request, int node, bool ask, Clock::time_point now);
  int RouteOf(const Request& request);
  Conn* ConnTo(Client* client, int node, Clock::time_point now);
  Status Open(Client* client, int node, std::chrono::milliseconds timeout);
  void OnReplies(Conn* c, Clock::time_point now, const RunPlan& plan);
  void FollowRedirect(Client* client, Request request, const ReplyAction& action,
                      Clock::time_point now);
  void Finish(Client* client, const Request& request, Clock::time_point now,
              const RunPlan& plan, const Reply* error);
  void Fail(Conn* c, const Status& why);
  void LoseRequest(Client* client, const Request& request);
  void Maintain(Clock::time_point now, const RunPlan& plan, bool sending);
  void RefreshRoutes(Clock::time_point now);
  void MarkDirty(Conn* c);
  void FlushDirty();
  void PublishProgress();

  const BenchOptions& options_;
  const bool cluster_;  // route by slot and follow redirections
  RouteTable routes_;
  std::vector<NodeState> node_state_;  // by node index
  Workload workload_;
  const int clients_count_;
  Progress* progress_;
  int epoll_fd_ = -1;
  std::vector<std::unique_ptr<Client>> clients_;
  std::vector<std::unique_ptr<Conn>> graveyard_;  // failed; freed once no event names them
  std::vector<Conn*> dirty_;
  std::deque<Parked> parked_;
  std::unique_ptr<Connection> control_;  // blocking, for CLUSTER SLOTS
  bool refresh_wanted_ = false;
  Clock::time_point last_refresh_{};
  Clock::time_point next_maintenance_{};
  std::vector<std::string_view> argv_;
  int64_t issued_measured_ = 0;
  uint64_t progress_pending_ = 0;
  uint64_t progress_errors_pending_ = 0;
  uint64_t progress_ok_pending_ = 0;
  ThreadResult result_;
};

}  // namespace flin::bench

#pragma once
// BenchThread: one client thread of flin-bench. It owns its share of the connections and
// drives them all from one epoll loop: each client keeps --pipeline requests in flight (a
// closed loop), every reply is matched to its request in order, and the time from queuing
// the request to reading its reply goes into a per-operation histogram.
//
// In cluster mode a client holds one connection per node and sends each request to the node
// that serves its key's slot (the map is read once at start). A redirection is an error: the
// bench measures a stable cluster and never retries a request into a success.
//
// Thread-safety: construct and Connect() on one thread, then Run() on the bench thread; the
// only state shared while running is Progress (atomics).

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
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

struct Progress {
  std::atomic<uint64_t> completed{0};  // replies (ok + error) in the measured window
  std::atomic<uint64_t> errors{0};
};

struct RunPlan {
  Clock::time_point measure_start;  // replies to requests sent before this are not counted
  Clock::time_point end;            // duration mode: stop sending; later replies not counted
  int64_t quota = 0;                // requests mode: measured requests this thread sends
};

struct ThreadResult {
  ThreadResult() : histograms(kOpCount) {}
  std::vector<LatencyHistogram> histograms;  // successful replies, per operation
  uint64_t ok[kOpCount] = {};
  uint64_t errors[kOpCount] = {};
  uint64_t redirects = 0;       // MOVED/ASK replies (counted in errors too)
  uint64_t lost = 0;            // requests whose connection failed (counted in errors too)
  Clock::time_point last_reply{};
  std::string first_error;
};

class BenchThread {
 public:
  BenchThread(const BenchOptions& options, const Topology& topology, const ZipfParams* zipf,
              int index, int thread_count, int clients, Progress* progress);
  ~BenchThread();

  // Opens every connection; an error names the node that refused.
  Status Connect();
  void Run(const RunPlan& plan);
  const ThreadResult& result() const { return result_; }

 private:
  struct Client;
  struct Conn {
    std::unique_ptr<Connection> conn;
    Client* client = nullptr;
    struct Sent {
      Clock::time_point at;
      Op op;
    };
    std::deque<Sent> in_flight;
    bool watching_write = false;
    bool dirty = false;
    bool dead = false;
  };
  struct Client {
    std::vector<Conn*> conns;  // one per node
    int in_flight = 0;
    bool dead = false;
  };

  bool Issue(Client* client, Clock::time_point now, const RunPlan& plan);
  void OnReplies(Conn* c, Clock::time_point now, const RunPlan& plan);
  void Fail(Conn* c, const Status& why);
  void FlushDirty();

  const BenchOptions& options_;
  const Topology& topology_;
  Workload workload_;
  const int clients_count_;
  Progress* progress_;
  int epoll_fd_ = -1;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::vector<std::unique_ptr<Client>> clients_;
  std::vector<Conn*> dirty_;
  std::vector<std::string_view> argv_;
  int64_t issued_measured_ = 0;
  uint64_t progress_pending_ = 0;
  uint64_t progress_errors_pending_ = 0;
  ThreadResult result_;
};

}  // namespace flin::bench

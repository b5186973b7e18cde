// flin-bench's cluster routing: the pieces (RouteTable, DecideReply, ReconnectBackoff,
// Workload::Rebuild) and BenchThread against fake cluster nodes started in the test — nodes
// that answer MOVED, ASK, TRYAGAIN, or vanish mid-run.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>

#include "common/slot.h"
#include "tools/bench_runner.h"

namespace flin::bench {
namespace {

// ---- the pieces ----

Topology TwoNodes() {
  Topology t;
  t.cluster = true;
  t.nodes = {{"127.0.0.1", 7001}, {"127.0.0.1", 7002}};
  t.slot_node.assign(kSlots, 0);
  return t;
}

TEST(RouteTableTest, MovedAssignsOneSlotAndAddsUnknownNodes) {
  RouteTable routes(TwoNodes());
  EXPECT_EQ(routes.NodeOf(5), 0);
  routes.Assign(5, routes.IndexOf({"127.0.0.1", 7002}));
  EXPECT_EQ(routes.NodeOf(5), 1);
  EXPECT_EQ(routes.NodeOf(6), 0);
  const int third = routes.IndexOf({"127.0.0.1", 7003});
  EXPECT_EQ(third, 2);
  EXPECT_EQ(routes.IndexOf({"127.0.0.1", 7003}), 2);
  EXPECT_EQ(routes.nodes().size(), 3u);
}

TEST(RouteTableTest, ReplaceKeepsIndexesAndTheOwnersOfUncoveredSlots) {
  RouteTable routes(TwoNodes());
  SlotMap map;
  map.Assign(0, {"127.0.0.1", 7003});  // a new node
  map.Assign(1, {"127.0.0.1", 7002});
  routes.Replace(map);
  EXPECT_EQ(routes.nodes()[0].port, 7001);  // still index 0 though it serves nothing now
  EXPECT_EQ(routes.NodeOf(0), 2);
  EXPECT_EQ(routes.NodeOf(1), 1);
  EXPECT_EQ(routes.NodeOf(2), 0);  // not in the map: last known owner
}

Reply Error(std::string text) {
  Reply r;
  r.type = ReplyType::kError;
  r.str = std::move(text);
  return r;
}

TEST(DecideReplyTest, FollowsMovedAndAskUpToTheBound) {
  ReplyAction a = DecideReply(Error("MOVED 42 10.0.0.2:7002"), 0, true, "h");
  EXPECT_EQ(a.kind, ReplyAction::kFollowMoved);
  EXPECT_EQ(a.redirect.slot, 42);
  EXPECT_EQ(a.redirect.node, (NodeAddress{"10.0.0.2", 7002}));
  a = DecideReply(Error("ASK 42 :7003"), kMaxRedirects - 1, true, "h");
  EXPECT_EQ(a.kind, ReplyAction::kFollowAsk);
  EXPECT_EQ(a.redirect.node, (NodeAddress{"h", 7003}));  // empty host: the replying node's
  EXPECT_EQ(DecideReply(Error("MOVED 42 h:1"), kMaxRedirects, true, "h").kind,
            ReplyAction::kTooManyRedirects);
}

TEST(DecideReplyTest, EverythingElseIsFinal) {
  for (const char* e : {"TRYAGAIN leadership changed", "CLUSTERDOWN no leader",
                        "TIMEOUT not confirmed", "ERR wrong", "MOVED nonsense", "MOVEDX 1 h:1"}) {
    EXPECT_EQ(DecideReply(Error(e), 0, true, "h").kind, ReplyAction::kFinal) << e;
  }
  Reply ok;
  ok.type = ReplyType::kStatus;
  ok.str = "MOVED 1 h:1";  // not an error reply
  EXPECT_EQ(DecideReply(ok, 0, true, "h").kind, ReplyAction::kFinal);
  // Outside cluster mode a redirection is an error like any other.
  EXPECT_EQ(DecideReply(Error("MOVED 1 h:1"), 0, false, "h").kind, ReplyAction::kFinal);
}

TEST(ReconnectBackoffTest, DoublesThenCaps) {
  using std::chrono::milliseconds;
  EXPECT_EQ(ReconnectBackoff(1), milliseconds(50));
  EXPECT_EQ(ReconnectBackoff(2), milliseconds(100));
  EXPECT_EQ(ReconnectBackoff(5), milliseconds(800));
  EXPECT_EQ(ReconnectBackoff(6), milliseconds(1000));
  EXPECT_EQ(ReconnectBackoff(100), milliseconds(1000));
}

TEST(WorkloadTest, RebuildMakesTheSameRequestAgain) {
  BenchOptions o;
  o.mix = {{Op::kGet, 1}, {Op::kSet, 1}, {Op::kIncr, 1}, {Op::kPing, 1}};
  o.value_size = 7;
  Workload w(o, nullptr, 0, 1);
  std::vector<std::string_view> argv, again;
  for (int i = 0; i < 200; ++i) {
    uint64_t index = 0;
    const Op op = w.Next(&argv, &index);
    const std::vector<std::string> first(argv.begin(), argv.end());
    w.Rebuild(op, index, &again);
    ASSERT_EQ(std::vector<std::string>(again.begin(), again.end()), first);
  }
}

// ---- BenchThread against fake nodes ----

// A RESP server on a loopback port, run by its own thread: each command (an array of bulk
// strings) is answered with the raw RESP text the handler returns.
class FakeNode {
 public:
  struct ConnState {
    bool asking = false;  // the previous command was ASKING
  };
  using Handler = std::function<std::string(const std::vector<std::string>&, ConnState*)>;

  explicit FakeNode(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    ::listen(listen_fd_, 128);
    thread_ = std::thread([this] { Loop(); });
  }
  ~FakeNode() { Stop(); }

  int port() const { return port_; }
  NodeAddress address() const { return {"127.0.0.1", port_}; }
  // Closes the listener and every connection, as a killed process would.
  void Stop() {
    if (stop_.exchange(true)) return;
    thread_.join();
  }

 private:
  struct Client {
    int fd;
    std::string in;
    ConnState state;
  };

  // Parses one command off the front of `in`; false if it is not complete yet.
  static bool ParseCommand(std::string* in, std::vector<std::string>* argv) {
    argv->clear();
    size_t pos = 0;
    auto line = [&](char tag, long* n) {
      if (pos >= in->size() || (*in)[pos] != tag) return false;
      const size_t end = in->find("\r\n", pos);
      if (end == std::string::npos) return false;
      *n = std::stol(in->substr(pos + 1, end - pos - 1));
      pos = end + 2;
      return true;
    };
    long count = 0;
    if (!line('*', &count)) return false;
    for (long i = 0; i < count; ++i) {
      long len = 0;
      if (!line('$', &len) || pos + len + 2 > in->size()) return false;
      argv->push_back(in->substr(pos, len));
      pos += len + 2;
    }
    in->erase(0, pos);
    return true;
  }

  void Loop() {
    std::vector<Client> clients;
    std::vector<std::string> argv;
    while (!stop_.load()) {
      std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
      for (const Client& c : clients) fds.push_back({c.fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 10) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        const int fd = ::accept(listen_fd_, nullptr, nullptr);
        if (fd >= 0) clients.push_back({fd, {}, {}});
      }
      for (size_t i = 1; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        Client& c = clients[i - 1];
        char buf[16384];
        const ssize_t n = ::read(c.fd, buf, sizeof(buf));
        if (n <= 0) {
          ::close(c.fd);
          c.fd = -1;
          continue;
        }
        c.in.append(buf, static_cast<size_t>(n));
        std::string out;
        while (ParseCommand(&c.in, &argv)) {
          out += handler_(argv, &c.state);
          c.state.asking = argv[0] == "ASKING";
        }
        for (size_t off = 0; off < out.size();) {
          const ssize_t w = ::write(c.fd, out.data() + off, out.size() - off);
          if (w <= 0) break;
          off += static_cast<size_t>(w);
        }
      }
      std::erase_if(clients, [](const Client& c) { return c.fd < 0; });
    }
    for (const Client& c : clients) ::close(c.fd);
    ::close(listen_fd_);
  }

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// CLUSTER SLOTS naming `owners`: [first, last, node].
std::string SlotsReply(const std::vector<std::tuple<int, int, NodeAddress>>& owners) {
  std::string out = "*" + std::to_string(owners.size()) + "\r\n";
  for (const auto& [first, last, node] : owners) {
    out += "*3\r\n:" + std::to_string(first) + "\r\n:" + std::to_string(last) + "\r\n*2\r\n$" +
           std::to_string(node.host.size()) + "\r\n" + node.host + "\r\n:" +
           std::to_string(node.port) + "\r\n";
  }
  return out;
}

std::string Redirect(const char* kind, const std::vector<std::string>& argv,
                     const NodeAddress& to) {
  return std::string("-") + kind + " " + std::to_string(KeySlot(argv[1])) + " " +
         to.ToString() + "\r\n";
}

struct Totals {
  ThreadResult result;
  uint64_t ok = 0;
  uint64_t errors = 0;
  uint64_t recorded = 0;
};

// One bench thread, seeded with `seed`, GET/SET over 1000 keys: `requests` requests, or (if
// 0) for `duration`.
Totals RunBench(const NodeAddress& seed, int64_t requests,
                std::chrono::milliseconds duration = std::chrono::milliseconds(0)) {
  BenchOptions options;
  options.cluster = {seed};
  options.connections = 4;
  options.pipeline = 8;
  options.keyspace = 1000;
  Result<Topology> topology = LoadTopology(options);
  EXPECT_TRUE(topology.ok()) << topology.status().ToString();
  EXPECT_TRUE(topology->cluster);
  Progress progress;
  BenchThread thread(options, *topology, nullptr, 0, 1, options.connections, &progress);
  Status s = thread.Connect();
  EXPECT_TRUE(s.ok()) << s.ToString();
  RunPlan plan;
  plan.measure_start = Clock::now();
  plan.end = requests > 0 ? Clock::time_point::max() : plan.measure_start + duration;
  plan.quota = requests;
  thread.Run(plan);
  Totals t{thread.result()};
  for (int op = 0; op < kOpCount; ++op) {
    t.ok += t.result.ok[op];
    t.errors += t.result.errors[op];
    t.recorded += t.result.histograms[op].count();
  }
  return t;
}

std::string Serve(const std::vector<std::string>& argv) {
  return argv[0] == "SET" ? "+OK\r\n" : "$-1\r\n";
}

TEST(BenchRoutingTest, MovedIsFollowedCountedAsRedirectAndTheMapLearnsIt) {
  std::atomic<int> b_served{0};
  FakeNode b([&](const std::vector<std::string>& argv, FakeNode::ConnState*) {
    if (argv[0] == "CLUSTER") return SlotsReply({{0, kSlots - 1, b.address()}});
    ++b_served;
    return Serve(argv);
  });
  // Every slot moved from A to B after the bench read its map: A redirects every key, and
  // its map (read again after a MOVED) now names B.
  std::atomic<int> a_maps{0};
  FakeNode a([&](const std::vector<std::string>& argv, FakeNode::ConnState*) {
    if (argv[0] == "CLUSTER") {
      return SlotsReply({{0, kSlots - 1, a_maps++ == 0 ? a.address() : b.address()}});
    }
    return Redirect("MOVED", argv, b.address());
  });
  Totals t = RunBench(a.address(), 3000);
  EXPECT_EQ(t.ok, 3000u);
  EXPECT_EQ(t.errors, 0u) << t.result.first_error;
  EXPECT_EQ(t.recorded, 3000u);
  EXPECT_GT(t.result.redirects, 0u);
  // The map is reloaded after the first MOVEDs: most requests go to B directly.
  EXPECT_LT(t.result.redirects, 1500u);
  EXPECT_GE(t.result.refreshes, 1u);
  EXPECT_EQ(b_served.load(), 3000);
  EXPECT_TRUE(t.result.error_kinds.empty());
}

TEST(BenchRoutingTest, AskSendsAskingAndResendsOnceWithoutTouchingTheMap) {
  // Every slot is migrating from A to B: A answers ASK, B serves a command only right after
  // ASKING (and redirects it back to A otherwise, as a real node would).
  std::atomic<int> b_served{0}, b_unasked{0};
  std::unique_ptr<FakeNode> a;
  FakeNode b([&](const std::vector<std::string>& argv, FakeNode::ConnState* st) {
    if (argv[0] == "CLUSTER") return SlotsReply({{0, kSlots - 1, a->address()}});
    if (argv[0] == "ASKING") return std::string("+OK\r\n");
    if (!st->asking) {
      ++b_unasked;
      return Redirect("MOVED", argv, a->address());
    }
    ++b_served;
    return Serve(argv);
  });
  a = std::make_unique<FakeNode>([&](const std::vector<std::string>& argv,
                                     FakeNode::ConnState*) {
    if (argv[0] == "CLUSTER") return SlotsReply({{0, kSlots - 1, a->address()}});
    return Redirect("ASK", argv, b.address());
  });
  Totals t = RunBench(a->address(), 1000);
  EXPECT_EQ(t.ok, 1000u);
  EXPECT_EQ(t.errors, 0u) << t.result.first_error;
  EXPECT_EQ(t.result.redirects, 1000u);  // one ASK each: the map still (rightly) names A
  EXPECT_EQ(b_served.load(), 1000);
  EXPECT_EQ(b_unasked.load(), 0);
  a->Stop();
}

TEST(BenchRoutingTest, RedirectionsAreBoundedThenAnError) {
  FakeNode a([&](const std::vector<std::string>& argv, FakeNode::ConnState*) {
    if (argv[0] == "CLUSTER") return SlotsReply({{0, kSlots - 1, a.address()}});
    return Redirect("MOVED", argv, a.address());  // a loop
  });
  Totals t = RunBench(a.address(), 200);
  EXPECT_EQ(t.ok, 0u);
  EXPECT_EQ(t.errors, 200u);
  EXPECT_EQ(t.result.redirects, 200u * kMaxRedirects);
  EXPECT_EQ(t.result.error_kinds["MOVED"], 200u);
  EXPECT_EQ(t.recorded, 0u);
}

TEST(BenchRoutingTest, TransientClusterErrorsAreErrorsNeverRetried) {
  for (const char* error : {"TRYAGAIN leadership changed", "CLUSTERDOWN no leader",
                            "TIMEOUT the write was not confirmed"}) {
    std::atomic<int> seen{0};
    FakeNode a([&](const std::vector<std::string>& argv, FakeNode::ConnState*) {
      if (argv[0] == "CLUSTER") return SlotsReply({{0, kSlots - 1, a.address()}});
      ++seen;
      return "-" + std::string(error) + "\r\n";
    });
    Totals t = RunBench(a.address(), 300);
    EXPECT_EQ(t.ok, 0u) << error;
    EXPECT_EQ(t.errors, 300u) << error;
    EXPECT_EQ(seen.load(), 300) << error;  // each sent once
    EXPECT_EQ(t.result.redirects, 0u);
    const std::string kind(error, std::string_view(error).find(' '));
    EXPECT_EQ(t.result.error_kinds[kind], 300u);
    EXPECT_EQ(t.result.first_error_of_kind[kind], error);
  }
}

TEST(BenchRoutingTest, EachKindOfErrorKeepsItsFirstMessage) {
  std::atomic<int> n{0};
  FakeNode a([&](const std::vector<std::string>& argv, FakeNode::ConnState*) {
    if (argv[0] == "CLUSTER") return SlotsReply({{0, kSlots - 1, a.address()}});
    const int i = n++;
    return std::string(i % 3 == 2 ? "-CLUSTERDOWN down " : "-TRYAGAIN again ") +
           std::to_string(i) + "\r\n";
  });
  Totals t = RunBench(a.address(), 300);
  EXPECT_EQ(t.errors, 300u);
  EXPECT_EQ(t.result.error_kinds["TRYAGAIN"], 200u);
  EXPECT_EQ(t.result.error_kinds["CLUSTERDOWN"], 100u);
  ASSERT_EQ(t.result.first_error_of_kind.size(), 2u);
  EXPECT_TRUE(t.result.first_error_of_kind["TRYAGAIN"].starts_with("TRYAGAIN again "));
  EXPECT_TRUE(t.result.first_error_of_kind["CLUSTERDOWN"].starts_with("CLUSTERDOWN down "));
  EXPECT_TRUE(t.result.first_error == t.result.first_error_of_kind["TRYAGAIN"] ||
              t.result.first_error == t.result.first_error_of_kind["CLUSTERDOWN"]);
}

TEST(BenchRoutingTest, LostNodeLosesItsRequestsAndTheRunGoesOnViaTheNewMap) {
  const int half = kSlots / 2;
  std::atomic<bool> b_gone{false};
  std::atomic<int> a_upper_after{0};  // requests for B's former slots that A served
  std::unique_ptr<FakeNode> b;
  FakeNode a([&](const std::vector<std::string>& argv, FakeNode::ConnState*) {
    if (argv[0] == "CLUSTER") {
      if (b_gone) return SlotsReply({{0, kSlots - 1, a.address()}});
      return SlotsReply({{0, half - 1, a.address()}, {half, kSlots - 1, b->address()}});
    }
    if (b_gone && KeySlot(argv[1]) >= half) ++a_upper_after;
    return Serve(argv);
  });
  b = std::make_unique<FakeNode>([&](const std::vector<std::string>& argv,
                                     FakeNode::ConnState*) {
    if (argv[0] == "CLUSTER") {
      return SlotsReply({{0, half - 1, a.address()}, {half, kSlots - 1, b->address()}});
    }
    return Serve(argv);
  });
  std::thread killer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    b->Stop();  // in-flight requests on B are lost; the cluster hands B's slots to A
    b_gone = true;
  });
  Totals t = RunBench(a.address(), 0, std::chrono::milliseconds(1200));
  killer.join();
  EXPECT_GT(t.result.lost, 0u);
  EXPECT_EQ(t.errors, t.result.lost) << t.result.first_error;
  EXPECT_GT(a_upper_after.load(), 100);  // the thread found B's slots on A and went on
  EXPECT_GE(t.result.refreshes, 1u);
  EXPECT_GT(t.ok, 1000u);
}

// A run may start while a node the map names is down (killed, its partitions not yet taken
// over): it used to fail at once ("connect: ... refused"). Now the node's requests wait for a
// map that no longer names it, as for a node lost mid-run.
TEST(BenchRoutingTest, RunStartsWhileANodeOfTheMapIsDown) {
  const int half = kSlots / 2;
  std::unique_ptr<FakeNode> b;
  std::atomic<int> maps{0};
  std::atomic<int> a_upper{0};  // requests for B's slots that A served
  FakeNode a([&](const std::vector<std::string>& argv, FakeNode::ConnState*) {
    if (argv[0] == "CLUSTER") {
      // The first map (the one the run starts from) still names B.
      if (maps++ == 0) return SlotsReply({{0, half - 1, a.address()}, {half, kSlots - 1, b->address()}});
      return SlotsReply({{0, kSlots - 1, a.address()}});
    }
    if (KeySlot(argv[1]) >= half) ++a_upper;
    return Serve(argv);
  });
  b = std::make_unique<FakeNode>([](const std::vector<std::string>& argv, FakeNode::ConnState*) {
    return Serve(argv);
  });
  b->Stop();  // down before the run starts
  Totals t = RunBench(a.address(), 0, std::chrono::milliseconds(600));
  EXPECT_EQ(t.errors, 0u) << t.result.first_error;
  EXPECT_GT(a_upper.load(), 100) << "B's slots were served by A once the map said so";
  EXPECT_GE(t.result.refreshes, 1u);
  EXPECT_GT(t.ok, 1000u);
}

}  // namespace
}  // namespace flin::bench

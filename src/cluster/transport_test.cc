#include "cluster/transport.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "cluster/transport_frame.h"
#include "net/socket.h"

namespace flin::cluster {
namespace {

using std::chrono::milliseconds;
constexpr milliseconds kWait(10000);  // generous: a failure, not a slow machine, should trip it
constexpr char kCluster[] = "test-cluster";

// A port that was free a moment ago (peers must know each other's port before starting).
// The port a bound socket listens on.
int PortOf(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

int FreePort() {
  auto fd = net::Listen("127.0.0.1", 0, false);
  EXPECT_TRUE(fd.ok());
  const int port = PortOf(fd.value());
  close(fd.value());
  return port;
}

// Collects what a transport receives; tests wait on it with a timeout.
class Inbox {
 public:
  Transport::Receiver receiver() {
    return [this](uint64_t from, std::string&& payload) {
      std::lock_guard<std::mutex> lock(mu_);
      got_[from].push_back(std::move(payload));
      ++total_;
      cv_.notify_all();
    };
  }
  bool WaitTotal(size_t n, milliseconds timeout = kWait) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return total_ >= n; });
  }
  bool WaitFrom(uint64_t from, size_t n, milliseconds timeout = kWait) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return got_[from].size() >= n; });
  }
  std::vector<std::string> From(uint64_t from) {
    std::lock_guard<std::mutex> lock(mu_);
    return got_[from];
  }
  size_t total() {
    std::lock_guard<std::mutex> lock(mu_);
    return total_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, std::vector<std::string>> got_;
  size_t total_ = 0;
};

// For state no callback announces (connection counters): checks `pred` until it holds or the
// deadline passes.
template <typename Pred>
bool Eventually(Pred pred, milliseconds timeout = kWait) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(2));
  }
  return true;
}

TransportOptions Options(uint64_t id, const std::map<uint64_t, int>& ports) {
  TransportOptions o;
  o.node_id = id;
  o.cluster_id = kCluster;
  o.bind_port = ports.at(id);
  for (const auto& [pid, port] : ports) {
    if (pid != id) o.peers.push_back(PeerAddress{pid, "127.0.0.1", port});
  }
  o.connect_timeout_ms = 500;
  o.reconnect_backoff_ms = 20;
  return o;
}

struct Node {
  Inbox inbox;
  std::unique_ptr<Transport> t;
  void Start(TransportOptions o) {
    t = std::make_unique<Transport>(std::move(o), inbox.receiver());
    Status s = t->Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
};

std::string Payload(uint64_t from, int i) {
  std::string p = std::to_string(from) + ":" + std::to_string(i) + ":";
  // Every 50th payload is large, so writes are partial and frames span many reads.
  p.append(i % 50 == 0 ? (256 << 10) + i : i % 7, static_cast<char>('a' + i % 26));
  return p;
}

Transport::PeerState StateOf(const Transport& t, uint64_t id) {
  for (const auto& s : t.Peers()) {
    if (s.id == id) return s;
  }
  ADD_FAILURE() << "no peer " << id;
  return {};
}

// A raw client socket, for sending what no Transport would.
int RawConnect(int port) {
  auto fd = net::Connect("127.0.0.1", port, 1000);
  EXPECT_TRUE(fd.ok());
  if (!fd.ok()) return -1;
  fcntl(fd.value(), F_SETFL, fcntl(fd.value(), F_GETFL) & ~O_NONBLOCK);  // Connect's is not
  return fd.value();
}

void WriteAll(int fd, const std::string& bytes) {
  ASSERT_EQ(send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
}

// True if the other end closes `fd` (EOF or reset) within the wait.
bool ClosedByPeer(int fd) {
  timeval tv{static_cast<time_t>(kWait.count() / 1000), 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  char buf[256];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
  }
}

std::string Hello(uint64_t node_id) {
  Handshake h;
  h.node_id = node_id;
  h.cluster_id = kCluster;
  return EncodeHandshakeFrame(h);
}

std::string Frame(const std::string& payload) {
  std::string f(kFrameHeaderBytes, '\0');
  EncodeFrameHeader(static_cast<uint32_t>(payload.size()), f.data());
  return f + payload;
}

void ExpectInOrder(const std::vector<std::string>& got, uint64_t from, int n) {
  ASSERT_EQ(got.size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) ASSERT_EQ(got[i], Payload(from, i)) << "payload " << i;
}

TEST(TransportTest, TwoNodesExchangeInOrder) {
  std::map<uint64_t, int> ports{{1, FreePort()}, {2, FreePort()}};
  Node a, b;
  auto oa = Options(1, ports);
  oa.fill_handshake = [](uint64_t, Handshake* h) {
    h->incarnation = 11;
    h->known_of_receiver = 22;
    h->sender_cannot_vouch = true;
  };
  auto ob = Options(2, ports);
  std::atomic<uint64_t> seen_incarnation{0}, seen_known{0};
  std::atomic<bool> seen_unresolved{false};
  ob.on_handshake = [&](uint64_t peer, const Handshake& h) {
    if (peer != 1) return;
    seen_known = h.known_of_receiver;
    seen_unresolved = h.sender_cannot_vouch;
    seen_incarnation = h.incarnation;
  };
  a.Start(oa);
  b.Start(ob);
  EXPECT_EQ(a.t->port(), ports[1]);
  constexpr int kN = 500;
  for (int i = 0; i < kN; ++i) {
    ASSERT_TRUE(a.t->Send(2, Payload(1, i)));
    ASSERT_TRUE(b.t->Send(1, Payload(2, i)));
  }
  ASSERT_TRUE(b.inbox.WaitFrom(1, kN));
  ASSERT_TRUE(a.inbox.WaitFrom(2, kN));
  ExpectInOrder(b.inbox.From(1), 1, kN);
  ExpectInOrder(a.inbox.From(2), 2, kN);
  EXPECT_EQ(seen_incarnation.load(), 11u);  // told before any payload of that connection
  EXPECT_EQ(seen_known.load(), 22u);
  EXPECT_TRUE(seen_unresolved.load());
  auto s = StateOf(*a.t, 2);
  EXPECT_TRUE(s.connected);
  EXPECT_EQ(s.sent_frames, static_cast<uint64_t>(kN));
  EXPECT_EQ(s.received_frames, static_cast<uint64_t>(kN));
  EXPECT_EQ(s.dropped, 0u);
  // An empty payload is a payload too.
  ASSERT_TRUE(a.t->Send(2, ""));
  ASSERT_TRUE(b.inbox.WaitFrom(1, kN + 1));
  EXPECT_EQ(b.inbox.From(1).back(), "");
}

TEST(TransportTest, ThreeNodesEachToEach) {
  std::map<uint64_t, int> ports{{1, FreePort()}, {2, FreePort()}, {3, FreePort()}};
  Node nodes[3];
  for (uint64_t id = 1; id <= 3; ++id) nodes[id - 1].Start(Options(id, ports));
  constexpr int kN = 200;
  // Senders on their own threads, as the raft thread and others would be.
  std::vector<std::thread> senders;
  for (uint64_t from = 1; from <= 3; ++from) {
    senders.emplace_back([&, from] {
      for (int i = 0; i < kN; ++i) {
        for (uint64_t to = 1; to <= 3; ++to) {
          if (to == from) continue;
          EXPECT_TRUE(nodes[from - 1].t->Send(to, Payload(from, i)));
        }
      }
    });
  }
  for (auto& s : senders) s.join();
  for (uint64_t to = 1; to <= 3; ++to) {
    for (uint64_t from = 1; from <= 3; ++from) {
      if (from == to) continue;
      ASSERT_TRUE(nodes[to - 1].inbox.WaitFrom(from, kN)) << from << "->" << to;
      ExpectInOrder(nodes[to - 1].inbox.From(from), from, kN);
    }
  }
}

TEST(TransportTest, UnknownPeerAndOversizedPayloadAreRefused) {
  std::map<uint64_t, int> ports{{1, FreePort()}, {2, FreePort()}};
  auto o = Options(1, ports);
  o.max_frame_bytes = 100;
  Node a;
  a.Start(o);
  EXPECT_FALSE(a.t->Send(99, "x"));
  EXPECT_FALSE(a.t->Send(1, "to myself"));
  EXPECT_FALSE(a.t->Send(2, std::string(101, 'x')));
  EXPECT_TRUE(a.t->Send(2, std::string(100, 'x')));
}

TEST(TransportTest, StartFailsWhenThePortIsTaken) {
  std::map<uint64_t, int> ports{{1, FreePort()}, {2, FreePort()}};
  Node a;
  a.Start(Options(1, ports));
  Transport again(Options(1, ports), [](uint64_t, std::string&&) {});
  EXPECT_FALSE(again.Start().ok());
  auto bad = Options(1, ports);
  bad.node_id = 0;
  EXPECT_FALSE(Transport(bad, nullptr).Start().ok());
}

TEST(TransportTest, QueueBoundWhilePeerIsDown) {
  std::map<uint64_t, int> ports{{1, FreePort()}, {2, FreePort()}};
  auto o = Options(1, ports);
  o.max_queued_bytes_per_peer = 1000;
  Node a;
  a.Start(o);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(a.t->Send(2, std::string(100, 'x'))) << i;
  EXPECT_FALSE(a.t->Send(2, "one byte too many"));
  auto s = StateOf(*a.t, 2);
  EXPECT_FALSE(s.connected);
  EXPECT_EQ(s.dropped, 1u);
  EXPECT_EQ(s.sent_frames, 0u);
}

// The peer accepts but does not read: the kernel buffers fill, then the queue, then Send()
// refuses. Once the peer reads, everything accepted arrives, in order, in well-formed frames.
TEST(TransportTest, StalledPeerFillsTheBoundThenDrains) {
  auto listener = net::Listen("127.0.0.1", 0, false);
  ASSERT_TRUE(listener.ok());
  std::map<uint64_t, int> ports{{1, FreePort()}, {2, PortOf(listener.value())}};
  auto o = Options(1, ports);
  o.max_queued_bytes_per_peer = 1 << 20;
  o.fill_handshake = [](uint64_t peer, Handshake* h) {  // identities, checked below
    h->incarnation = 77;
    h->known_of_receiver = peer * 100;
    h->receiver_replaced = true;
  };
  Node a;
  a.Start(o);
  // Connected first, so what fills up is the socket, then the queue behind it.
  ASSERT_TRUE(Eventually([&] { return StateOf(*a.t, 2).connected; }));
  const std::string chunk(64 << 10, 's');
  int accepted = 0;
  // Paced while the socket takes them; once frames stop reaching it, as fast as Send() allows.
  bool paced = true;
  while (a.t->Send(2, std::to_string(accepted) + chunk)) {
    ASSERT_LT(++accepted, 100000) << "Send() never pushed back";
    if (paced) {
      paced = Eventually([&] { return StateOf(*a.t, 2).sent_frames == uint64_t(accepted); },
                         milliseconds(100));
    }
  }
  const uint64_t sent_before_reading = StateOf(*a.t, 2).sent_frames;
  EXPECT_GT(sent_before_reading, 0u);
  EXPECT_GT(uint64_t(accepted), sent_before_reading);  // some waited behind a full socket
  EXPECT_GE(StateOf(*a.t, 2).dropped, 1u);

  int fd = accept(listener.value(), nullptr, nullptr);
  ASSERT_GE(fd, 0);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  FrameDecoder decoder(kMaxHandshakeBytes);
  int frames = 0;
  bool ok = true;
  const auto on_frame = [&](std::string&& p) {
    if (frames == 0) {
      auto h = DecodeHandshake(p);
      ok = ok && h.ok() && h->node_id == 1 && h->cluster_id == kCluster &&
           h->incarnation == 77 && h->known_of_receiver == 200 && h->receiver_replaced;
      decoder.set_max_frame_bytes(1 << 20);
    } else {
      ok = ok && p == std::to_string(frames - 1) + chunk;
    }
    ++frames;
    return true;
  };
  char buf[1 << 16];
  while (frames < accepted + 1) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    ASSERT_GT(n, 0);
    ASSERT_TRUE(decoder.Feed(std::string_view(buf, n), on_frame).ok());
  }
  EXPECT_TRUE(ok);
  ASSERT_TRUE(Eventually([&] { return StateOf(*a.t, 2).sent_frames == uint64_t(accepted); }));
  close(fd);
  close(listener.value());
}

TEST(TransportTest, PeerStartingLaterGetsWhatWasQueued) {
  std::map<uint64_t, int> ports{{1, FreePort()}, {2, FreePort()}};
  Node a, b;
  a.Start(Options(1, ports));
  constexpr int kN = 20;
  for (int i = 0; i < kN; ++i) ASSERT_TRUE(a.t->Send(2, Payload(1, i)));
  EXPECT_FALSE(StateOf(*a.t, 2).connected);  // B is down: A's dials fail and back off
  b.Start(Options(2, ports));
  ASSERT_TRUE(b.inbox.WaitFrom(1, kN));
  ExpectInOrder(b.inbox.From(1), 1, kN);
  ASSERT_TRUE(Eventually([&] { return StateOf(*a.t, 2).connected; }));
}

// With an age limit, what waited too long for a down peer is dropped (counted) and never
// reaches it once it is up; what is sent then arrives, in order.
TEST(TransportTest, StalePayloadsForADownPeerAreDropped) {
  std::map<uint64_t, int> ports{{1, FreePort()}, {2, FreePort()}};
  auto o = Options(1, ports);
  o.max_queue_age_ms_while_down = 50;
  Node a, b;
  a.Start(o);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(a.t->Send(2, "stale" + std::to_string(i)));
  ASSERT_TRUE(Eventually([&] { return StateOf(*a.t, 2).dropped == 5; }));
  b.Start(Options(2, ports));
  ASSERT_TRUE(Eventually([&] { return StateOf(*a.t, 2).connected; }));
  constexpr int kN = 3;
  for (int i = 0; i < kN; ++i) ASSERT_TRUE(a.t->Send(2, Payload(1, i)));
  ASSERT_TRUE(b.inbox.WaitFrom(1, kN));
  ExpectInOrder(b.inbox.From(1), 1, kN);  // only these, none of the stale ones
  EXPECT_EQ(StateOf(*a.t, 2).dropped, 5u);
}

TEST(TransportTest, PeerRestartOnTheSamePort) {
  std::map<uint64_t, int> ports{{1, FreePort()}, {2, FreePort()}};
  Node a;
  a.Start(Options(1, ports));
  auto b = std::make_unique<Node>();
  b->Start(Options(2, ports));
  ASSERT_TRUE(a.t->Send(2, "before"));
  ASSERT_TRUE(b->t->Send(1, "before"));
  ASSERT_TRUE(b->inbox.WaitTotal(1));
  ASSERT_TRUE(a.inbox.WaitTotal(1));

  b->t->Stop();
  b = std::make_unique<Node>();
  b->Start(Options(2, ports));
  // A may write a few into the dead connection before it notices; those are lost, the rest
  // arrive in order once A has redialed.
  int sent = 0;
  while (b->inbox.total() == 0) {
    ASSERT_LT(sent, 2000) << "no payload reached the restarted peer";
    ASSERT_TRUE(a.t->Send(2, std::to_string(sent++)));
    b->inbox.WaitTotal(1, milliseconds(10));
  }
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(a.t->Send(2, std::to_string(sent++)));
  ASSERT_TRUE(b->inbox.WaitFrom(1, 1));
  ASSERT_TRUE(Eventually([&] { return b->inbox.From(1).back() == std::to_string(sent - 1); }));
  auto got = b->inbox.From(1);
  for (size_t i = 1; i < got.size(); ++i) ASSERT_EQ(std::stoi(got[i]), std::stoi(got[i - 1]) + 1);

  // The other direction: the new B dials A, whose old inbound connection is replaced.
  ASSERT_TRUE(b->t->Send(1, "after"));
  ASSERT_TRUE(a.inbox.WaitFrom(2, 2));
  EXPECT_EQ(a.inbox.From(2).back(), "after");
}

TEST(TransportTest, WrongClusterIdIsRefused) {
  std::map<uint64_t, int> ports{{1, FreePort()}, {2, FreePort()}};
  Node a, b;
  a.Start(Options(1, ports));
  auto o = Options(2, ports);
  o.cluster_id = "another-cluster";
  b.Start(o);
  ASSERT_TRUE(b.t->Send(1, "must not arrive"));
  ASSERT_TRUE(Eventually([&] { return a.t->refused_connections() >= 1; }));
  // B writes its payload right behind the handshake, so it was in A's hands and thrown away.
  EXPECT_EQ(a.inbox.total(), 0u);
  EXPECT_EQ(StateOf(*a.t, 2).received_frames, 0u);
}

// Each case: a raw socket sends `bytes` (and half-closes if `shut`); the transport must close it
// and keep serving its real peer.
struct GarbageCase {
  const char* name;
  std::string bytes;
  bool shut;
};

TEST(TransportTest, GarbageClosesOnlyItsConnection) {
  std::map<uint64_t, int> ports{{1, FreePort()}, {2, FreePort()}, {3, FreePort()}};
  auto o = Options(1, ports);  // node 3 never runs: raw sockets speak as it
  o.max_frame_bytes = 1 << 20;
  o.handshake_timeout_ms = 200;
  Node a, b;
  a.Start(o);
  b.Start(Options(2, ports));
  const std::string hello3 = Hello(3);
  std::string huge(kFrameHeaderBytes, '\0');
  EncodeFrameHeader(0xffffffffu, huge.data());
  std::string over_limit(kFrameHeaderBytes, '\0');
  EncodeFrameHeader((1 << 20) + 1, over_limit.data());
  std::string bad_version = hello3;
  bad_version[kFrameHeaderBytes + 4] = 9;
  std::string random;
  for (int i = 0; i < 5000; ++i) random.push_back(static_cast<char>((i * 7919 + 13) % 251));
  const std::vector<GarbageCase> cases = {
      {"random bytes", random, false},
      {"huge length before handshake", huge + "xyz", false},
      {"truncated handshake, then silence", hello3.substr(0, 9), false},
      {"truncated handshake, then EOF", hello3.substr(0, 9), true},
      {"bad magic", Frame("NOPE" + hello3.substr(8)), false},
      {"bad version", bad_version, false},
      {"unknown node id", Hello(42), false},
      {"trailing bytes in handshake", Frame(hello3.substr(kFrameHeaderBytes) + "!"), false},
      {"frame over the limit after handshake", hello3 + over_limit, false},
      {"huge length after handshake", hello3 + huge, false},
      {"truncated frame after handshake, then EOF", hello3 + Frame("abcdef").substr(0, 7), true},
  };
  int round = 0;
  for (const GarbageCase& c : cases) {
    SCOPED_TRACE(c.name);
    int fd = RawConnect(ports[1]);
    ASSERT_GE(fd, 0);
    WriteAll(fd, c.bytes);
    if (c.shut) shutdown(fd, SHUT_WR);
    EXPECT_TRUE(ClosedByPeer(fd));
    close(fd);
    // The real peer is still served.
    ASSERT_TRUE(b.t->Send(1, Payload(2, round)));
    ASSERT_TRUE(a.inbox.WaitFrom(2, ++round));
  }
  ExpectInOrder(a.inbox.From(2), 2, round);
  EXPECT_EQ(a.inbox.From(3).size(), 0u);
  EXPECT_GE(a.t->refused_connections(),
            cases.size() - 2);  // the two cases ending in EOF may not count
}

// A peer moved to another bus port: its handshake says where it is now, and from then on the
// transport dials it there. Node 1 is told node 2 is at a port where nothing listens; without
// the move nothing node 1 sends ever reaches node 2.
TEST(TransportTest, APeerThatMovedIsDialedWhereItsHandshakeSays) {
  std::map<uint64_t, int> ports{{1, FreePort()}, {2, FreePort()}};
  const int stale = FreePort();
  auto oa = Options(1, ports);
  oa.peers[0].port = stale;  // node 2's old address
  auto ob = Options(2, ports);
  const int moved_to = ports[2];
  ob.fill_handshake = [moved_to](uint64_t, Handshake* h) {
    h->host = "127.0.0.1";
    h->client_port = 7002;
    h->bus_port = static_cast<uint16_t>(moved_to);
  };
  Node a, b;
  a.Start(oa);
  b.Start(ob);
  ASSERT_TRUE(a.t->Send(2, Payload(1, 1)));  // queued while node 2 is unreachable
  ASSERT_TRUE(b.t->Send(1, Payload(2, 1)));  // node 2 dials node 1, which learns the address
  ASSERT_TRUE(a.inbox.WaitFrom(2, 1));
  ASSERT_TRUE(b.inbox.WaitFrom(1, 1));
  EXPECT_EQ(b.inbox.From(1)[0], Payload(1, 1));
  EXPECT_TRUE(StateOf(*a.t, 2).connected);
  // A handshake that names no address sends node 1 back to where its options put node 2 (it
  // moved back): node 1 dials the old address again.
  auto old_address = net::Listen("127.0.0.1", stale, false);
  ASSERT_TRUE(old_address.ok());
  int fd = RawConnect(ports[1]);
  WriteAll(fd, Hello(2));  // replaces node 2's inbound connection, says no address
  pollfd pfd{old_address.value(), POLLIN, 0};
  ASSERT_EQ(poll(&pfd, 1, static_cast<int>(kWait.count())), 1) << "node 1 never dialed back";
  const int dialed = accept(old_address.value(), nullptr, nullptr);
  EXPECT_GE(dialed, 0);
  if (dialed >= 0) close(dialed);
  close(old_address.value());
  close(fd);
}

// Where a peer was last heard to be may be stale (it moved back while this node was down):
// redials alternate between that address and the listed one. Nothing listens at the
// remembered address; node 2 is back at its listed one and does not dial node 1 (so no
// handshake tells node 1 where it is).
TEST(TransportTest, AStaleRememberedAddressAlternatesWithTheListedOne) {
  auto listed = net::Listen("127.0.0.1", 0, false);
  ASSERT_TRUE(listed.ok());
  std::map<uint64_t, int> ports{{1, FreePort()}, {2, PortOf(listed.value())}};
  auto o = Options(1, ports);
  o.peers[0].moved_host = "127.0.0.1";
  o.peers[0].moved_port = FreePort();  // nothing there
  Node a;
  a.Start(o);
  pollfd pfd{listed.value(), POLLIN, 0};
  ASSERT_EQ(poll(&pfd, 1, static_cast<int>(kWait.count())), 1) << "never dialed the listed port";
  const int fd = accept(listed.value(), nullptr, nullptr);
  EXPECT_GE(fd, 0);
  if (fd >= 0) close(fd);
  close(listed.value());
}

TEST(TransportTest, HandshakesCarryTheDialersAddress) {
  Handshake h;
  h.node_id = 3;
  h.cluster_id = kCluster;
  h.incarnation = 9;
  h.host = "node-3.example";
  h.client_port = 6382;
  h.bus_port = 16382;
  const std::string payload = EncodeHandshakeFrame(h).substr(kFrameHeaderBytes);
  EXPECT_LE(payload.size(), kMaxHandshakeBytes);
  auto back = DecodeHandshake(payload);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->host, "node-3.example");
  EXPECT_EQ(back->client_port, 6382);
  EXPECT_EQ(back->bus_port, 16382);
  EXPECT_EQ(back->incarnation, 9u);
  EXPECT_FALSE(DecodeHandshake(payload.substr(0, payload.size() - 1)).ok());
  EXPECT_FALSE(DecodeHandshake(payload + "x").ok());
  h.host = "node-3.example";
  h.bus_port = 0;
  EXPECT_FALSE(DecodeHandshake(EncodeHandshakeFrame(h).substr(kFrameHeaderBytes)).ok());
  h.bus_port = 16382;
  h.host = "a host";  // would break CLUSTER NODES lines
  EXPECT_FALSE(DecodeHandshake(EncodeHandshakeFrame(h).substr(kFrameHeaderBytes)).ok());
  std::string v2 = payload;
  v2[4] = 2;  // the version before addresses does not have them: refused, not misread
  EXPECT_FALSE(DecodeHandshake(v2).ok());
  // Without an address, version 2 as builds before addresses wrote it: they accept it, and
  // this build reads theirs.
  Handshake plain;
  plain.node_id = 3;
  plain.cluster_id = kCluster;
  plain.incarnation = 9;
  const std::string old_layout = EncodeHandshakeFrame(plain).substr(kFrameHeaderBytes);
  EXPECT_EQ(old_layout[4], 2);
  EXPECT_EQ(old_layout.size(), 4 + 2 + 8 + 2 + sizeof(kCluster) - 1 + 8 + 8 + 1);
  auto read = DecodeHandshake(old_layout);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_TRUE(read->host.empty());
  EXPECT_EQ(read->incarnation, 9u);
  std::string v3_without = old_layout + std::string(6, '\0');  // v3 naming no address
  v3_without[4] = 3;
  EXPECT_FALSE(DecodeHandshake(v3_without).ok());
  h.host = std::string(kMaxHostBytes, 'h');
  EXPECT_LE(EncodeHandshakeFrame(h).size() - kFrameHeaderBytes, kMaxHandshakeBytes);
}

TEST(TransportTest, ANewHandshakeReplacesThePeersOldConnection) {
  std::map<uint64_t, int> ports{{1, FreePort()}, {2, FreePort()}};
  Node a;
  a.Start(Options(1, ports));
  // Two raw connections speak as node 2 (which never runs); the second replaces the first.
  int old_fd = RawConnect(ports[1]);
  WriteAll(old_fd, Hello(2) + Frame("from the old one"));
  ASSERT_TRUE(a.inbox.WaitFrom(2, 1));
  int new_fd = RawConnect(ports[1]);
  WriteAll(new_fd, Hello(2) + Frame("from the new one"));
  EXPECT_TRUE(ClosedByPeer(old_fd));
  ASSERT_TRUE(a.inbox.WaitFrom(2, 2));
  EXPECT_EQ(a.inbox.From(2)[1], "from the new one");
  // Frames may arrive split anywhere.
  const std::string f = Frame("split");
  for (char ch : f) WriteAll(new_fd, std::string(1, ch));
  ASSERT_TRUE(a.inbox.WaitFrom(2, 3));
  EXPECT_EQ(a.inbox.From(2)[2], "split");
  close(old_fd);
  close(new_fd);
}

TEST(TransportTest, ConnectionsWithoutHandshakeAreBounded) {
  std::map<uint64_t, int> ports{{1, FreePort()}, {2, FreePort()}};
  auto o = Options(1, ports);
  o.handshake_timeout_ms = 60000;  // only the bound can close them here
  Node a, b;
  a.Start(o);
  // One peer: at most 2 inbound connections; a third evicts the oldest silent one.
  int first = RawConnect(ports[1]);
  ASSERT_TRUE(Eventually([&] { return a.t->refused_connections() == 0; }));
  int second = RawConnect(ports[1]);
  int third = RawConnect(ports[1]);
  EXPECT_TRUE(ClosedByPeer(first));
  // The real peer still gets in (evicting another silent one) and is heard.
  b.Start(Options(2, ports));
  ASSERT_TRUE(b.t->Send(1, "hello"));
  ASSERT_TRUE(a.inbox.WaitFrom(2, 1));
  EXPECT_GE(a.t->refused_connections(), 2u);
  close(first);
  close(second);
  close(third);
}

TEST(TransportTest, StopIsIdempotentAndSendAfterStopFails) {
  std::map<uint64_t, int> ports{{1, FreePort()}, {2, FreePort()}};
  Node a;
  a.Start(Options(1, ports));
  ASSERT_TRUE(a.t->Send(2, "queued"));
  a.t->Stop();
  a.t->Stop();
  EXPECT_FALSE(a.t->Send(2, "late"));
  EXPECT_FALSE(a.t->Start().ok());
}

}  // namespace
}  // namespace flin::cluster

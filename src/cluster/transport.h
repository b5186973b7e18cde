#pragma once
// Transport: the peer transport on the cluster bus. It moves opaque payloads (batches of Raft
// messages, snapshot chunks) between the nodes of one cluster; it knows nothing of what they
// mean.
//
// Connections. Each node keeps ONE outbound TCP connection to every peer: it dials it
// (non-blocking, bounded by connect_timeout_ms), sends a handshake as the first frame, then
// sends every payload for that peer on it, in order. It never reads payloads from it. It
// receives on the connections its peers dial to its bus port. So a pair of nodes is joined by
// two connections, one per direction, and each connection carries data one way only. A
// connection that breaks (error, EOF, connect timeout) is redialed after reconnect_backoff_ms,
// doubling up to 2 s while the peer stays unreachable (or keeps closing us at once).
//
// Wire format (transport_frame.h): frames of u32 little-endian length + payload; the first
// frame is the handshake {"FLIN", version, node id, cluster id, incarnations}. The acceptor closes a
// connection whose handshake has a bad magic or version, another cluster id, or a node id that
// is not one of its peers; one that sends no handshake within handshake_timeout_ms; and one that
// announces a frame over max_frame_bytes (kMaxHandshakeBytes before the handshake). A valid
// handshake from a node that already has an inbound connection replaces the old connection
// (the peer restarted or redialed). A handshake naming another bus address (Handshake::host,
// bus_port) than the one the peer is dialed at means the peer moved: the outbound connection
// is redialed there at once, and later dials go there first (PeerAddress::moved_host). Garbage
// closes only the
// connection it came on. The
// handshake proves nothing about who dialed: like Redis Cluster's bus, this one belongs on a
// trusted network.
//
// Delivery: payloads Send() to one peer arrive in order, each at most once. Any may be lost
// when a connection breaks (what was written to the broken socket is not resent): Raft
// retries. Payloads queued while the peer is unreachable are kept, up to the queue bound and
// (if max_queue_age_ms_while_down is set) for at most that long, and sent once it connects.
//
// Bounds: queued bytes per peer (Send refuses beyond); frame size; inbound connections, at
// most 2 per known peer (one handshaken per peer, the rest awaiting a handshake; when full, the
// oldest connection still awaiting its handshake is closed to make room).
//
// Threading: one thread, started by Start(), runs one net::EventLoop that owns every socket.
// Send(), Peers(), port() and the counters may be called from any thread at any time between
// construction and destruction. Start() and Stop() from the owner's thread (not from the
// Receiver). The Receiver runs on the transport's thread.
//
// Ownership: the Transport owns its sockets, thread and queues; the options are copied.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cluster/transport_frame.h"
#include "common/status.h"

namespace flin::cluster {

struct PeerAddress {
  uint64_t id = 0;  // the peer's node id, non-zero
  // An IP address, or a host name: resolved on the transport thread at each dial, so a slow
  // resolver holds up all traffic; prefer addresses.
  std::string host;
  int port = 0;  // the peer's bus port
  // Where it was last heard to be, if not at host:port (it moved; empty: it did not). Dialed
  // there first, then alternately with host:port after each failed dial (it may have moved
  // back meanwhile), until a handshake says where it is; one naming no address means
  // host:port.
  std::string moved_host;
  int moved_port = 0;
};

struct TransportOptions {
  // This node's id; non-zero, and not among peers.
  uint64_t node_id = 0;
  // Peers that send another cluster id in their handshake are refused. At most
  // kMaxClusterIdBytes (256) bytes.
  std::string cluster_id;
  // Called at each dial (transport thread) to fill the identity fields of the handshake to
  // `peer` (incarnations and flags, cluster/peer_identity.h); unset: all zero.
  std::function<void(uint64_t peer, Handshake* h)> fill_handshake;
  // Called (transport thread) with every handshake accepted from a peer, before any of the
  // payloads that follow it on that connection reach the Receiver.
  std::function<void(uint64_t peer, const Handshake& h)> on_handshake;
  // Where the bus listens. bind_port 0 picks a free port (see Transport::port()).
  std::string bind_host = "127.0.0.1";
  int bind_port = 0;
  // Every other node of the cluster (not this one), with distinct non-zero ids.
  std::vector<PeerAddress> peers;
  // Bytes accepted by Send() but not yet written to the peer's socket. Send() drops beyond this.
  size_t max_queued_bytes_per_peer = 64 << 20;
  // While the peer is not connected, payloads that have waited longer than this are dropped
  // (0: kept, up to the bound above). Raft resends whatever still matters, so a node sets
  // this to about an election timeout: a peer back from a long outage then gets current
  // messages, not a burst of stale appends that each set the leader resending.
  int max_queue_age_ms_while_down = 0;
  // The largest payload: Send() refuses larger ones, and an incoming frame announcing more
  // closes its connection. Every node of a cluster should use the same value. At most 4 GiB - 1.
  size_t max_frame_bytes = 64 << 20;
  // How long a dial may take before it counts as failed.
  int connect_timeout_ms = 1000;
  // The delay before redialing a peer; doubles up to 2 s while the peer is unreachable.
  int reconnect_backoff_ms = 100;
  // An inbound connection that has not sent a whole handshake by then is closed.
  int handshake_timeout_ms = 5000;
};

class Transport {
 public:
  // Called on the transport's thread for every payload received from peer `from`, in the order
  // that peer sent them. It may take the payload, call Send() and Peers(); it must not call
  // Start() or Stop(), and should return quickly (it holds up all receiving and sending):
  // hand the work to another thread if it is long.
  using Receiver = std::function<void(uint64_t from, std::string&& payload)>;

  // `receiver` must not be empty.
  Transport(TransportOptions options, Receiver receiver);
  // Stop()s.
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Checks the options, binds the listener (an error if the port is taken) and starts the
  // thread, which then dials every peer. Call at most once.
  Status Start();
  // Closes every connection and the listener and joins the thread. Payloads still queued are
  // dropped; Send() returns false from then on. Idempotent.
  void Stop();

  // Any thread; never blocks on I/O. Queues `payload` for peer `to`. Returns false, dropping the
  // payload, if `to` is not a peer, the payload is over max_frame_bytes, the peer's queue would
  // go over max_queued_bytes_per_peer, or the transport is stopped. Payloads may be sent before
  // Start(); they go out once the peer is connected. `max_queued` lowers the queue bound for
  // this payload: traffic that must not crowd out the rest (pub/sub beside Raft) is refused
  // once the peer's queue holds that much.
  bool Send(uint64_t to, std::string payload, size_t max_queued = SIZE_MAX);

  struct PeerState {
    uint64_t id;
    bool connected;            // our outbound connection is up (handshake sent)
    uint64_t connects;         // outbound connections made so far (a new one: a new process?)
    uint64_t sent_frames;      // payloads written to the peer's socket
    uint64_t received_frames;  // payloads received from the peer and given to the Receiver
    uint64_t dropped;          // payloads refused by Send() or lost with a broken connection
  };
  // Any thread; for INFO. In the order of options.peers.
  std::vector<PeerState> Peers() const;

  // The bound bus port (the chosen one if bind_port was 0); 0 before Start(). Any thread.
  int port() const;
  // Inbound connections closed for a bad handshake, an oversized frame, a handshake timeout or
  // the connection bound. Any thread; for INFO and tests.
  uint64_t refused_connections() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace flin::cluster

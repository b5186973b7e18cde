#pragma once
// The cluster bus wire format, kept apart from the sockets so that it can be fuzzed alone.
//
// A connection carries frames: a u32 little-endian payload length, then the payload. The first
// frame on every connection is the dialer's handshake; every later frame is one opaque payload
// handed to the Transport's Receiver.
//
//   handshake payload = "FLIN" | u16 LE version | u64 LE node id | u16 LE n | n bytes cluster id
//                       | u64 LE incarnation | u64 LE known incarnation of the receiver
//                       | u8 flags (bit 0: the receiver's known incarnation replaced another;
//                                 bit 1: the dialer cannot vouch that it never met the
//                                 receiver: it has not yet learned whether it replaces a node
//                                 that lost its data, or it does, or it runs on an older copy)
//                       | u16 LE m | m bytes host | u16 LE client port | u16 LE bus port
//
// The last three are the dialer's address as its clients and peers reach it now: a node moved
// to another address says so in every handshake, and its peers dial it there and send clients
// there (cluster/topology.h). They make version 3, and exist only there: a handshake that names
// no address is written as version 2, without them, which builds from before addresses accept
// (so a rolling upgrade works; only a moved node needs upgraded peers). Both are read.
//
// The incarnation is a random id of the dialer's data directory; the rest is what the dialer
// remembers of the receiver's (0: never met it). Together they let a node that restarts on an
// empty data directory learn that it lost its Raft state (cluster/peer_identity.h).
//
// The layout of the magic and the version is fixed forever, so a later version can change the
// rest and still be told apart.
//
// Threading: the free functions are pure; a FrameDecoder belongs to one connection, one thread.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace flin::cluster {

inline constexpr size_t kFrameHeaderBytes = 4;
inline constexpr char kHandshakeMagic[4] = {'F', 'L', 'I', 'N'};
inline constexpr uint16_t kTransportVersion = 3;
inline constexpr uint16_t kTransportVersionWithoutAddress = 2;
inline constexpr size_t kMaxHostBytes = 255;
inline constexpr size_t kMaxClusterIdBytes = 256;
// The largest handshake payload; before a connection has sent a valid handshake its frames are
// bounded by this, so an unknown socket can make us hold at most this many bytes.
inline constexpr size_t kMaxHandshakeBytes =
    4 + 2 + 8 + 2 + kMaxClusterIdBytes + 8 + 8 + 1 + 2 + kMaxHostBytes + 2 + 2;

struct Handshake {
  uint16_t version = kTransportVersion;
  uint64_t node_id = 0;
  std::string cluster_id;
  uint64_t incarnation = 0;           // of the dialer's data directory
  uint64_t known_of_receiver = 0;     // the receiver's incarnation as the dialer knows it
  bool receiver_replaced = false;     // ... and that one replaced an earlier incarnation
  // The dialer cannot vouch that it never met the receiver: its data directory is still
  // unresolved, or replaced a lost one, or is an older copy (PeerIdentity).
  bool sender_cannot_vouch = false;
  std::string host;                   // the dialer's address now (empty: not said), a ValidHost
  uint16_t client_port = 0;
  uint16_t bus_port = 0;
};

// Writes the 4-byte little-endian header for a payload of `len` bytes.
void EncodeFrameHeader(uint32_t len, char out[kFrameHeaderBytes]);
// The whole handshake frame (header included). h.cluster_id must be at most kMaxClusterIdBytes.
std::string EncodeHandshakeFrame(const Handshake& h);
// Parses a handshake payload (the frame's header already stripped). Fails on a bad magic, an
// unsupported version, a cluster id over kMaxClusterIdBytes, a version 3 host that is not a
// ValidHost or port that is 0, or any missing or trailing byte. Whatever it accepts, EncodeHandshakeFrame writes
// back byte for byte.
Result<Handshake> DecodeHandshake(std::string_view payload);

// Cuts a byte stream into frame payloads. Bounded: a header announcing more than the limit is an
// error before anything is allocated, and a payload's buffer grows only as its bytes arrive, so
// memory held is at most about twice the bytes received and never above the limit.
class FrameDecoder {
 public:
  // Called for each whole payload; return false to stop decoding (e.g. the connection closed).
  using OnFrame = std::function<bool(std::string&& payload)>;

  explicit FrameDecoder(size_t max_frame_bytes) : max_frame_bytes_(max_frame_bytes) {}

  // Takes effect from the next header on; may be called from inside OnFrame.
  void set_max_frame_bytes(size_t n) { max_frame_bytes_ = n; }

  // Consumes all of `bytes`, calling on_frame for every payload completed. Returns Corruption
  // for a frame over the limit (the stream is then unusable), Aborted if on_frame returned
  // false, else OK (a partial frame is kept for the next call).
  Status Feed(std::string_view bytes, const OnFrame& on_frame);

  // True while a frame has been started but not finished (for EOF diagnostics).
  bool mid_frame() const { return header_len_ > 0 || in_body_; }

 private:
  size_t max_frame_bytes_;
  char header_[kFrameHeaderBytes];
  size_t header_len_ = 0;  // header bytes received for the current frame
  bool in_body_ = false;
  size_t body_len_ = 0;  // the current frame's announced payload length
  std::string body_;
};

}  // namespace flin::cluster

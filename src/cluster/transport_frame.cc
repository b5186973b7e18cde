#include "cluster/transport_frame.h"

#include <algorithm>
#include <cstring>

#include "cluster/topology.h"

namespace flin::cluster {
namespace {

// A payload's buffer is first reserved up to this; beyond, it grows with the bytes received.
constexpr size_t kInitialReserve = 64 << 10;

void PutU16(std::string* out, uint16_t v) {
  out->push_back(static_cast<char>(v & 0xff));
  out->push_back(static_cast<char>(v >> 8));
}

void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetLE(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

}  // namespace

void EncodeFrameHeader(uint32_t len, char out[kFrameHeaderBytes]) {
  for (size_t i = 0; i < kFrameHeaderBytes; ++i)
    out[i] = static_cast<char>((len >> (8 * i)) & 0xff);
}

std::string EncodeHandshakeFrame(const Handshake& h) {
  std::string payload(kHandshakeMagic, sizeof(kHandshakeMagic));
  // A handshake that names no address is written as version 2, which nodes of builds before
  // addresses accept: only a node that moved (--announce) needs its peers upgraded.
  const bool addressed = !h.host.empty();
  PutU16(&payload, addressed ? kTransportVersion : kTransportVersionWithoutAddress);
  PutU64(&payload, h.node_id);
  PutU16(&payload, static_cast<uint16_t>(h.cluster_id.size()));
  payload.append(h.cluster_id);
  PutU64(&payload, h.incarnation);
  PutU64(&payload, h.known_of_receiver);
  payload.push_back(static_cast<char>((h.receiver_replaced ? 1 : 0) |
                                      (h.sender_cannot_vouch ? 2 : 0)));
  if (addressed) {
    PutU16(&payload, static_cast<uint16_t>(h.host.size()));
    payload.append(h.host);
    PutU16(&payload, h.client_port);
    PutU16(&payload, h.bus_port);
  }
  std::string frame(kFrameHeaderBytes, '\0');
  EncodeFrameHeader(static_cast<uint32_t>(payload.size()), frame.data());
  return frame + payload;
}

Result<Handshake> DecodeHandshake(std::string_view p) {
  constexpr size_t kFixed = sizeof(kHandshakeMagic) + 2 + 8 + 2;
  if (p.size() < sizeof(kHandshakeMagic) ||
      std::memcmp(p.data(), kHandshakeMagic, sizeof(kHandshakeMagic)) != 0) {
    return Status::Corruption("bad handshake magic");
  }
  if (p.size() < sizeof(kHandshakeMagic) + 2) return Status::Corruption("short handshake");
  Handshake h;
  h.version = static_cast<uint16_t>(GetLE(p.data() + 4, 2));
  if (h.version != kTransportVersion && h.version != kTransportVersionWithoutAddress) {
    return Status::Corruption("unsupported transport version " + std::to_string(h.version));
  }
  if (p.size() < kFixed) return Status::Corruption("short handshake");
  h.node_id = GetLE(p.data() + 6, 8);
  const size_t n = GetLE(p.data() + 14, 2);
  if (n > kMaxClusterIdBytes) return Status::Corruption("cluster id too long");
  const size_t without_address = kFixed + n + 8 + 8 + 1;
  if (h.version == kTransportVersionWithoutAddress && p.size() != without_address) {
    return Status::Corruption("handshake length mismatch");
  }
  if (p.size() < without_address) return Status::Corruption("short handshake");
  h.cluster_id.assign(p.data() + kFixed, n);
  const char* rest = p.data() + kFixed + n;
  h.incarnation = GetLE(rest, 8);
  h.known_of_receiver = GetLE(rest + 8, 8);
  const auto flags = static_cast<uint8_t>(rest[16]);
  if (flags > 3) return Status::Corruption("unknown handshake flags");
  h.receiver_replaced = (flags & 1) != 0;
  h.sender_cannot_vouch = (flags & 2) != 0;
  if (h.version == kTransportVersionWithoutAddress) return h;
  if (p.size() < without_address + 2) return Status::Corruption("short handshake");
  const size_t m = GetLE(rest + 17, 2);
  if (m > kMaxHostBytes) return Status::Corruption("host too long");
  if (p.size() != kFixed + n + 8 + 8 + 1 + 2 + m + 2 + 2) {
    return Status::Corruption("handshake length mismatch");
  }
  h.host.assign(rest + 19, m);
  // Version 3 exists to name an address: without one it would have been written as 2.
  if (!ValidHost(h.host)) return Status::Corruption("bad host");
  h.client_port = static_cast<uint16_t>(GetLE(rest + 19 + m, 2));
  h.bus_port = static_cast<uint16_t>(GetLE(rest + 21 + m, 2));
  if (h.client_port == 0 || h.bus_port == 0) return Status::Corruption("bad address port");
  return h;
}

Status FrameDecoder::Feed(std::string_view bytes, const OnFrame& on_frame) {
  while (!bytes.empty()) {
    if (!in_body_) {
      const size_t take = std::min(kFrameHeaderBytes - header_len_, bytes.size());
      std::memcpy(header_ + header_len_, bytes.data(), take);
      header_len_ += take;
      bytes.remove_prefix(take);
      if (header_len_ < kFrameHeaderBytes) return Status::Ok();
      body_len_ = GetLE(header_, 4);
      if (body_len_ > max_frame_bytes_) {
        return Status::Corruption("frame of " + std::to_string(body_len_) +
                                  " bytes over the limit of " + std::to_string(max_frame_bytes_));
      }
      header_len_ = 0;
      in_body_ = true;
      body_.clear();
      body_.reserve(std::min(body_len_, kInitialReserve));
    }
    const size_t take = std::min(body_len_ - body_.size(), bytes.size());
    if (body_.size() + take > body_.capacity()) {
      // Grow geometrically, but never past the announced length.
      body_.reserve(std::min(body_len_, std::max(body_.size() + take, 2 * body_.capacity())));
    }
    body_.append(bytes.data(), take);
    bytes.remove_prefix(take);
    if (body_.size() < body_len_) return Status::Ok();
    in_body_ = false;
    std::string payload = std::move(body_);
    body_ = std::string();
    if (!on_frame(std::move(payload))) return Status::Aborted("stopped by the frame handler");
  }
  return Status::Ok();
}

}  // namespace flin::cluster

// libFuzzer target: any bytes arriving on a cluster-bus socket, in arbitrary splits, go through
// the frame decoder and the handshake decoder as the transport feeds them. They must never
// crash, never yield a frame over the limit in force, and every handshake accepted must encode
// back to the same bytes.
//
// Input: byte 0 picks the read size and the post-handshake frame limit; the rest is the stream.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cluster/transport_frame.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using flin::cluster::DecodeHandshake;
  using flin::cluster::EncodeHandshakeFrame;
  using flin::cluster::FrameDecoder;
  using flin::cluster::kFrameHeaderBytes;
  using flin::cluster::kMaxHandshakeBytes;
  if (size == 0) return 0;
  const size_t step = 1 + data[0] % 13;
  const size_t max_frame = 1 + (data[0] >> 4) * 97;
  FrameDecoder decoder(kMaxHandshakeBytes);
  bool handshaken = false;
  const auto on_frame = [&](std::string&& payload) {
    if (!handshaken) {
      if (payload.size() > kMaxHandshakeBytes) __builtin_trap();
      auto h = DecodeHandshake(payload);
      if (!h.ok()) return false;
      if (EncodeHandshakeFrame(h.value()).substr(kFrameHeaderBytes) != payload) {
        __builtin_trap();
      }
      handshaken = true;
      decoder.set_max_frame_bytes(max_frame);
      return true;
    }
    if (payload.size() > max_frame) __builtin_trap();
    return true;
  };
  const std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  for (size_t fed = 0; fed < stream.size(); fed += step) {
    if (!decoder.Feed(stream.substr(fed, step), on_frame).ok()) break;
  }
  // The handshake decoder alone, on the raw bytes.
  (void)DecodeHandshake(stream);
  return 0;
}

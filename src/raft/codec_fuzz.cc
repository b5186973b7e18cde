// libFuzzer target for the Raft codec: any input either fails to decode or decodes to a
// message that re-encodes and decodes to the same value.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "raft/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace flin::raft;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto m = DecodeMessage(in);
  if (m.ok()) {
    std::string wire;
    EncodeMessage(m.value(), &wire);
    auto again = DecodeMessage(wire);
    if (!again.ok() || !(again.value() == m.value())) std::abort();
    // The canonical encoding is never longer than what was accepted.
    if (wire.size() > size) std::abort();
  }
  // The other decoders share the reader; exercise them on the same bytes.
  (void)DecodeEntry(in);
  (void)DecodeHardState(in);
  (void)DecodeConfState(in);
  (void)DecodeSnapshotMeta(in);
  (void)DecodeConfChange(in);
  return 0;
}

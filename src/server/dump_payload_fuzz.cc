// libFuzzer target: RESTORE's payloads (server/dump_payload.h). No payload may crash the
// decoder or make it allocate beyond its limit; one it accepts must DUMP and load back to the
// same value (a hash or set: the same elements in the same order), and the header-only check must
// agree with the full load on everything but the LZF data itself.
//
// Input: byte 0's low bit says whether to replace the input's last 10 bytes with a valid
// footer (version: byte 0 >> 1, 0-127, so that versions above 10 come up too), so that the
// fuzzer reaches the object behind the CRC; the rest is the payload.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/crc64.h"
#include "server/dump_payload.h"

namespace {
constexpr uint64_t kMaxBytes = 1 << 20;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace flin::server;
  if (size < 1) return 0;
  std::string payload(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) {
    payload.resize(payload.size() > 10 ? payload.size() - 10 : 0);
    const int version = data[0] >> 1;
    payload.push_back(static_cast<char>(version));
    payload.push_back(0);
    const uint64_t crc = flin::Crc64(0, payload);
    for (int i = 0; i < 8; ++i) payload.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
  }
  std::string value;
  const LoadedPayload full = LoadDumpPayload(payload, kMaxBytes, &value);
  const LoadedPayload header = LoadDumpPayload(payload, kMaxBytes, nullptr);
  if (header.type != full.type) __builtin_trap();
  if (full.fault != PayloadFault::kNone) {
    // Only the LZF data is left unchecked by the header-only pass.
    if (header.fault != full.fault &&
        !(header.fault == PayloadFault::kNone && full.fault == PayloadFault::kBadFormat)) {
      __builtin_trap();
    }
    return 0;
  }
  if (header.fault != PayloadFault::kNone || value.size() > kMaxBytes ||
      value.size() != full.size || header.size != full.size) {
    __builtin_trap();
  }
  std::string again;
  const std::string dumped = full.value_type == flin::storage::ValueType::kHash  ? DumpHash(value)
                             : full.value_type == flin::storage::ValueType::kSet ? DumpSet(value)
                             : full.value_type == flin::storage::ValueType::kList ? DumpList(value)
                                                                           : DumpString(value);
  if (LoadDumpPayload(dumped, kMaxBytes, &again).fault != PayloadFault::kNone ||
      again != value) {
    __builtin_trap();
  }
  return 0;
}

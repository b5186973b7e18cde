// libFuzzer target: any bytes fed to the request parser, in arbitrary splits, must never
// crash it, and every request it accepts must consume input.

#include <cstddef>
#include <cstdint>
#include <string>

#include "protocol/request_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  flin::protocol::ParserLimits limits;
  limits.max_bulk_bytes = 1 << 16;
  limits.max_request_bytes = 1 << 20;
  flin::protocol::RequestParser parser(limits);
  const bool authed = data[0] & 1;
  const size_t step = 1 + data[0] % 7;  // feed the input a few bytes at a time
  std::string buf;
  size_t fed = 1;
  while (fed < size) {
    size_t n = std::min(step, size - fed);
    buf.append(reinterpret_cast<const char*>(data) + fed, n);
    fed += n;
    while (!buf.empty()) {
      size_t consumed = 0;
      auto r = parser.Parse(buf, authed, &consumed);
      if (r == flin::protocol::RequestParser::Result::kError) return 0;
      if (r == flin::protocol::RequestParser::Result::kNeedMore) break;
      if (consumed == 0 || consumed > buf.size()) __builtin_trap();
      for (auto a : parser.args()) (void)a.size();
      buf.erase(0, consumed);
    }
  }
  return 0;
}

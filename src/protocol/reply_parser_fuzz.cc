// libFuzzer target: arbitrary bytes, fed in arbitrary splits, must never crash the reply
// parser, and it must never hold more bytes than it was given. Build with -DFLIN_FUZZ=ON
// (clang) and run build/reply_parser_fuzz.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/reply_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte chooses the chunk size, so that every split of the input gets exercised.
  const size_t chunk = 1 + data[0] % 64;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  flin::protocol::ReplyParser::Limits limits;
  limits.max_depth = 16;
  limits.max_line_bytes = 1024;
  flin::protocol::ReplyParser parser(limits);
  size_t fed = 0;
  while (fed < input.size()) {
    const size_t n = std::min(chunk, input.size() - fed);
    parser.Feed(input.substr(fed, n));
    fed += n;
    flin::Reply reply;
    flin::protocol::ReplyParser::State state;
    while ((state = parser.Next(&reply)) == flin::protocol::ReplyParser::State::kReply) {
      (void)reply.ToString();
    }
    if (parser.buffered() > fed) __builtin_trap();
    if (state == flin::protocol::ReplyParser::State::kError) break;
  }
  return 0;
}

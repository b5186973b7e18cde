#pragma once
// flin::Reply: one decoded server reply, RESP2 or RESP3, as libflin hands it to callers.
//
// A Reply is a plain value: it owns its strings and nested elements, is cheap to move and
// safe to copy. It carries no reference to the connection or buffer it came from, so it may
// outlive both and be passed between threads freely (it has no internal synchronisation; do
// not mutate one Reply from two threads at once).
//
// A server-side error ("-ERR ...", "!21\r\n...") is a Reply of type kError, not a failed
// Status: the request reached the server and was answered. libflin uses Status only for
// transport, protocol and timeout failures, where no answer was received.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace flin {

enum class ReplyType : uint8_t {
  kString,     // bulk string "$" (RESP2/3), binary-safe; text in str
  kStatus,     // simple string "+", e.g. OK, PONG; text in str
  kError,      // simple error "-" or bulk error "!"; message in str ("ERR ...", "MOVED ...")
  kInteger,    // ":" ; value in integer
  kNil,        // RESP2 null bulk "$-1" and null array "*-1", RESP3 null "_"
  kArray,      // "*" ; items in elements
  kMap,        // RESP3 "%" ; elements holds key0, value0, key1, value1, ...
  kSet,        // RESP3 "~" ; items in elements
  kPush,       // RESP3 ">" out-of-band message; items in elements
  kDouble,     // RESP3 "," ; the text as sent (e.g. "3.14", "inf") in str
  kBoolean,    // RESP3 "#" ; integer is 1 for true, 0 for false
  kBigNumber,  // RESP3 "(" ; decimal digits in str
  kVerbatim,   // RESP3 "=" ; str holds the payload without its "txt:" format prefix
};

struct Reply {
  ReplyType type = ReplyType::kNil;
  int64_t integer = 0;
  std::string str;
  std::vector<Reply> elements;

  bool IsError() const { return type == ReplyType::kError; }
  bool IsNil() const { return type == ReplyType::kNil; }
  // True for a kStatus reply whose text is exactly `text` (e.g. IsStatus("OK")).
  bool IsStatus(std::string_view text) const {
    return type == ReplyType::kStatus && str == text;
  }
  // A short human-readable rendering for logs and test failures (not a wire format).
  std::string ToString() const;

  static Reply Error(std::string message) {
    Reply r;
    r.type = ReplyType::kError;
    r.str = std::move(message);
    return r;
  }
};

}  // namespace flin

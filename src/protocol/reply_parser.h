#pragma once
// ReplyParser: an incremental decoder of server replies (RESP2 and RESP3) for clients.
//
// Bytes are handed in as they arrive from the socket, in any split; Next() yields each
// complete reply in order. The parser never reads past what it was given, never crashes on
// malformed input, and bounds memory: a declared length or element count reserves nothing up
// front; storage grows only with bytes actually received, and every declared size is checked
// against Limits before it is believed.
//
// On malformed input Next() returns kError once and for ever after: the byte stream has lost
// its framing, so the connection that fed it must be closed.
//
// RESP3 attributes ("|") are parsed and dropped; streamed strings/aggregates ("$?", "*?") are
// rejected as unsupported.
//
// Thread-safety: none. One parser belongs to one connection and is used by one thread at a
// time.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "flin/reply.h"

namespace flin::protocol {

class ReplyParser {
 public:
  struct Limits {
    // Longest bulk string accepted ("$", "!", "="). Redis's own proto-max-bulk-len default.
    int64_t max_bulk_bytes = 512ll << 20;
    // Longest line (simple string, error, number) accepted, excluding CRLF.
    size_t max_line_bytes = 1 << 20;
    // Largest declared element count of one aggregate.
    int64_t max_elements = 1ll << 32;
    // Deepest nesting of aggregates.
    int max_depth = 128;
  };

  enum class State { kReply, kIncomplete, kError };

  ReplyParser() = default;
  explicit ReplyParser(const Limits& limits) : limits_(limits) {}

  // Appends received bytes.
  void Feed(std::string_view data);

  // Zero-copy alternative to Feed for recv(): returns space for at least `min_bytes` bytes at
  // the end of the buffer; after writing n (<= the space) bytes there, call Commit(n). The
  // pointer is invalidated by any other call.
  char* PrepareWrite(size_t min_bytes, size_t* capacity);
  void Commit(size_t n);

  // Decodes the next complete reply into *out (replacing its contents). Returns kIncomplete
  // when more bytes are needed (partial progress is kept), kError on malformed input (see
  // error()).
  State Next(Reply* out);

  // Why Next() returned kError; empty otherwise.
  const std::string& error() const { return error_; }
  // Bytes received but not yet consumed by a completed reply element.
  size_t buffered() const { return size_ - pos_; }

 private:
  struct Frame {
    Reply reply;
    int64_t remaining;  // elements still to come
    bool attribute;     // a RESP3 attribute: dropped when complete
  };

  State Fail(std::string why);
  // Parses one element (scalar or aggregate header) at pos_. Returns kReply with *item set
  // for a complete scalar or empty aggregate, kIncomplete if bytes are missing, kError.
  // For a non-empty aggregate header pushes a Frame and returns kIncomplete with *pushed set.
  State ParseElement(Reply* item, bool* pushed);
  bool FindLine(std::string_view* line, size_t* next);
  void Compact();

  Limits limits_;
  std::string buf_;
  size_t pos_ = 0;
  size_t size_ = 0;  // bytes of buf_ holding data (buf_ may be larger: spare capacity)
  std::vector<Frame> stack_;
  std::string error_;
};

}  // namespace flin::protocol

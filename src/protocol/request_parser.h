#pragma once
// RequestParser: turns the bytes a client sent into commands (argument vectors).
//
// Understands RESP multibulk requests ("*2\r\n$3\r\nGET\r\n$1\r\na\r\n") and inline commands
// ("GET a\r\n", telnet-style, with Redis's quoting rules). It is resumable: when a request is
// incomplete it remembers how far it got, so a large value arriving in many reads is scanned
// once, not once per read. Memory is bounded by the limits below and by the bytes that actually
// arrived: a declared length never causes an allocation of its own.
//
// Contract: call Parse() with the connection's unconsumed input, which must always start at the
// first byte of the request being parsed (the caller may move or grow its buffer between calls,
// but not drop or reorder bytes). On kOk, args() views bytes of that input (or, for inline
// commands, the parser's own storage) and stays valid until the next Parse() or until the
// caller changes its buffer. On kError, error() holds the text after "-ERR " and the connection
// must be closed after replying, as Redis does.
//
// Threading: one parser per connection; not thread-safe.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace flin::protocol {

struct ParserLimits {
  size_t max_bulk_bytes = 64u << 20;       // one argument (--max-value-bytes)
  size_t max_args = 1024 * 1024;           // arguments in one request
  size_t max_inline_bytes = 64 * 1024;     // an inline command line
  size_t max_request_bytes = 512u << 20;   // all of one request
  // Before AUTH (when a password is set), requests are tiny, so a stranger cannot make the
  // server buffer much: Redis's "unauthenticated" limits.
  size_t unauth_max_args = 10;
  size_t unauth_max_bulk_bytes = 16384;
};

class RequestParser {
 public:
  enum class Result { kOk, kNeedMore, kError };

  explicit RequestParser(ParserLimits limits = {}) : limits_(limits) {}

  // Parses one request from the front of `input`. kOk: *consumed bytes form the request
  // (args() may be empty for an empty inline line or "*0", which the caller skips).
  Result Parse(std::string_view input, bool authenticated, size_t* consumed);

  const std::vector<std::string_view>& args() const { return args_; }
  const std::string& error() const { return error_; }
  void set_limits(const ParserLimits& limits) { limits_ = limits; }
  const ParserLimits& limits() const { return limits_; }

 private:
  Result ParseMultibulk(std::string_view in, bool authenticated, size_t* consumed);
  Result ParseInline(std::string_view in, size_t* consumed);
  Result Fail(std::string msg);
  void Reset();

  ParserLimits limits_;
  // Resumable multibulk state: offsets are relative to the start of the request.
  int64_t argc_ = -1;        // declared argument count, -1 until the header is read
  size_t pos_ = 0;           // where scanning resumes
  int64_t bulk_len_ = -1;    // length of the argument being read, -1 if at its "$" header
  std::vector<std::pair<size_t, size_t>> spans_;  // (offset, length) of arguments read
  std::vector<std::string_view> args_;
  std::vector<std::string> inline_args_;
  std::string error_;
};

// Splits an inline command line with Redis's rules (sdssplitargs): spaces separate words,
// "double quotes" understand \n \r \t \b \a \\ \" and \xHH, 'single quotes' only \'.
// Returns false on unbalanced quotes (or a closing quote not followed by a space).
bool SplitInlineArgs(std::string_view line, std::vector<std::string>* out);

}  // namespace flin::protocol

#include "protocol/request_parser.h"

#include <cstring>

namespace flin::protocol {
namespace {

// Parses a decimal integer occupying all of `s` (optional '-'), like Redis's string2ll.
bool ParseLength(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  size_t i = 0;
  bool neg = false;
  if (s[0] == '-') {
    neg = true;
    i = 1;
    if (s.size() == 1) return false;
  }
  int64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    if (v > (INT64_MAX - (s[i] - '0')) / 10) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = neg ? -v : v;
  return true;
}

// Finds "\r\n" at or after `from`; returns npos if absent.
size_t FindCrlf(std::string_view in, size_t from) {
  while (from < in.size()) {
    const void* p = memchr(in.data() + from, '\r', in.size() - from);
    if (p == nullptr) return std::string_view::npos;
    size_t at = static_cast<const char*>(p) - in.data();
    if (at + 1 >= in.size()) return std::string_view::npos;
    if (in[at + 1] == '\n') return at;
    from = at + 1;
  }
  return std::string_view::npos;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

void RequestParser::Reset() {
  argc_ = -1;
  pos_ = 0;
  bulk_len_ = -1;
  spans_.clear();
}

RequestParser::Result RequestParser::Fail(std::string msg) {
  error_ = "Protocol error: " + std::move(msg);
  Reset();
  return Result::kError;
}

RequestParser::Result RequestParser::Parse(std::string_view input, bool authenticated,
                                           size_t* consumed) {
  args_.clear();
  if (input.empty()) return Result::kNeedMore;
  if (input[0] == '*') return ParseMultibulk(input, authenticated, consumed);
  return ParseInline(input, consumed);
}

RequestParser::Result RequestParser::ParseInline(std::string_view in, size_t* consumed) {
  const void* nl = memchr(in.data(), '\n', in.size());
  if (nl == nullptr) {
    if (in.size() > limits_.max_inline_bytes) return Fail("too big inline request");
    return Result::kNeedMore;
  }
  size_t end = static_cast<const char*>(nl) - in.data();
  if (end > limits_.max_inline_bytes) return Fail("too big inline request");
  std::string_view line = in.substr(0, end);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  inline_args_.clear();
  if (!SplitInlineArgs(line, &inline_args_)) return Fail("unbalanced quotes in request");
  if (inline_args_.size() > limits_.max_args) return Fail("invalid multibulk length");
  for (const auto& a : inline_args_) args_.emplace_back(a);
  *consumed = end + 1;
  return Result::kOk;
}

RequestParser::Result RequestParser::ParseMultibulk(std::string_view in, bool authenticated,
                                                    size_t* consumed) {
  const size_t max_args = authenticated ? limits_.max_args : limits_.unauth_max_args;
  const size_t max_bulk = authenticated ? limits_.max_bulk_bytes : limits_.unauth_max_bulk_bytes;
  if (argc_ < 0) {
    size_t crlf = FindCrlf(in, 1);
    if (crlf == std::string_view::npos) {
      if (in.size() > limits_.max_inline_bytes) return Fail("too big mbulk count string");
      return Result::kNeedMore;
    }
    int64_t n;
    if (!ParseLength(in.substr(1, crlf - 1), &n) || n > INT32_MAX) {
      return Fail("invalid multibulk length");
    }
    if (n > 0 && static_cast<size_t>(n) > max_args) {
      return Fail(authenticated ? "invalid multibulk length" : "unauthenticated multibulk length");
    }
    pos_ = crlf + 2;
    if (n <= 0) {  // "*0" and "*-1" are empty requests; Redis skips them.
      *consumed = pos_;
      Reset();
      return Result::kOk;
    }
    argc_ = n;
    spans_.clear();
    spans_.reserve(static_cast<size_t>(n) < 1024 ? n : 1024);
  }
  while (static_cast<int64_t>(spans_.size()) < argc_) {
    if (bulk_len_ < 0) {
      if (pos_ >= in.size()) return Result::kNeedMore;
      if (in[pos_] != '$') {
        return Fail(std::string("expected '$', got '") + in[pos_] + "'");
      }
      size_t crlf = FindCrlf(in, pos_ + 1);
      if (crlf == std::string_view::npos) {
        if (in.size() - pos_ > limits_.max_inline_bytes) return Fail("too big bulk count string");
        return Result::kNeedMore;
      }
      int64_t len;
      if (!ParseLength(in.substr(pos_ + 1, crlf - pos_ - 1), &len) || len < 0 ||
          static_cast<uint64_t>(len) > max_bulk) {
        return Fail(authenticated ? "invalid bulk length" : "unauthenticated bulk length");
      }
      bulk_len_ = len;
      pos_ = crlf + 2;
      if (pos_ + static_cast<size_t>(len) > limits_.max_request_bytes) {
        return Fail("request too large");
      }
    }
    size_t need = pos_ + static_cast<size_t>(bulk_len_) + 2;
    if (in.size() < need) return Result::kNeedMore;
    if (in[need - 2] != '\r' || in[need - 1] != '\n') return Fail("expected CRLF after bulk data");
    spans_.emplace_back(pos_, static_cast<size_t>(bulk_len_));
    pos_ = need;
    bulk_len_ = -1;
  }
  args_.reserve(spans_.size());
  for (const auto& [off, len] : spans_) args_.emplace_back(in.data() + off, len);
  *consumed = pos_;
  Reset();
  return Result::kOk;
}

bool SplitInlineArgs(std::string_view line, std::vector<std::string>* out) {
  size_t i = 0;
  const size_t n = line.size();
  while (true) {
    while (i < n && isspace(static_cast<unsigned char>(line[i]))) ++i;
    if (i >= n) return true;
    std::string cur;
    bool in_dq = false, in_sq = false;
    while (true) {
      if (in_dq) {
        if (i >= n) return false;
        char c = line[i];
        if (c == '\\' && i + 3 < n && line[i + 1] == 'x' && HexDigit(line[i + 2]) >= 0 &&
            HexDigit(line[i + 3]) >= 0) {
          cur.push_back(static_cast<char>(HexDigit(line[i + 2]) * 16 + HexDigit(line[i + 3])));
          i += 3;
        } else if (c == '\\' && i + 1 < n) {
          ++i;
          switch (line[i]) {
            case 'n': cur.push_back('\n'); break;
            case 'r': cur.push_back('\r'); break;
            case 't': cur.push_back('\t'); break;
            case 'b': cur.push_back('\b'); break;
            case 'a': cur.push_back('\a'); break;
            default: cur.push_back(line[i]); break;
          }
        } else if (c == '"') {
          // A closing quote must be followed by a space or the end.
          if (i + 1 < n && !isspace(static_cast<unsigned char>(line[i + 1]))) return false;
          in_dq = false;
          ++i;
          break;
        } else {
          cur.push_back(c);
        }
      } else if (in_sq) {
        if (i >= n) return false;
        char c = line[i];
        if (c == '\\' && i + 1 < n && line[i + 1] == '\'') {
          ++i;
          cur.push_back('\'');
        } else if (c == '\'') {
          if (i + 1 < n && !isspace(static_cast<unsigned char>(line[i + 1]))) return false;
          in_sq = false;
          ++i;
          break;
        } else {
          cur.push_back(c);
        }
      } else {
        if (i >= n || isspace(static_cast<unsigned char>(line[i]))) break;
        char c = line[i];
        if (c == '"') {
          in_dq = true;
        } else if (c == '\'') {
          in_sq = true;
        } else {
          cur.push_back(c);
        }
      }
      ++i;
    }
    out->push_back(std::move(cur));
  }
}

}  // namespace flin::protocol

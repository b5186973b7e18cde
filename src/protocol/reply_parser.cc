#include "protocol/reply_parser.h"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace flin {

std::string Reply::ToString() const {
  switch (type) {
    case ReplyType::kString:
    case ReplyType::kVerbatim:
      return "\"" + str + "\"";
    case ReplyType::kStatus:
    case ReplyType::kDouble:
    case ReplyType::kBigNumber:
      return str;
    case ReplyType::kError:
      return "(error) " + str;
    case ReplyType::kInteger:
      return "(integer) " + std::to_string(integer);
    case ReplyType::kBoolean:
      return integer ? "true" : "false";
    case ReplyType::kNil:
      return "(nil)";
    case ReplyType::kArray:
    case ReplyType::kMap:
    case ReplyType::kSet:
    case ReplyType::kPush: {
      std::string s = type == ReplyType::kMap ? "{" : "[";
      for (size_t i = 0; i < elements.size(); ++i) {
        if (i) s += type == ReplyType::kMap && i % 2 ? ": " : ", ";
        s += elements[i].ToString();
      }
      return s + (type == ReplyType::kMap ? "}" : "]");
    }
  }
  return "?";
}

namespace protocol {
namespace {

// Strict RESP integer: optional '-', then decimal digits only, no overflow.
bool ParseInt(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

bool IsBigNumber(std::string_view s) {
  if (!s.empty() && s[0] == '-') s.remove_prefix(1);
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

constexpr size_t kMinBuffer = 16 << 10;
constexpr size_t kShrinkAbove = 1 << 20;

}  // namespace

void ReplyParser::Feed(std::string_view data) {
  size_t cap = 0;
  char* p = PrepareWrite(data.size(), &cap);
  if (!data.empty()) std::memcpy(p, data.data(), data.size());
  Commit(data.size());
}

char* ReplyParser::PrepareWrite(size_t min_bytes, size_t* capacity) {
  Compact();
  if (buf_.size() - size_ < min_bytes) {
    buf_.resize(std::max({size_ + min_bytes, buf_.size() * 2, kMinBuffer}));
  }
  *capacity = buf_.size() - size_;
  return buf_.data() + size_;
}

void ReplyParser::Commit(size_t n) { size_ += std::min(n, buf_.size() - size_); }

void ReplyParser::Compact() {
  if (pos_ == size_) {
    pos_ = size_ = 0;
    if (buf_.size() > kShrinkAbove) {
      buf_.resize(kMinBuffer);
      buf_.shrink_to_fit();
    }
  } else if (pos_ > 0 && pos_ >= size_ - pos_) {
    // Move the unconsumed tail to the front once it is no larger than the consumed head,
    // so each byte is moved O(1) times on average.
    std::memmove(buf_.data(), buf_.data() + pos_, size_ - pos_);
    size_ -= pos_;
    pos_ = 0;
  }
}

ReplyParser::State ReplyParser::Fail(std::string why) {
  error_ = "protocol error: " + std::move(why);
  stack_.clear();
  return State::kError;
}

bool ReplyParser::FindLine(std::string_view* line, size_t* next) {
  const char* begin = buf_.data() + pos_ + 1;
  const char* end = buf_.data() + size_;
  const char* cr = static_cast<const char*>(std::memchr(begin, '\r', end - begin));
  if (cr == nullptr || cr + 1 >= end) return false;
  *line = std::string_view(begin, cr - begin);
  *next = (cr - buf_.data()) + 2;
  return true;
}

ReplyParser::State ReplyParser::ParseElement(Reply* item, bool* consumed_only) {
  *consumed_only = false;
  if (pos_ >= size_) return State::kIncomplete;
  const char type = buf_[pos_];
  std::string_view line;
  size_t next = 0;
  if (!FindLine(&line, &next)) {
    if (size_ - pos_ > limits_.max_line_bytes + 2) return Fail("line too long");
    return State::kIncomplete;
  }
  if (line.size() > limits_.max_line_bytes) return Fail("line too long");
  if (buf_[next - 1] != '\n') return Fail("CR not followed by LF");

  int64_t n = 0;
  switch (type) {
    case '+':
    case '-':
      item->type = type == '+' ? ReplyType::kStatus : ReplyType::kError;
      item->str.assign(line);
      break;
    case ':':
      if (!ParseInt(line, &n)) return Fail("bad integer");
      item->type = ReplyType::kInteger;
      item->integer = n;
      break;
    case '_':
      if (!line.empty()) return Fail("bad null");
      item->type = ReplyType::kNil;
      break;
    case ',':
      if (line.empty()) return Fail("bad double");
      item->type = ReplyType::kDouble;
      item->str.assign(line);
      break;
    case '#':
      if (line != "t" && line != "f") return Fail("bad boolean");
      item->type = ReplyType::kBoolean;
      item->integer = line == "t";
      break;
    case '(':
      if (!IsBigNumber(line)) return Fail("bad big number");
      item->type = ReplyType::kBigNumber;
      item->str.assign(line);
      break;
    case '$':
    case '!':
    case '=': {
      if (line == "?") return Fail("streamed strings are not supported");
      if (!ParseInt(line, &n) || n < -1) return Fail("bad bulk length");
      if (n == -1) {
        if (type != '$') return Fail("null length for a non-string bulk");
        item->type = ReplyType::kNil;
        break;
      }
      if (n > limits_.max_bulk_bytes) return Fail("bulk length over limit");
      // Nothing is reserved for the declared length: the bytes must have arrived first.
      if (size_ - next < static_cast<size_t>(n) + 2) return State::kIncomplete;
      if (buf_[next + n] != '\r' || buf_[next + n + 1] != '\n') {
        return Fail("bulk string not terminated by CRLF");
      }
      std::string_view payload(buf_.data() + next, n);
      if (type == '=') {
        if (payload.size() < 4 || payload[3] != ':') return Fail("bad verbatim string");
        payload.remove_prefix(4);
      }
      item->type = type == '$' ? ReplyType::kString
                               : type == '!' ? ReplyType::kError : ReplyType::kVerbatim;
      item->str.assign(payload);
      next += n + 2;
      break;
    }
    case '*':
    case '%':
    case '~':
    case '>':
    case '|': {
      if (line == "?") return Fail("streamed aggregates are not supported");
      if (!ParseInt(line, &n) || n < -1) return Fail("bad aggregate length");
      if (n == -1) {
        if (type != '*') return Fail("null length for a non-array aggregate");
        item->type = ReplyType::kNil;
        break;
      }
      if (n > limits_.max_elements) return Fail("aggregate length over limit");
      if (static_cast<int>(stack_.size()) >= limits_.max_depth) return Fail("nesting too deep");
      ReplyType t = type == '*'   ? ReplyType::kArray
                    : type == '~' ? ReplyType::kSet
                    : type == '>' ? ReplyType::kPush
                                  : ReplyType::kMap;
      const int64_t count = (type == '%' || type == '|') ? n * 2 : n;
      pos_ = next;
      if (count == 0) {
        if (type == '|') {
          *consumed_only = true;
          return State::kIncomplete;
        }
        item->type = t;
        return State::kReply;
      }
      Frame frame{Reply{}, count, type == '|'};
      frame.reply.type = t;
      // Reserve little: a declared count is not evidence that the elements will come.
      frame.reply.elements.reserve(static_cast<size_t>(std::min<int64_t>(count, 16)));
      stack_.push_back(std::move(frame));
      *consumed_only = true;
      return State::kIncomplete;
    }
    default:
      return Fail("unknown reply type byte " + std::to_string(static_cast<uint8_t>(type)));
  }
  pos_ = next;
  return State::kReply;
}

ReplyParser::State ReplyParser::Next(Reply* out) {
  if (!error_.empty()) return State::kError;
  for (;;) {
    Reply item;
    bool consumed_only = false;
    State s = ParseElement(&item, &consumed_only);
    if (s == State::kError) return s;
    if (consumed_only) continue;
    if (s == State::kIncomplete) return s;
    for (;;) {
      if (stack_.empty()) {
        *out = std::move(item);
        return State::kReply;
      }
      Frame& top = stack_.back();
      top.reply.elements.push_back(std::move(item));
      if (--top.remaining > 0) break;
      Frame done = std::move(top);
      stack_.pop_back();
      if (done.attribute) break;  // attributes annotate the next element; dropped
      item = std::move(done.reply);
    }
  }
}

}  // namespace protocol
}  // namespace flin

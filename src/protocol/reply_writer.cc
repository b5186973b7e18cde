#include "protocol/reply_writer.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace flin::protocol {

void ReplyWriter::AppendLength(char type, int64_t n) {
  char buf[24];
  buf[0] = type;
  auto [end, ec] = std::to_chars(buf + 1, buf + sizeof(buf) - 2, n);
  *end++ = '\r';
  *end++ = '\n';
  out_->append(buf, end - buf);
}

void ReplyWriter::Simple(std::string_view s) {
  out_->push_back('+');
  out_->append(s);
  out_->append("\r\n", 2);
}

void ReplyWriter::Error(std::string_view msg) {
  out_->push_back('-');
  // An error line must not break the framing: newlines become spaces, as Redis does.
  for (char c : msg) out_->push_back(c == '\r' || c == '\n' ? ' ' : c);
  out_->append("\r\n", 2);
}

void ReplyWriter::Integer(int64_t v) { AppendLength(':', v); }

void ReplyWriter::Bulk(std::string_view s) {
  AppendLength('$', static_cast<int64_t>(s.size()));
  out_->append(s);
  out_->append("\r\n", 2);
}

void ReplyWriter::BulkInteger(int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  Bulk(std::string_view(buf, end - buf));
}

void ReplyWriter::Null() { out_->append(proto_ >= 3 ? "_\r\n" : "$-1\r\n"); }
void ReplyWriter::NullArray() { out_->append(proto_ >= 3 ? "_\r\n" : "*-1\r\n"); }
void ReplyWriter::ArrayHeader(size_t n) { AppendLength('*', static_cast<int64_t>(n)); }

void ReplyWriter::MapHeader(size_t pairs) {
  if (proto_ >= 3) {
    AppendLength('%', static_cast<int64_t>(pairs));
  } else {
    AppendLength('*', static_cast<int64_t>(pairs * 2));
  }
}

void ReplyWriter::SetHeader(size_t n) { AppendLength(proto_ >= 3 ? '~' : '*', n); }

void ReplyWriter::PushHeader(size_t n) { AppendLength(proto_ >= 3 ? '>' : '*', n); }

void ReplyWriter::Double(double v) {
  std::string s = FormatDouble(v);
  if (proto_ >= 3) {
    out_->push_back(',');
    out_->append(s);
    out_->append("\r\n", 2);
  } else {
    Bulk(s);
  }
}

void ReplyWriter::Bool(bool v) {
  if (proto_ >= 3) {
    out_->append(v ? "#t\r\n" : "#f\r\n");
  } else {
    Integer(v ? 1 : 0);
  }
}

void ReplyWriter::Verbatim(std::string_view s) {
  if (proto_ >= 3) {
    AppendLength('=', static_cast<int64_t>(s.size() + 4));
    out_->append("txt:");
    out_->append(s);
    out_->append("\r\n", 2);
  } else {
    Bulk(s);
  }
}

std::string FormatLongDouble(long double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[5 * 1024];
  // Redis uses "%.17Lf" and trims trailing zeroes (and the dot) for INCRBYFLOAT.
  int n = snprintf(buf, sizeof(buf), "%.17Lf", v);
  if (n <= 0 || static_cast<size_t>(n) >= sizeof(buf)) return "0";
  std::string s(buf, n);
  if (s.find('.') != std::string::npos) {
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

std::string FormatDouble(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (std::isnan(v)) return "nan";
  char buf[64];
  int n = snprintf(buf, sizeof(buf), "%.17g", v);
  return std::string(buf, n);
}

}  // namespace flin::protocol

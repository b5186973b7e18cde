#pragma once
// ReplyWriter: appends RESP2 or RESP3 replies to an output buffer.
//
// The writer does not own the buffer; it borrows a std::string that the caller (a connection,
// or the apply path building a reply to post back) owns and flushes. Types that only RESP3 has
// (null, map, set, double, boolean, verbatim) are written as their RESP2 equivalents when the
// connection speaks RESP2, as Redis does. Not thread-safe; cheap to construct.

#include <cstdint>
#include <string>
#include <string_view>

namespace flin::protocol {

class ReplyWriter {
 public:
  ReplyWriter(std::string* out, int proto) : out_(out), proto_(proto) {}

  int proto() const { return proto_; }
  std::string* buffer() { return out_; }

  void Simple(std::string_view s);            // +OK
  void Error(std::string_view msg);           // -ERR ...  (msg includes the code: "ERR ...")
  void Integer(int64_t v);                    // :42
  void Bulk(std::string_view s);              // $3\r\nfoo
  void Null();                                // $-1 (RESP2) / _ (RESP3)
  void NullArray();                           // *-1 (RESP2) / _ (RESP3)
  void ArrayHeader(size_t n);                 // *n
  void MapHeader(size_t pairs);               // %n (RESP3) / *2n (RESP2)
  void SetHeader(size_t n);                   // ~n (RESP3) / *n (RESP2)
  void PushHeader(size_t n);                  // >n (RESP3) / *n (RESP2): pub/sub messages
  void Double(double v);                      // ,v (RESP3) / bulk (RESP2)
  void Bool(bool v);                          // #t (RESP3) / :1 (RESP2)
  void Verbatim(std::string_view s);          // =n\r\ntxt:... (RESP3) / bulk (RESP2)
  void Ok() { Simple("OK"); }
  // A bulk whose text is `v` printed as a decimal integer.
  void BulkInteger(int64_t v);

 private:
  void AppendLength(char type, int64_t n);
  std::string* out_;
  int proto_;
};

// Formats a double the way Redis prints INCRBYFLOAT results: shortest form with up to 17
// significant digits, no exponent, no trailing zeros ("10.5", "3", "5000").
std::string FormatLongDouble(long double v);
// Formats a double for RESP3 doubles and RESP2 bulk doubles ("%.17g" trimmed, "inf", "-inf").
std::string FormatDouble(double v);

}  // namespace flin::protocol

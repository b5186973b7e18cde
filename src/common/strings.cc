#include "common/strings.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace flin {

bool ParseInt64(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  size_t i = 0;
  bool neg = false;
  if (s[0] == '-') {
    neg = true;
    if (s.size() == 1) return false;
    i = 1;
  }
  if (s[i] == '0') {
    if (s.size() == 1) {
      *out = 0;
      return true;
    }
    return false;
  }
  uint64_t v = 0;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c < '0' || c > '9') return false;
    if (v > (UINT64_MAX - (c - '0')) / 10) return false;
    v = v * 10 + (c - '0');
  }
  if (neg) {
    if (v > static_cast<uint64_t>(INT64_MAX) + 1) return false;
    *out = static_cast<int64_t>(0 - v);
  } else {
    if (v > static_cast<uint64_t>(INT64_MAX)) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

bool ParseLongDouble(std::string_view s, long double* out) {
  // Redis's string2ld: at most 5 KiB; out of range means an overflow to infinity or an
  // underflow to zero (a denormal result is a number); "inf" itself is one.
  if (s.empty() || s.size() >= 5 * 1024 || isspace(static_cast<unsigned char>(s[0]))) return false;
  std::string buf(s);
  char* end = nullptr;
  errno = 0;
  long double v = strtold(buf.c_str(), &end);
  if (end != buf.c_str() + buf.size() ||
      (errno == ERANGE && (std::isinf(v) || v == 0)) || std::isnan(v)) {
    return false;
  }
  *out = v;
  return true;
}

bool ParseDouble(std::string_view s, double* out) {
  if (s.empty() || s.size() > 5000 || isspace(static_cast<unsigned char>(s[0]))) return false;
  std::string buf(s);
  char* end = nullptr;
  errno = 0;
  double v = strtod(buf.c_str(), &end);
  if (end != buf.c_str() + buf.size() || (errno == ERANGE && !std::isinf(v)) || std::isnan(v)) {
    return false;
  }
  *out = v;
  return true;
}

bool ParseMemory(std::string_view s, int64_t* out) {
  std::string lower = ToLower(s);
  int64_t mul = 1;
  auto strip = [&](std::string_view suffix, int64_t m) {
    if (lower.size() > suffix.size() &&
        lower.compare(lower.size() - suffix.size(), suffix.size(), suffix) == 0) {
      lower.resize(lower.size() - suffix.size());
      mul = m;
      return true;
    }
    return false;
  };
  strip("gb", 1LL << 30) || strip("mb", 1LL << 20) || strip("kb", 1LL << 10) ||
      strip("g", 1000000000LL) || strip("m", 1000000LL) || strip("k", 1000LL) || strip("b", 1);
  int64_t v;
  if (!ParseInt64(lower, &v) || v < 0 || v > INT64_MAX / mul) return false;
  *out = v * mul;
  return true;
}

namespace {
char Fold(char c, bool nocase) {
  return nocase ? static_cast<char>(tolower(static_cast<unsigned char>(c))) : c;
}

// Matches the pattern token at *p (one of: ?, a [class], an escaped character, a character)
// against c, and moves *p and *plen past it. Every token matches exactly one character. A class
// missing its ']' takes the rest of the pattern, as in Redis.
bool MatchToken(const char** pp, size_t* pplen, char c, bool nocase) {
  const char* p = *pp;
  size_t plen = *pplen;
  bool matched;
  switch (*p) {
    case '?':
      matched = true;
      break;
    case '[': {
      ++p;
      --plen;
      const bool negate = plen && *p == '^';
      if (negate) {
        ++p;
        --plen;
      }
      matched = false;
      while (plen) {
        if (*p == '\\' && plen >= 2) {
          ++p;
          --plen;
          if (*p == c) matched = true;
        } else if (*p == ']') {
          break;
        } else if (plen >= 3 && p[1] == '-') {
          char lo = Fold(p[0], nocase), hi = Fold(p[2], nocase), f = Fold(c, nocase);
          if (lo > hi) std::swap(lo, hi);
          if (f >= lo && f <= hi) matched = true;
          p += 2;
          plen -= 2;
        } else if (Fold(*p, nocase) == Fold(c, nocase)) {
          matched = true;
        }
        ++p;
        --plen;
      }
      if (negate) matched = !matched;
      if (plen == 0) {  // unterminated: nothing after it
        *pp = p;
        *pplen = 0;
        return matched;
      }
      break;
    }
    case '\\':
      if (plen >= 2) {
        ++p;
        --plen;
      }
      [[fallthrough]];
    default:
      matched = Fold(*p, nocase) == Fold(c, nocase);
      break;
  }
  *pp = p + 1;
  *pplen = plen - 1;
  return matched;
}

// Glob matching with Redis's stringmatchlen semantics, in pattern x string steps: since every
// token but a star matches exactly one character, a mismatch only needs to give the latest
// star one more character (an earlier star taking more could only lead to states the latest
// one already tries). Trying every split among the stars instead is exponential in their
// number: seconds for ten, hours for twenty-five, on one KEYS or SCAN MATCH of any client.
bool Match(const char* p, size_t plen, const char* s, size_t slen, bool nocase) {
  // As stringmatchlen: an empty string matches only the empty pattern, not even "*" (KEYS and
  // SCAN treat the pattern "*" as "everything" before matching, as Redis does).
  if (slen == 0) return plen == 0;
  const char* star_p = nullptr;  // the pattern after the latest star, and where its match ends
  size_t star_plen = 0;
  const char* star_s = nullptr;
  size_t star_slen = 0;
  for (;;) {
    if (plen && *p == '*') {
      while (plen && *p == '*') {
        ++p;
        --plen;
      }
      if (plen == 0) return true;  // a trailing star takes the rest
      star_p = p;
      star_plen = plen;
      star_s = s;
      star_slen = slen;
      continue;
    }
    if (slen == 0) return plen == 0;  // no star can take more either
    if (plen) {
      const char* q = p;
      size_t qlen = plen;
      if (MatchToken(&q, &qlen, *s, nocase)) {
        p = q;
        plen = qlen;
        ++s;
        --slen;
        continue;
      }
    }
    if (star_p == nullptr || star_slen == 0) return false;
    ++star_s;  // the latest star takes one more character, and the rest is tried again
    --star_slen;
    p = star_p;
    plen = star_plen;
    s = star_s;
    slen = star_slen;
  }
}
}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view str, bool nocase) {
  return Match(pattern.data(), pattern.size(), str.data(), str.size(), nocase);
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string ToLower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return r;
}

}  // namespace flin

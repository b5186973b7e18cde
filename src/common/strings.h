#pragma once
// String helpers with Redis's exact rules. Pure functions; thread-safe.

#include <cstdint>
#include <string>
#include <string_view>

namespace flin {

// A decimal int64 in canonical form, as Redis's string2ll: no spaces, no '+', no leading
// zeros (but "0"), "-0" rejected; overflow rejected.
bool ParseInt64(std::string_view s, int64_t* out);
// A long double as INCRBYFLOAT accepts it (no spaces; "inf" yes, NaN no), as Redis's string2ld.
bool ParseLongDouble(std::string_view s, long double* out);
// A double (accepts "inf", "-inf", "+inf"), as Redis's string2d; no NaN.
bool ParseDouble(std::string_view s, double* out);
// A size with an optional unit: 100, 64kb, 64mb, 1gb (case-insensitive; k/m/g = 1000^n).
bool ParseMemory(std::string_view s, int64_t* out);

// Glob match with Redis's stringmatchlen rules: * ? [abc] [^a-z] and \ escapes.
bool GlobMatch(std::string_view pattern, std::string_view str, bool nocase = false);

bool EqualsIgnoreCase(std::string_view a, std::string_view b);
std::string ToLower(std::string_view s);

}  // namespace flin

#include "common/log.h"

#include <chrono>
#include <cstdio>

namespace flin {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kNotice)};
}

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }

bool LogEnabled(LogLevel level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

void Logf(LogLevel level, const char* fmt, ...) {
  static const char kMark[] = {'.', '*', '#'};  // Redis's marks for debug, notice, warning
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  const long long ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  fprintf(stderr, "%lld %c %s\n", ms, kMark[static_cast<int>(level)], msg);
}

}  // namespace flin

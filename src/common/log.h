#pragma once
// A minimal leveled logger to stderr: "<unix-ms> <level> <message>". The level is a process-wide
// atomic (--log-level, CONFIG SET log-level). Thread-safe: one fprintf per line.

#include <atomic>
#include <cstdarg>

namespace flin {

enum class LogLevel { kDebug = 0, kNotice = 1, kWarning = 2 };

void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);
void Logf(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

#define FLIN_LOG(level, ...)                                        \
  do {                                                              \
    if (::flin::LogEnabled(level)) ::flin::Logf(level, __VA_ARGS__); \
  } while (0)
#define LOG_DEBUG(...) FLIN_LOG(::flin::LogLevel::kDebug, __VA_ARGS__)
#define LOG_NOTICE(...) FLIN_LOG(::flin::LogLevel::kNotice, __VA_ARGS__)
#define LOG_WARNING(...) FLIN_LOG(::flin::LogLevel::kWarning, __VA_ARGS__)

}  // namespace flin

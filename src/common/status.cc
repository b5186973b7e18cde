#include "common/status.h"

namespace flin {

std::string Status::ToString() const {
  static constexpr const char* kNames[] = {"OK",       "InvalidArgument", "NotFound",
                                           "IOError",  "Corruption",      "Busy",
                                           "TimedOut", "Aborted",         "NotLeader",
                                           "Unavailable"};
  std::string s = kNames[static_cast<int>(code_)];
  if (!msg_.empty()) s += ": " + msg_;
  return s;
}

}  // namespace flin

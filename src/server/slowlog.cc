#include "server/slowlog.h"

#include <algorithm>
#include <ctime>

#include "common/strings.h"

namespace flin::server {
namespace {

constexpr size_t kMaxArgs = 32;
constexpr size_t kMaxArgBytes = 128;

std::string Kept(std::string_view arg) {
  if (arg.size() <= kMaxArgBytes) return std::string(arg);
  return std::string(arg.substr(0, kMaxArgBytes)) + "... (" +
         std::to_string(arg.size() - kMaxArgBytes) + " more bytes)";
}

// Arguments that hold a password: AUTH's, HELLO's after AUTH <user>, CONFIG SET requirepass's.
std::vector<bool> Redacted(Args args) {
  std::vector<bool> r(args.size(), false);
  const std::string cmd = ToLower(args[0]);
  if (cmd == "auth") {
    for (size_t i = 1; i < args.size(); ++i) r[i] = true;
  } else if (cmd == "hello") {
    for (size_t i = 2; i + 2 < args.size(); ++i) {
      if (ToLower(args[i]) == "auth") {
        r[i + 1] = r[i + 2] = true;
        i += 2;
      }
    }
  } else if (cmd == "config" && args.size() >= 4 && ToLower(args[1]) == "set") {
    for (size_t i = 2; i + 1 < args.size(); i += 2) {
      if (ToLower(args[i]) == "requirepass") r[i + 1] = true;
    }
  }
  return r;
}

}  // namespace

void SlowLog::Record(int64_t usec, Args args, std::string_view addr, std::string_view name,
                     int64_t max_len) {
  if (args.empty()) return;
  Entry e;
  e.unix_s = static_cast<int64_t>(time(nullptr));
  e.usec = usec;
  const std::vector<bool> redacted = Redacted(args);
  const size_t kept = args.size() > kMaxArgs ? kMaxArgs - 1 : args.size();
  e.args.reserve(kept + 1);
  for (size_t i = 0; i < kept; ++i) e.args.push_back(redacted[i] ? "(redacted)" : Kept(args[i]));
  if (kept < args.size()) {
    e.args.push_back("... (" + std::to_string(args.size() - kept) + " more arguments)");
  }
  e.addr = addr;
  e.name = name;
  std::lock_guard<std::mutex> lock(mu_);
  e.id = next_id_++;
  entries_.push_front(std::move(e));
  while (entries_.size() > static_cast<size_t>(std::max<int64_t>(0, max_len))) entries_.pop_back();
}

std::vector<SlowLog::Entry> SlowLog::Get(int64_t count) const {
  std::lock_guard<std::mutex> lock(mu_);
  const size_t n = count < 0 ? entries_.size()
                             : std::min(entries_.size(), static_cast<size_t>(count));
  return std::vector<Entry>(entries_.begin(), entries_.begin() + static_cast<ptrdiff_t>(n));
}

size_t SlowLog::Len() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

void SlowLog::Reset() {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.clear();
}

}  // namespace flin::server

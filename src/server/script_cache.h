#pragma once
// ScriptCache: the node's scripts by SHA-1, for EVALSHA and SCRIPT LOAD / EXISTS / FLUSH.
//
// As in Redis, the cache is the node's own and in memory only: SCRIPT LOAD loads on the node
// it is sent to, a restart or SCRIPT FLUSH empties it, and a client that gets NOSCRIPT sends
// the script again (EVAL, or SCRIPT LOAD then EVALSHA: what redis-py's Script does). EVAL
// adds its script too. Nothing here is replicated: EVALSHA puts the script's body in its log
// entry (script_family.cc), so replicas never need the cache.
//
// Bounded: past `max_bytes` of scripts (or `max_scripts` of them) the oldest are forgotten,
// whatever loaded them; a client then gets NOSCRIPT for them, as after a restart.
//
// Thread-safety: every method may be called from any thread (one mutex).

#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace flin::server {

class ScriptCache {
 public:
  explicit ScriptCache(size_t max_bytes = 64u << 20, size_t max_scripts = 100000)
      : max_bytes_(max_bytes), max_scripts_(max_scripts) {}

  // Keeps `body` under `sha` (its SHA-1, lower-case hex).
  void Add(const std::string& sha, std::string_view body);
  // The body of `sha` (any case); false if not cached.
  bool Get(std::string_view sha, std::string* body) const;
  bool Exists(std::string_view sha) const;
  void Flush();
  size_t size() const;
  size_t bytes() const;

 private:
  void EvictOldest();  // mu_ held

  const size_t max_bytes_;
  const size_t max_scripts_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::string> by_sha_;
  std::deque<std::string> order_;  // shas, oldest first
  size_t bytes_ = 0;
};

}  // namespace flin::server

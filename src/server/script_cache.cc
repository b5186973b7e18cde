#include "server/script_cache.h"

#include "common/strings.h"

namespace flin::server {

void ScriptCache::Add(const std::string& sha, std::string_view body) {
  std::lock_guard lock(mu_);
  if (by_sha_.contains(sha)) return;
  by_sha_.emplace(sha, std::string(body));
  order_.push_back(sha);
  bytes_ += sha.size() + body.size();
  while (order_.size() > 1 && (bytes_ > max_bytes_ || order_.size() > max_scripts_)) {
    EvictOldest();
  }
}

void ScriptCache::EvictOldest() {
  auto it = by_sha_.find(order_.front());
  bytes_ -= it->first.size() + it->second.size();
  by_sha_.erase(it);
  order_.pop_front();
}

bool ScriptCache::Get(std::string_view sha, std::string* body) const {
  const std::string key = ToLower(sha);
  std::lock_guard lock(mu_);
  auto it = by_sha_.find(key);
  if (it == by_sha_.end()) return false;
  *body = it->second;
  return true;
}

bool ScriptCache::Exists(std::string_view sha) const {
  const std::string key = ToLower(sha);
  std::lock_guard lock(mu_);
  return by_sha_.contains(key);
}

void ScriptCache::Flush() {
  std::lock_guard lock(mu_);
  by_sha_.clear();
  order_.clear();
  bytes_ = 0;
}

size_t ScriptCache::size() const {
  std::lock_guard lock(mu_);
  return by_sha_.size();
}

size_t ScriptCache::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

}  // namespace flin::server

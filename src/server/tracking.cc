#include "server/tracking.h"

#include <algorithm>

namespace flin::server {

namespace {

// Debian's Abseil has a string_view of its own, which the tables' lookups take.
absl::string_view Key(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Takes `id` out of the list under `key`, and the list out of `lists` once empty.
template <typename Map, typename Key>
void EraseFromListLocked(Map* lists, const Key& key, uint64_t id) {
  auto it = lists->find(key);
  if (it == lists->end()) return;
  std::vector<uint64_t>& ids = it->second;
  ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
  if (ids.empty()) lists->erase(it);
}

}  // namespace

PushBatch& Tracking::Out::For(PushSink* sink, PushBatch::Kind kind,
                              const std::shared_ptr<const std::string>& message) {
  auto [it, added] = index.try_emplace(std::make_tuple(sink, static_cast<int>(kind), message.get()),
                                       batches.size());
  if (added) {
    batches.emplace_back(sink, PushBatch{});
    batches.back().second.message = message;
  }
  return batches[it->second].second;
}

std::string Tracking::EncodeKeys(const std::vector<std::string_view>& keys) {
  std::string s = "*" + std::to_string(keys.size()) + "\r\n";
  for (std::string_view k : keys) {
    s += "$" + std::to_string(k.size()) + "\r\n";
    s.append(k);
    s += "\r\n";
  }
  return s;
}

std::vector<std::string> Tracking::Enable(PushSink* sink, uint64_t id, const Mode& mode) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, added] = clients_.try_emplace(id);
  Client& c = it->second;
  if (added) clients_count_.fetch_add(1);
  if (!added) EraseFromListLocked(&redirected_, c.mode.redirect, id);
  std::vector<std::string> prefixes = std::move(c.mode.prefixes);
  c.sink = sink;
  c.mode = mode;
  c.target_gone = c.broken = false;
  if (mode.redirect != 0) redirected_[mode.redirect].push_back(id);
  if (mode.bcast) {
    std::vector<std::string> wanted = mode.prefixes;
    if (wanted.empty()) wanted.emplace_back();
    for (std::string& p : wanted) {
      if (std::find(prefixes.begin(), prefixes.end(), p) != prefixes.end()) continue;
      std::vector<uint64_t>& ids = prefixes_[p];
      if (ids.empty()) ++prefix_lengths_[p.size()];
      ids.push_back(id);
      prefixes.push_back(std::move(p));
    }
  }
  c.mode.prefixes = std::move(prefixes);
  return c.mode.prefixes;
}

void Tracking::RemoveLocked(uint64_t id) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  const Client& c = it->second;
  for (const std::string& p : c.mode.prefixes) {
    EraseFromListLocked(&prefixes_, p, id);
    if (!prefixes_.contains(p)) {
      auto len = prefix_lengths_.find(p.size());
      if (len != prefix_lengths_.end() && --len->second == 0) prefix_lengths_.erase(len);
    }
  }
  EraseFromListLocked(&redirected_, c.mode.redirect, id);
  clients_.erase(it);
  clients_count_.fetch_sub(1);
  if (clients_.empty()) {  // nobody to invalidate: what was remembered is of no use
    table_.clear();
    items_ = 0;
  }
}

void Tracking::Disable(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  RemoveLocked(id);
}

void Tracking::Closed(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  RemoveLocked(id);
  auto it = redirected_.find(id);
  if (it == redirected_.end()) return;
  for (uint64_t t : it->second) {
    auto c = clients_.find(t);
    if (c != clients_.end()) c->second.target_gone = true;
  }
  redirected_.erase(it);
}

bool Tracking::RedirectBroken(uint64_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = clients_.find(id);
  return it != clients_.end() && it->second.broken;
}

void Tracking::SendLocked(uint64_t id, Client& c, const std::shared_ptr<const std::string>& keys,
                          Out* out) {
  if (c.mode.redirect == 0) {
    out->For(c.sink, PushBatch::Kind::kInvalidate, keys)
        .targets.push_back({id, PushBatch::Kind::kInvalidate, {}, false});
  } else if (!c.target_gone) {
    out->For(c.mode.redirect_sink, PushBatch::Kind::kInvalidate, keys)
        .targets.push_back({c.mode.redirect, PushBatch::Kind::kInvalidate, {}, true});
  } else {
    // Redis tells the client each time a message could not go where it redirects.
    c.broken = true;
    auto id_text = std::make_shared<const std::string>(std::to_string(c.mode.redirect));
    out->For(c.sink, PushBatch::Kind::kRedirBroken, id_text)
        .targets.push_back({id, PushBatch::Kind::kRedirBroken, {}, false});
  }
}

void Tracking::InvalidateKeyLocked(std::string_view key, uint64_t writer, Out* out) {
  auto it = table_.find(Key(key));
  if (it == table_.end()) return;
  std::shared_ptr<const std::string> message;
  for (uint64_t id : it->second) {
    auto c = clients_.find(id);
    // Gone, off (and on again since), or switched to BCAST: nothing to send.
    if (c == clients_.end() || c->second.mode.bcast) continue;
    if (c->second.mode.noloop && id == writer) continue;
    if (!message) message = std::make_shared<const std::string>(EncodeKeys({key}));
    SendLocked(id, c->second, message, out);
  }
  items_ -= it->second.size();
  table_.erase(it);
}

void Tracking::InvalidateAllLocked(Out* out) {
  for (auto& [id, c] : clients_) SendLocked(id, c, nullptr, out);
  table_.clear();
  items_ = 0;
}

void Tracking::Remember(uint64_t id, const std::vector<std::string_view>& keys) {
  Out out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (std::string_view key : keys) {
      auto [it, added] = table_.try_emplace(Key(key));
      std::vector<uint64_t>& ids = it->second;
      if (std::find(ids.begin(), ids.end(), id) != ids.end()) continue;
      ids.push_back(id);
      ++items_;
      // Ids of clients gone are dropped lazily; here too, so that a key read by ever new
      // clients and never changed does not collect them without bound (amortized: only
      // once the list has doubled past the clients there are).
      if (ids.size() > 2 * clients_.size() + 8) {
        const size_t before = ids.size();
        std::erase_if(ids, [&](uint64_t c) { return !clients_.contains(c); });
        items_ -= before - ids.size();
      }
    }
    // Over the bound: keys are invalidated to make room, as if they had changed (Redis picks
    // them at random; the table's order is as good), maybe some this command reads: the
    // connection sends those after the reply carrying them (ClientConn::TrackRead). A
    // bounded effort per call: a lowered bound is reached over the next reads.
    const int64_t max = max_keys_ != nullptr ? max_keys_->load(std::memory_order_relaxed) : 0;
    if (max > 0 && table_.size() > static_cast<size_t>(max)) {
      const size_t n = std::min<size_t>(table_.size() - static_cast<size_t>(max), 1000);
      std::vector<std::string> victims;
      victims.reserve(n);
      for (auto it = table_.begin(); it != table_.end() && victims.size() < n; ++it) {
        victims.push_back(it->first);
      }
      for (const std::string& v : victims) InvalidateKeyLocked(v, 0, &out);
    }
  }
  Deliver(&out);
}

void Tracking::Changed(const std::vector<KeyEvent>& events) {
  Out out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // BCAST: each prefix's changed keys, each with the last writer (NOLOOP), in order, and
    // where each key is in that list (a key changed again only updates its writer).
    struct PrefixKeys {
      std::vector<std::pair<std::string_view, uint64_t>> keys;
      absl::flat_hash_map<std::string_view, size_t> at;
    };
    absl::flat_hash_map<std::string_view, PrefixKeys> by_prefix;
    bool flushed = false;  // a cluster's FLUSHALL flushes many partitions in one batch
    for (const KeyEvent& e : events) {
      if (e.type == kTrackFlush) {
        if (!flushed) InvalidateAllLocked(&out);
        flushed = true;
        continue;
      }
      if (!KeyspaceEventChanges(e.type)) continue;
      if (!table_.empty()) InvalidateKeyLocked(e.key, e.writer, &out);
      for (const auto& [length, count] : prefix_lengths_) {
        if (length > e.key.size()) break;
        auto match = prefixes_.find(Key(std::string_view(e.key).substr(0, length)));
        if (match == prefixes_.end()) continue;
        PrefixKeys& pk = by_prefix[std::string_view(match->first)];
        auto [at, added] = pk.at.try_emplace(e.key, pk.keys.size());
        if (added) {
          pk.keys.emplace_back(e.key, e.writer);
        } else {
          pk.keys[at->second].second = e.writer;
        }
      }
    }
    for (const auto& [prefix, pk] : by_prefix) {
      const auto& keys = pk.keys;
      const auto& ids = prefixes_.at(std::string(prefix));
      std::shared_ptr<const std::string> all;
      for (uint64_t id : ids) {
        Client& c = clients_.at(id);
        std::vector<std::string_view> mine;
        for (const auto& [k, writer] : keys) {
          if (!(c.mode.noloop && writer == id)) mine.push_back(k);
        }
        if (mine.empty()) continue;
        if (mine.size() == keys.size()) {
          if (!all) all = std::make_shared<const std::string>(EncodeKeys(mine));
          SendLocked(id, c, all, &out);
        } else {
          SendLocked(id, c, std::make_shared<const std::string>(EncodeKeys(mine)), &out);
        }
      }
    }
  }
  Deliver(&out);
}

void Tracking::InvalidateAll() {
  Out out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    InvalidateAllLocked(&out);
  }
  Deliver(&out);
}

void Tracking::Deliver(Out* out) {
  for (auto& [sink, batch] : out->batches) sink->Push(std::move(batch));
  out->batches.clear();
  out->index.clear();
}

size_t Tracking::NumKeys() const {
  std::lock_guard<std::mutex> lock(mu_);
  return table_.size();
}

size_t Tracking::NumItems() const {
  std::lock_guard<std::mutex> lock(mu_);
  return items_;
}

size_t Tracking::NumPrefixes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return prefixes_.size();
}

}  // namespace flin::server

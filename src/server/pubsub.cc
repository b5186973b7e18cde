#include "server/pubsub.h"

#include <algorithm>
#include <mutex>

#include "common/strings.h"

namespace flin::server {
namespace {

// Debian's Abseil has a string_view of its own, which its maps look strings up by.
absl::string_view A(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

size_t PushBatch::Bytes() const {
  size_t per_target = 64 + (channel ? channel->size() : 0) + (message ? message->size() : 0);
  size_t n = 0;
  for (const Target& t : targets) n += per_target + t.pattern.size();
  return n;
}

PubSub::Registry& PubSub::RegistryOf(Space space) {
  switch (space) {
    case Space::kChannel: return channels_;
    case Space::kPattern: return patterns_;
    case Space::kShard: return shard_channels_;
  }
  return channels_;
}

const PubSub::Registry& PubSub::RegistryOf(Space space) const {
  return const_cast<PubSub*>(this)->RegistryOf(space);
}

bool PubSub::Subscribe(Space space, std::string_view name, Subscriber s) {
  std::unique_lock lock(mu_);
  std::vector<Subscriber>& subs = RegistryOf(space)[A(name)];
  if (std::find(subs.begin(), subs.end(), s) != subs.end()) return false;
  subs.push_back(s);
  return true;
}

bool PubSub::Unsubscribe(Space space, std::string_view name, Subscriber s) {
  std::unique_lock lock(mu_);
  Registry& reg = RegistryOf(space);
  auto it = reg.find(A(name));
  if (it == reg.end()) return false;
  auto pos = std::find(it->second.begin(), it->second.end(), s);
  if (pos == it->second.end()) return false;
  // Order among a channel's subscribers does not matter: each gets its own copy.
  *pos = it->second.back();
  it->second.pop_back();
  if (it->second.empty()) reg.erase(it);
  return true;
}

size_t PubSub::Publish(bool shard, std::string_view channel, std::string_view message) {
  // Copied once, on the first match (keyspace notifications publish every write's events,
  // mostly to nobody).
  std::shared_ptr<const std::string> ch, msg;
  // One batch per sink, in first-seen order (a handful of I/O threads: a linear search).
  std::vector<std::pair<PushSink*, PushBatch>> batches;
  auto add = [&](const Subscriber& s, PushBatch::Kind kind, std::string_view pattern) {
    auto it = std::find_if(batches.begin(), batches.end(),
                           [&](const auto& b) { return b.first == s.sink; });
    if (it == batches.end()) {
      if (!ch) {
        ch = std::make_shared<const std::string>(channel);
        msg = std::make_shared<const std::string>(message);
      }
      batches.emplace_back(s.sink, PushBatch{ch, msg, {}});
      it = batches.end() - 1;
    }
    it->second.targets.push_back(PushBatch::Target{s.conn_id, kind, std::string(pattern)});
  };
  size_t n = 0;
  {
    std::shared_lock lock(mu_);
    if (shard) {
      if (auto it = shard_channels_.find(A(channel)); it != shard_channels_.end()) {
        for (const Subscriber& s : it->second) add(s, PushBatch::Kind::kSMessage, {});
        n += it->second.size();
      }
    } else {
      if (auto it = channels_.find(A(channel)); it != channels_.end()) {
        for (const Subscriber& s : it->second) add(s, PushBatch::Kind::kMessage, {});
        n += it->second.size();
      }
      for (const auto& [pattern, subs] : patterns_) {
        if (!GlobMatch(pattern, channel)) continue;
        for (const Subscriber& s : subs) add(s, PushBatch::Kind::kPMessage, pattern);
        n += subs.size();
      }
    }
  }
  for (auto& [sink, batch] : batches) sink->Push(std::move(batch));
  return n;
}

size_t PubSub::CountReceivers(bool shard, std::string_view channel) const {
  std::shared_lock lock(mu_);
  if (shard) {
    auto it = shard_channels_.find(A(channel));
    return it == shard_channels_.end() ? 0 : it->second.size();
  }
  size_t n = 0;
  if (auto it = channels_.find(A(channel)); it != channels_.end()) n += it->second.size();
  for (const auto& [pattern, subs] : patterns_) {
    if (GlobMatch(pattern, channel)) n += subs.size();
  }
  return n;
}

std::vector<std::string> PubSub::Channels(bool shard, const std::string* pattern) const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, subs] : shard ? shard_channels_ : channels_) {
    if (pattern == nullptr || GlobMatch(*pattern, name)) out.push_back(name);
  }
  return out;
}

size_t PubSub::NumSubscribers(bool shard, std::string_view channel) const {
  std::shared_lock lock(mu_);
  const Registry& reg = shard ? shard_channels_ : channels_;
  auto it = reg.find(A(channel));
  return it == reg.end() ? 0 : it->second.size();
}

size_t PubSub::NumPatterns() const {
  std::shared_lock lock(mu_);
  return patterns_.size();
}

size_t PubSub::NumChannels(bool shard) const {
  std::shared_lock lock(mu_);
  return (shard ? shard_channels_ : channels_).size();
}

namespace {

void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

}  // namespace

// Body: kind ('P' PUBLISH, 'S' SPUBLISH) | u32 channel length | channel | message.
std::string EncodePublishMessage(bool shard, std::string_view channel, std::string_view message) {
  std::string out;
  out.reserve(5 + channel.size() + message.size());
  out.push_back(shard ? 'S' : 'P');
  PutU32(&out, static_cast<uint32_t>(channel.size()));
  out.append(channel);
  out.append(message);
  return out;
}

bool DecodePublishMessage(std::string_view body, bool* shard, std::string_view* channel,
                          std::string_view* message) {
  if (body.size() < 5 || (body[0] != 'P' && body[0] != 'S')) return false;
  uint32_t len = 0;
  for (int i = 0; i < 4; ++i) len |= static_cast<uint32_t>(static_cast<uint8_t>(body[1 + i])) << (8 * i);
  if (len > body.size() - 5) return false;
  *shard = body[0] == 'S';
  *channel = body.substr(5, len);
  *message = body.substr(5 + len);
  return true;
}

}  // namespace flin::server

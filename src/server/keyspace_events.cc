#include "server/keyspace_events.h"

#include "server/pubsub.h"

namespace flin::server {

bool ParseKeyspaceEvents(std::string_view s, int* flags) {
  s = s.substr(0, s.find('\0'));  // Redis reads the value as a C string
  int f = 0;
  for (char c : s) {
    switch (c) {
      case 'A': f |= kNotifyAll; break;
      case 'g': f |= kNotifyGeneric; break;
      case '$': f |= kNotifyString; break;
      case 'l': f |= kNotifyList; break;
      case 's': f |= kNotifySet; break;
      case 'h': f |= kNotifyHash; break;
      case 'z': f |= kNotifyZset; break;
      case 'x': f |= kNotifyExpired; break;
      case 'e': f |= kNotifyEvicted; break;
      case 'K': f |= kNotifyKeyspace; break;
      case 'E': f |= kNotifyKeyevent; break;
      case 't': f |= kNotifyStream; break;
      case 'm': f |= kNotifyKeyMiss; break;
      case 'd': f |= kNotifyModule; break;
      case 'n': f |= kNotifyNew; break;
      default: return false;
    }
  }
  *flags = f;
  return true;
}

std::string FormatKeyspaceEvents(int flags) {
  std::string s;
  if ((flags & kNotifyAll) == kNotifyAll) {
    s += 'A';  // Redis then leaves 'n' out too
  } else {
    static constexpr std::pair<int, char> kClasses[] = {
        {kNotifyGeneric, 'g'}, {kNotifyString, '$'}, {kNotifyList, 'l'},    {kNotifySet, 's'},
        {kNotifyHash, 'h'},    {kNotifyZset, 'z'},   {kNotifyExpired, 'x'}, {kNotifyEvicted, 'e'},
        {kNotifyStream, 't'},  {kNotifyModule, 'd'}, {kNotifyNew, 'n'}};
    for (const auto& [bit, c] : kClasses) {
      if (flags & bit) s += c;
    }
  }
  if (flags & kNotifyKeyspace) s += 'K';
  if (flags & kNotifyKeyevent) s += 'E';
  if (flags & kNotifyKeyMiss) s += 'm';
  return s;
}

std::vector<std::pair<std::string, std::string>> KeyEventMessages(int flags, const KeyEvent& e) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!(flags & e.type)) return out;
  if (flags & kNotifyKeyspace) out.emplace_back("__keyspace@0__:" + e.key, e.event);
  if (flags & kNotifyKeyevent) out.emplace_back(std::string("__keyevent@0__:") + e.event, e.key);
  return out;
}

void PublishKeyEvent(PubSub& pubsub, int flags, const KeyEvent& e) {
  for (const auto& [channel, message] : KeyEventMessages(flags, e)) {
    pubsub.Publish(false, channel, message);
  }
}

}  // namespace flin::server

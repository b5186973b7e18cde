#pragma once
// Keyspace notifications (Redis's notify-keyspace-events): what the flags mean, and the
// events one applied entry raises.
//
// Apply functions name their events (ApplyContext::Notify: a class, an event name, a key) as
// Redis's commands do; the state machine collects those of a batch and, once the batch is
// committed (readable), publishes them to this node's subscribers through PubSub:
// `__keyspace@0__:<key>` with the event as message (K) and `__keyevent@0__:<event>` with the
// key (E). Every replica applies every entry, so every node hosting a partition notifies its
// own subscribers of that partition's keys, as each Redis Cluster node notifies its own.
//
// Threading: pure functions; a KeyEvents belongs to the apply thread.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace flin::server {

class PubSub;

// Redis's bits (server.h NOTIFY_*).
enum KeyspaceEventFlags : int {
  kNotifyKeyspace = 1 << 0,  // K
  kNotifyKeyevent = 1 << 1,  // E
  kNotifyGeneric = 1 << 2,   // g: DEL, EXPIRE, RENAME, ...
  kNotifyString = 1 << 3,    // $
  kNotifyList = 1 << 4,      // l (no such type in Flin: accepted, never raised)
  kNotifySet = 1 << 5,       // s (likewise)
  kNotifyHash = 1 << 6,      // h: HSET, HDEL, HINCRBY, ...
  kNotifyZset = 1 << 7,      // z (no such type either)
  kNotifyExpired = 1 << 8,   // x
  kNotifyEvicted = 1 << 9,   // e (Flin evicts nothing: never raised)
  kNotifyStream = 1 << 10,   // t (likewise)
  kNotifyKeyMiss = 1 << 11,  // m: a read found no key
  kNotifyModule = 1 << 13,   // d (likewise)
  kNotifyNew = 1 << 14,      // n: a key was created
  // Not Redis's: internal to Flin's apply path (never in notify-keyspace-events).
  kTrackKeys = 1 << 20,   // in ApplyContext::notify_flags: CLIENT TRACKING wants the changes
  kTrackFlush = 1 << 21,  // the event of a flush: every key changed (tracking only)
  kTrackWrite = 1 << 22,  // a change no keyspace event names (PFCOUNT's cached count)
  kNotifyAll = kNotifyGeneric | kNotifyString | kNotifyList | kNotifySet | kNotifyHash |
               kNotifyZset | kNotifyExpired | kNotifyEvicted | kNotifyStream | kNotifyModule,
};

// "KEA" -> flags, as Redis's CONFIG SET parses it; false on a character it does not know.
bool ParseKeyspaceEvents(std::string_view s, int* flags);
// Flags -> the string CONFIG GET shows ("AKE"), in Redis's order.
std::string FormatKeyspaceEvents(int flags);
// Whether an event of `type` is published under `flags` at all.
inline bool KeyspaceEventWanted(int flags, int type) {
  return (flags & type) != 0 && (flags & (kNotifyKeyspace | kNotifyKeyevent)) != 0;
}

struct KeyEvent {
  int type;
  const char* event;  // a literal of the apply function
  std::string key;
  uint64_t writer = 0;  // the connection whose write raised it, if on this node (NOLOOP)
};
// Whether an event of `type` changed its key, for CLIENT TRACKING (a miss did not; "new"
// comes with the event that created the key).
inline bool KeyspaceEventChanges(int type) { return type != kNotifyKeyMiss && type != kNotifyNew; }

// The channels and messages one event is published as, under `flags`: pairs of (channel,
// message), the keyspace one first.
std::vector<std::pair<std::string, std::string>> KeyEventMessages(int flags, const KeyEvent& e);
// Publishes them to this node's subscribers.
void PublishKeyEvent(PubSub& pubsub, int flags, const KeyEvent& e);

}  // namespace flin::server

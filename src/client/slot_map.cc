// SlotMap, redirect parsing, key extraction and CLUSTER SLOTS loading.

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string_view>

#include "common/slot.h"
#include "flin/cluster.h"

namespace flin {
namespace {

bool ParsePort(std::string_view s, int* port) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *port);
  return ec == std::errc() && end == s.data() + s.size() && *port > 0 && *port < 65536;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Commands that name no key: any node may answer them.
constexpr std::string_view kKeyless[] = {
    "PING",     "ECHO",   "INFO",      "DBSIZE",   "FLUSHALL",  "FLUSHDB", "CLUSTER",
    "COMMAND",  "CONFIG", "HELLO",     "AUTH",     "SELECT",    "TIME",    "READONLY",
    "READWRITE", "ASKING", "CLIENT",   "QUIT",     "SHUTDOWN",  "DEBUG",   "MULTI",
    "EXEC",     "DISCARD", "SCRIPT",   "FUNCTION", "KEYS",      "SCAN",    "RANDOMKEY",
    "LASTSAVE", "SAVE",   "BGSAVE",    "BGREWRITEAOF", "WAIT",  "SLOWLOG", "LATENCY",
    "MONITOR",  "PUBLISH", "SUBSCRIBE", "PSUBSCRIBE", "UNSUBSCRIBE", "RESET"};

template <typename Vec>
std::optional<std::string_view> RoutingKeyOf(const Vec& argv) {
  if (argv.size() < 2) return std::nullopt;
  std::string_view cmd(argv[0].data(), argv[0].size());
  for (std::string_view k : kKeyless) {
    if (EqualsNoCase(cmd, k)) return std::nullopt;
  }
  if (EqualsNoCase(cmd, "EVAL") || EqualsNoCase(cmd, "EVALSHA") ||
      EqualsNoCase(cmd, "EVAL_RO") || EqualsNoCase(cmd, "EVALSHA_RO") ||
      EqualsNoCase(cmd, "FCALL") || EqualsNoCase(cmd, "FCALL_RO")) {
    int numkeys = 0;
    if (argv.size() < 4) return std::nullopt;
    std::string_view n(argv[2].data(), argv[2].size());
    auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), numkeys);
    if (ec != std::errc() || numkeys < 1) return std::nullopt;
    return std::string_view(argv[3].data(), argv[3].size());
  }
  if (EqualsNoCase(cmd, "OBJECT") || EqualsNoCase(cmd, "MEMORY")) {
    if (argv.size() < 3) return std::nullopt;
    return std::string_view(argv[2].data(), argv[2].size());
  }
  return std::string_view(argv[1].data(), argv[1].size());
}

}  // namespace

Result<NodeAddress> ParseNodeAddress(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return Status::InvalidArgument("expected host:port, got '" + std::string(text) + "'");
  }
  NodeAddress node;
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  node.host = std::string(host);
  if (!ParsePort(text.substr(colon + 1), &node.port)) {
    return Status::InvalidArgument("bad port in '" + std::string(text) + "'");
  }
  return node;
}

SlotMap::SlotMap() : slot_node_(kSlots, -1) {}

SlotMap SlotMap::SingleNode(const NodeAddress& node) {
  SlotMap map;
  map.nodes_.push_back(node);
  std::fill(map.slot_node_.begin(), map.slot_node_.end(), 0);
  return map;
}

int SlotMap::NodeIndex(const NodeAddress& node) {
  auto it = std::find(nodes_.begin(), nodes_.end(), node);
  if (it != nodes_.end()) return static_cast<int>(it - nodes_.begin());
  nodes_.push_back(node);
  return static_cast<int>(nodes_.size() - 1);
}

Result<SlotMap> SlotMap::FromClusterSlots(const Reply& reply, const std::string& fallback_host) {
  if (reply.type != ReplyType::kArray) {
    return Status::Corruption("CLUSTER SLOTS: expected an array, got " + reply.ToString());
  }
  SlotMap map;
  for (const Reply& range : reply.elements) {
    if (range.type != ReplyType::kArray || range.elements.size() < 3 ||
        range.elements[0].type != ReplyType::kInteger ||
        range.elements[1].type != ReplyType::kInteger) {
      return Status::Corruption("CLUSTER SLOTS: bad range " + range.ToString());
    }
    const int64_t first = range.elements[0].integer;
    const int64_t last = range.elements[1].integer;
    const Reply& master = range.elements[2];
    if (first < 0 || last >= kSlots || first > last || master.type != ReplyType::kArray ||
        master.elements.size() < 2 || master.elements[1].type != ReplyType::kInteger) {
      return Status::Corruption("CLUSTER SLOTS: bad range " + range.ToString());
    }
    NodeAddress node{master.elements[0].str, static_cast<int>(master.elements[1].integer)};
    if (node.host.empty() || node.host == "?") node.host = fallback_host;
    const int index = map.NodeIndex(node);
    std::fill(map.slot_node_.begin() + first, map.slot_node_.begin() + last + 1, index);
  }
  return map;
}

const NodeAddress* SlotMap::Master(int slot) const {
  if (slot < 0 || slot >= kSlots || slot_node_[slot] < 0) return nullptr;
  return &nodes_[slot_node_[slot]];
}

void SlotMap::Assign(int slot, const NodeAddress& node) {
  if (slot >= 0 && slot < kSlots) slot_node_[slot] = static_cast<int16_t>(NodeIndex(node));
}

int SlotMap::covered_slots() const {
  return static_cast<int>(std::count_if(slot_node_.begin(), slot_node_.end(),
                                        [](int16_t n) { return n >= 0; }));
}

std::optional<Redirect> ParseRedirect(std::string_view error, const std::string& fallback_host) {
  Redirect r;
  if (error.starts_with("MOVED ")) {
    error.remove_prefix(6);
  } else if (error.starts_with("ASK ")) {
    r.ask = true;
    error.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  size_t space = error.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  std::string_view slot = error.substr(0, space);
  auto [end, ec] = std::from_chars(slot.data(), slot.data() + slot.size(), r.slot);
  if (ec != std::errc() || end != slot.data() + slot.size() || r.slot < 0 || r.slot >= kSlots) {
    return std::nullopt;
  }
  Result<NodeAddress> node = ParseNodeAddress(error.substr(space + 1));
  if (!node.ok()) return std::nullopt;
  r.node = std::move(node).value();
  if (r.node.host.empty()) r.node.host = fallback_host;
  return r;
}

std::optional<std::string_view> RoutingKey(const Argv& argv) { return RoutingKeyOf(argv); }
std::optional<std::string_view> RoutingKey(std::span<const std::string_view> argv) {
  return RoutingKeyOf(argv);
}

Result<SlotMap> FetchSlotMap(Connection& conn, bool* is_cluster) {
  const NodeAddress self{conn.host(), conn.port()};
  Result<Reply> reply = conn.Command({"CLUSTER", "SLOTS"});
  if (!reply.ok()) return reply.status();
  *is_cluster = false;
  if (reply->IsError()) return SlotMap::SingleNode(self);
  Result<SlotMap> map = SlotMap::FromClusterSlots(*reply, conn.host());
  if (!map.ok()) return map.status();
  if (map->covered_slots() == 0) return SlotMap::SingleNode(self);
  *is_cluster = true;
  return map;
}

}  // namespace flin

#include "tools/bench_options.h"

#include <charconv>
#include <cstdlib>
#include <functional>
#include <map>
#include <thread>

namespace flin::bench {
namespace {

const char* kOpNames[kOpCount] = {"get", "set", "incr", "mset", "mget", "ping"};

Status Bad(const std::string& flag, const std::string& why) {
  return Status::InvalidArgument(flag + ": " + why);
}

Status ParseInt64(const std::string& flag, const std::string& v, int64_t lo, int64_t hi,
                  int64_t* out) {
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), *out);
  if (ec != std::errc() || end != v.data() + v.size()) return Bad(flag, "not an integer: " + v);
  if (*out < lo || *out > hi) {
    return Bad(flag, v + " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) +
                         "]");
  }
  return Status::Ok();
}

Status ParseInt(const std::string& flag, const std::string& v, int lo, int hi, int* out) {
  int64_t x = 0;
  Status s = ParseInt64(flag, v, lo, hi, &x);
  *out = static_cast<int>(x);
  return s;
}

Status ParseSeconds(const std::string& flag, const std::string& v, double* out) {
  char* end = nullptr;
  *out = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !(*out >= 0) || *out > 86400) {
    return Bad(flag, "expected seconds in [0, 86400], got '" + v + "'");
  }
  return Status::Ok();
}

Status ParseMix(const std::string& v, std::vector<std::pair<Op, int>>* mix) {
  mix->clear();
  size_t start = 0;
  while (start <= v.size()) {
    size_t comma = v.find(',', start);
    std::string item = v.substr(start, comma == std::string::npos ? std::string::npos
                                                                   : comma - start);
    size_t eq = item.find('=');
    std::string name = item.substr(0, eq);
    int weight = 1;
    if (eq != std::string::npos) {
      if (Status s = ParseInt("--mix", item.substr(eq + 1), 0, 1000000, &weight); !s.ok()) {
        return s;
      }
    }
    int op = -1;
    for (int i = 0; i < kOpCount; ++i) {
      if (name == kOpNames[i]) op = i;
    }
    if (op < 0) return Bad("--mix", "unknown operation '" + name + "' (get set incr mset mget ping)");
    if (weight > 0) mix->emplace_back(static_cast<Op>(op), weight);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (mix->empty()) return Bad("--mix", "no operation has a positive weight");
  return Status::Ok();
}

Status ParseCluster(const std::string& v, std::vector<NodeAddress>* nodes) {
  size_t start = 0;
  for (;;) {
    size_t comma = v.find(',', start);
    Result<NodeAddress> node = ParseNodeAddress(
        v.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (!node.ok()) return Bad("--cluster", node.status().message());
    nodes->push_back(std::move(node).value());
    if (comma == std::string::npos) return Status::Ok();
    start = comma + 1;
  }
}

}  // namespace

const char* OpName(Op op) { return kOpNames[static_cast<int>(op)]; }

std::string BenchOptions::MixString() const {
  std::string s;
  for (const auto& [op, w] : mix) s += (s.empty() ? "" : ",") + std::string(OpName(op)) + "=" +
                                      std::to_string(w);
  return s;
}

std::string Usage() {
  BenchOptions d;
  return "usage: flin-bench [flags]\n"
         "Drives a Redis-protocol server (Flin, Redis) with a closed-loop workload and reports\n"
         "throughput and per-request latency (send to reply) percentiles.\n\n"
         "  --host HOST            server host (default " + d.host + ")\n"
         "  --port PORT            server port (default " + std::to_string(d.port) + ")\n"
         "  --cluster H:P,H:P,...  cluster mode: seed nodes; keys are routed by slot, MOVED\n"
         "                         and ASK are followed (counted as redirects, not errors)\n"
         "  --connections N        clients, each with --pipeline requests in flight (default " +
         std::to_string(d.connections) + ";\n"
         "                         in cluster mode each client has one connection per node)\n"
         "  --pipeline N           requests in flight per connection (default 1)\n"
         "  --duration SEC         measured run time (default 10; SIGINT or SIGTERM ends\n"
         "                         the run early and reports the time measured so far)\n"
         "  --requests N           run N requests instead of a duration\n"
         "  --warmup SEC           unmeasured run time before measuring (default 0)\n"
         "  --keyspace N           distinct keys (default " + std::to_string(d.keyspace) + ")\n"
         "  --key-dist D           uniform | zipf | sequential (default uniform)\n"
         "  --zipf-theta T         zipf skew (default 0.99)\n"
         "  --value-size BYTES     value size for set/mset (default " +
         std::to_string(d.value_size) + ")\n"
         "  --mix OP=W,...         weighted operations among get set incr mset mget ping\n"
         "                         (default " + d.MixString() + ")\n"
         "  --batch N              keys per mset/mget (default " + std::to_string(d.batch) + ")\n"
         "  --threads N            client threads, each driving its share of connections\n"
         "                         with epoll (default 1; 2 on machines with 4+ cores)\n"
         "  --connect-timeout MS   per-connection connect timeout (default 2000)\n"
         "  --seed N               random seed (default 1)\n"
         "  --json                 print the result as one JSON object\n"
         "  --quiet                no progress line\n"
         "  --help                 this text\n\n"
         "Errors (error replies, lost connections) are counted and reported, never retried.\n";
}

Result<BenchOptions> ParseOptions(int argc, char** argv, bool* help) {
  BenchOptions o;
  *help = false;
  const unsigned hw = std::thread::hardware_concurrency();
  o.threads = hw >= 4 ? 2 : 1;
  int64_t n64 = 0;
  // Each flag: a handler of its value.
  std::map<std::string, std::function<Status(const std::string&, const std::string&)>> with = {
      {"--host", [&](auto&, auto& v) { o.host = v; return Status::Ok(); }},
      {"--port", [&](auto& f, auto& v) { return ParseInt(f, v, 1, 65535, &o.port); }},
      {"--cluster", [&](auto&, auto& v) { return ParseCluster(v, &o.cluster); }},
      {"--connections", [&](auto& f, auto& v) { return ParseInt(f, v, 1, 100000, &o.connections); }},
      {"--pipeline", [&](auto& f, auto& v) { return ParseInt(f, v, 1, 100000, &o.pipeline); }},
      {"--duration", [&](auto& f, auto& v) { return ParseSeconds(f, v, &o.duration_s); }},
      {"--requests", [&](auto& f, auto& v) { return ParseInt64(f, v, 1, INT64_MAX, &o.requests); }},
      {"--warmup", [&](auto& f, auto& v) { return ParseSeconds(f, v, &o.warmup_s); }},
      {"--keyspace", [&](auto& f, auto& v) { return ParseInt64(f, v, 1, 1ll << 40, &o.keyspace); }},
      {"--key-dist", [&](auto& f, auto& v) {
         if (v == "uniform") o.key_dist = KeyDist::kUniform;
         else if (v == "zipf") o.key_dist = KeyDist::kZipf;
         else if (v == "sequential") o.key_dist = KeyDist::kSequential;
         else return Bad(f, "expected uniform, zipf or sequential, got '" + v + "'");
         return Status::Ok();
       }},
      {"--zipf-theta", [&](auto& f, auto& v) {
         char* end = nullptr;
         o.zipf_theta = std::strtod(v.c_str(), &end);
         if (*end != '\0' || !(o.zipf_theta > 0) || o.zipf_theta >= 1 || o.zipf_theta == 1) {
           return Bad(f, "expected a number in (0, 1)");
         }
         return Status::Ok();
       }},
      {"--value-size", [&](auto& f, auto& v) { return ParseInt(f, v, 0, 512 << 20, &o.value_size); }},
      {"--mix", [&](auto&, auto& v) { return ParseMix(v, &o.mix); }},
      {"--batch", [&](auto& f, auto& v) { return ParseInt(f, v, 1, 100000, &o.batch); }},
      {"--threads", [&](auto& f, auto& v) { return ParseInt(f, v, 1, 1024, &o.threads); }},
      {"--connect-timeout", [&](auto& f, auto& v) {
         return ParseInt(f, v, 1, 600000, &o.connect_timeout_ms);
       }},
      {"--seed", [&](auto& f, auto& v) {
         Status s = ParseInt64(f, v, 0, INT64_MAX, &n64);
         o.seed = static_cast<uint64_t>(n64);
         return s;
       }},
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      *help = true;
      return o;
    }
    if (arg == "--json") {
      o.json = true;
      continue;
    }
    if (arg == "--quiet") {
      o.quiet = true;
      continue;
    }
    std::string value;
    bool has_value = false;
    if (size_t eq = arg.find('='); eq != std::string::npos && arg.starts_with("--")) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    auto it = with.find(arg);
    if (it == with.end()) return Status::InvalidArgument("unknown flag " + arg);
    if (!has_value) {
      if (i + 1 >= argc) return Bad(arg, "missing value");
      value = argv[++i];
    }
    if (Status s = it->second(arg, value); !s.ok()) return s;
  }
  if (o.requests == 0 && o.duration_s <= 0) return Bad("--duration", "must be positive");
  if (o.connections < o.threads) o.threads = o.connections;
  return o;
}

}  // namespace flin::bench

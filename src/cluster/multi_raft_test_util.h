#pragma once
// For GoogleTest tests that run a real MultiRaftNode and speak to it as its peers: waiting on a
// condition, a free loopback port, a state machine that applies nothing, and the cluster bus
// payload of one Raft message. Test code only (includes gtest).

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "cluster/multi_raft.h"
#include "net/event_loop.h"
#include "net/socket.h"
#include "raft/codec.h"

namespace flin::cluster::testing {

inline constexpr int64_t kWaitMs = 20000;  // generous: a failure, not a slow machine, trips it

// Polls `done` every few milliseconds until it holds or kWaitMs pass.
inline bool WaitFor(const std::function<bool()>& done) {
  const int64_t until = net::MonotonicMs() + kWaitMs;
  while (!done()) {
    if (net::MonotonicMs() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

inline int FreePort() {
  auto fd = net::Listen("127.0.0.1", 0, false);
  EXPECT_TRUE(fd.ok());
  sockaddr_in a{};
  socklen_t len = sizeof(a);
  getsockname(fd.value(), reinterpret_cast<sockaddr*>(&a), &len);
  close(fd.value());
  return ntohs(a.sin_port);
}

class NoopMachine : public StateMachine {
 public:
  void Apply(storage::WriteTxn&, int, int64_t, std::string_view, protocol::ReplyWriter*) override {}
};

// The cluster bus payload of one message: (group u16 LE, length u32 LE, encoded message).
inline std::string Payload(int group, const raft::Message& m) {
  std::string msg;
  raft::EncodeMessage(m, &msg);
  std::string out;
  const uint32_t len = static_cast<uint32_t>(msg.size());
  out.push_back(static_cast<char>(group & 0xff));
  out.push_back(static_cast<char>(group >> 8));
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  return out + msg;
}

}  // namespace flin::cluster::testing

#pragma once
// Small socket helpers for listeners and accepted connections. Thread-safe (plain syscalls).

#include <string>

#include "common/status.h"

namespace flin::net {

// A non-blocking TCP listener on host:port with SO_REUSEADDR and, if reuse_port, SO_REUSEPORT
// (so each I/O thread can own a listener and the kernel spreads connections over them).
Result<int> Listen(const std::string& host, int port, bool reuse_port, int backlog = 4096);
// Accepts one connection as non-blocking with TCP_NODELAY; -1 when none is pending (EAGAIN).
// *peer is "ip:port".
int Accept(int listen_fd, std::string* peer, std::string* local);
// Connects (blocking, with a timeout) — for tools and tests, not the server's hot path.
Result<int> Connect(const std::string& host, int port, int timeout_ms);

}  // namespace flin::net

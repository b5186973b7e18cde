#pragma once
// flin::Connection: one TCP connection to a Flin (or any Redis-protocol) server.
//
// A Connection sends commands (argv of binary-safe strings, encoded as RESP arrays) and
// receives their replies strictly in order. Any number of requests may be in flight
// (pipelining): Append() queues a command, and the n-th reply read answers the n-th command
// appended. Two styles of use share one object:
//
//   * Blocking, with timeouts: Command(), Pipeline(), Flush(), ReadReply(). Every wait is
//     bounded by ConnectOptions::io_timeout.
//   * Non-blocking, for event loops (flin-bench drives hundreds of connections from one
//     thread with epoll): fd(), Append(), WriteSome(), wants_write(), ReadSome(),
//     TryPopReply(). These never wait.
//
// Failure model: a transport error, a protocol error or a timeout makes the connection
// broken() for good — once a reply may have been lost, later replies cannot be matched to
// requests. Calls on a broken connection return the error that broke it. Redis error
// replies ("-ERR ...") are ordinary Reply values (type kError) and do not break anything.
//
// Ownership and thread-safety: a Connection owns its socket and closes it on destruction.
// It is not thread-safe: use it from one thread at a time (ConnectionPool hands connections
// to threads one at a time).
//
// Pub/sub and RESP3 push messages are not supported: pushes are skipped.
//
// Example:
//   auto conn = flin::Connection::Connect("127.0.0.1", 6380, {});
//   if (!conn.ok()) return conn.status();
//   flin::Result<flin::Reply> r = (*conn)->Command({"SET", "k", "v"});

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "flin/reply.h"

namespace flin {

namespace protocol {
class ReplyParser;
}

struct ConnectOptions {
  // Upper bound on name resolution + TCP connect. Default 1 s.
  std::chrono::milliseconds connect_timeout{1000};
  // Upper bound on each blocking wait for the socket to become writable or to deliver the
  // next reply (not on a whole Pipeline()). Default 5 s.
  std::chrono::milliseconds io_timeout{5000};
  // Disable Nagle's algorithm; latency-sensitive request/response traffic wants this.
  bool tcp_nodelay = true;
};

// A command line: binary-safe arguments, the command name first.
using Argv = std::vector<std::string>;

class Connection {
 public:
  // Connects to host:port (host is a name or a numeric IPv4/IPv6 address), trying each
  // resolved address until one accepts within the remaining connect_timeout. Name
  // resolution itself is a blocking getaddrinfo() call.
  static Result<std::unique_ptr<Connection>> Connect(const std::string& host, int port,
                                                     const ConnectOptions& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // ---- Blocking API (waits bounded by options.io_timeout) ----

  // Sends one command and returns its reply. Requires pending() == 0 so that the reply read
  // is this command's; otherwise returns InvalidArgument without sending.
  Result<Reply> Command(std::span<const std::string_view> argv);
  Result<Reply> Command(std::initializer_list<std::string_view> argv);
  Result<Reply> Command(const Argv& argv);

  // Sends all commands in one batch and returns their replies in order. Requires
  // pending() == 0. On a transport failure the whole call fails (the connection is broken).
  Result<std::vector<Reply>> Pipeline(const std::vector<Argv>& commands);

  // Writes every buffered byte (reading replies into the parser meanwhile, so that a server
  // blocked on a full socket buffer cannot deadlock the two).
  Status Flush();
  // Flushes, then waits for and returns the reply to the oldest pending request.
  Result<Reply> ReadReply();

  // ---- Non-blocking API (never waits) ----

  // Encodes a command into the output buffer and counts it as pending. Nothing is sent
  // until WriteSome()/Flush(). Valid on a broken connection (the data is discarded).
  void Append(std::span<const std::string_view> argv);
  void Append(std::initializer_list<std::string_view> argv);
  void Append(const Argv& argv);
  // Writes as much buffered output as the socket takes now.
  Status WriteSome();
  // True while encoded bytes wait to be written.
  bool wants_write() const { return out_pos_ < out_.size(); }
  // Reads everything the socket has now into the reply parser. IOError on EOF or error.
  Status ReadSome();
  // Pops the next complete reply: true and *out set; false if none has fully arrived yet;
  // a Status on a protocol error (the connection is then broken).
  Result<bool> TryPopReply(Reply* out);

  // For an idle connection (nothing pending): checks without waiting whether the server has
  // closed it or sent something unasked, and if so breaks it. Returns error() afterwards.
  // ConnectionPool calls this before lending a pooled connection, so that a connection the
  // server dropped while it sat idle is replaced before a command is written to it.
  Status CheckIdle();

  // ---- State ----
  int fd() const { return fd_; }
  // Requests appended whose reply has not been popped yet.
  uint64_t pending() const { return pending_; }
  bool broken() const { return !error_.ok(); }
  const Status& error() const { return error_; }
  const std::string& host() const { return host_; }
  int port() const { return port_; }
  const ConnectOptions& options() const { return options_; }

 private:
  Connection(int fd, std::string host, int port, const ConnectOptions& options);
  Status Break(Status s);
  // Waits until the socket is readable (or writable, if want_write) or `deadline` passes.
  Status Wait(bool want_write, std::chrono::steady_clock::time_point deadline);

  int fd_;
  std::string host_;
  int port_;
  ConnectOptions options_;
  std::string out_;
  size_t out_pos_ = 0;
  uint64_t pending_ = 0;
  std::unique_ptr<protocol::ReplyParser> parser_;
  Status error_;
};

}  // namespace flin

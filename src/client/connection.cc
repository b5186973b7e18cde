#include "flin/connection.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "protocol/reply_parser.h"

namespace flin {
namespace {

using Clock = std::chrono::steady_clock;

std::string Errno(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

// Connects one resolved address; returns the fd or -1 with *why set.
int ConnectAddress(const addrinfo* ai, Clock::time_point deadline, std::string* why) {
  int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
  if (fd < 0) {
    *why = Errno("socket");
    return -1;
  }
  if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) return fd;
  if (errno != EINPROGRESS) {
    *why = Errno("connect");
    ::close(fd);
    return -1;
  }
  pollfd p{fd, POLLOUT, 0};
  int n;
  do {
    n = ::poll(&p, 1, RemainingMs(deadline));
  } while (n < 0 && errno == EINTR);
  if (n == 0) {
    *why = "connect timed out";
    ::close(fd);
    return -1;
  }
  int err = 0;
  socklen_t len = sizeof(err);
  if (n < 0 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
    if (err != 0) errno = err;
    *why = Errno("connect");
    ::close(fd);
    return -1;
  }
  return fd;
}

void AppendNumberLine(std::string* out, char prefix, size_t n) {
  char buf[24];
  buf[0] = prefix;
  auto [end, ec] = std::to_chars(buf + 1, buf + sizeof(buf) - 2, n);
  *end++ = '\r';
  *end++ = '\n';
  out->append(buf, end - buf);
}

// Encodes argv as a RESP array of bulk strings.
template <typename Range>
void EncodeCommand(std::string* out, const Range& argv) {
  AppendNumberLine(out, '*', argv.size());
  for (const auto& arg : argv) {
    AppendNumberLine(out, '$', arg.size());
    out->append(arg.data(), arg.size());
    out->append("\r\n", 2);
  }
}

}  // namespace

Result<std::unique_ptr<Connection>> Connection::Connect(const std::string& host, int port,
                                                        const ConnectOptions& options) {
  const auto deadline = Clock::now() + options.connect_timeout;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0) {
    return Status::IOError("resolve " + host + ": " + ::gai_strerror(rc));
  }
  std::string why = "no address";
  int fd = -1;
  for (addrinfo* ai = res; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = ConnectAddress(ai, deadline, &why);
    if (fd < 0 && Clock::now() >= deadline) break;
  }
  ::freeaddrinfo(res);
  if (fd < 0) {
    std::string msg = host + ":" + service + ": " + why;
    return why == "connect timed out" ? Status::TimedOut(msg) : Status::IOError(msg);
  }
  if (options.tcp_nodelay) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  return std::unique_ptr<Connection>(new Connection(fd, host, port, options));
}

Connection::Connection(int fd, std::string host, int port, const ConnectOptions& options)
    : fd_(fd),
      host_(std::move(host)),
      port_(port),
      options_(options),
      parser_(std::make_unique<protocol::ReplyParser>()) {}

Connection::~Connection() {
  if (fd_ >= 0) ::close(fd_);
}

Status Connection::Break(Status s) {
  if (error_.ok()) {
    error_ = std::move(s);
    // Shut the socket down so that a server waiting on it sees EOF now.
    ::shutdown(fd_, SHUT_RDWR);
  }
  return error_;
}

void Connection::Append(std::span<const std::string_view> argv) {
  ++pending_;
  if (!broken()) EncodeCommand(&out_, argv);
}

void Connection::Append(std::initializer_list<std::string_view> argv) {
  Append(std::span<const std::string_view>(argv.begin(), argv.size()));
}

void Connection::Append(const Argv& argv) {
  ++pending_;
  if (!broken()) EncodeCommand(&out_, argv);
}

Status Connection::WriteSome() {
  if (broken()) return error_;
  while (out_pos_ < out_.size()) {
    ssize_t n = ::send(fd_, out_.data() + out_pos_, out_.size() - out_pos_, MSG_NOSIGNAL);
    if (n > 0) {
      out_pos_ += n;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return Status::Ok();
    } else {
      return Break(Status::IOError(Errno("send")));
    }
  }
  out_.clear();
  out_pos_ = 0;
  return Status::Ok();
}

Status Connection::ReadSome() {
  if (broken()) return error_;
  for (;;) {
    size_t cap = 0;
    char* dst = parser_->PrepareWrite(16 << 10, &cap);
    ssize_t n = ::recv(fd_, dst, cap, 0);
    if (n > 0) {
      parser_->Commit(n);
      if (static_cast<size_t>(n) < cap) return Status::Ok();
    } else if (n == 0) {
      return Break(Status::IOError("connection closed by server " + host_ + ":" +
                                   std::to_string(port_)));
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return Status::Ok();
    } else {
      return Break(Status::IOError(Errno("recv")));
    }
  }
}

Result<bool> Connection::TryPopReply(Reply* out) {
  if (broken()) return error_;
  for (;;) {
    switch (parser_->Next(out)) {
      case protocol::ReplyParser::State::kIncomplete:
        return false;
      case protocol::ReplyParser::State::kError:
        return Break(Status::Corruption(parser_->error()));
      case protocol::ReplyParser::State::kReply:
        if (out->type == ReplyType::kPush) continue;  // out-of-band: not a request's reply
        if (pending_ == 0) return Break(Status::Corruption("reply without a request"));
        --pending_;
        return true;
    }
  }
}

Status Connection::CheckIdle() {
  if (broken() || pending_ != 0) return error_;
  pollfd p{fd_, POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, 0) > 0) {
    if (Status s = ReadSome(); !s.ok()) return s;
    if (parser_->buffered() > 0) return Break(Status::Corruption("data without a request"));
  }
  return error_;
}

Status Connection::Wait(bool want_write, Clock::time_point deadline) {
  pollfd p{fd_, static_cast<short>(POLLIN | (want_write ? POLLOUT : 0)), 0};
  for (;;) {
    int n = ::poll(&p, 1, RemainingMs(deadline));
    if (n > 0) return Status::Ok();
    if (n == 0) {
      return Break(Status::TimedOut("no progress from " + host_ + ":" +
                                    std::to_string(port_) + " within io_timeout"));
    }
    if (errno != EINTR) return Break(Status::IOError(Errno("poll")));
  }
}

Status Connection::Flush() {
  for (;;) {
    if (Status s = WriteSome(); !s.ok()) return s;
    if (!wants_write()) return Status::Ok();
    // Progress resets the deadline: the timeout bounds each wait, not the whole transfer.
    if (Status s = Wait(true, Clock::now() + options_.io_timeout); !s.ok()) return s;
    if (Status s = ReadSome(); !s.ok()) return s;
  }
}

Result<Reply> Connection::ReadReply() {
  if (pending_ == 0) return Status::InvalidArgument("no request is pending");
  Reply reply;
  for (;;) {
    Result<bool> got = TryPopReply(&reply);
    if (!got.ok()) return got.status();
    if (*got) return reply;
    if (Status s = WriteSome(); !s.ok()) return s;
    if (Status s = Wait(wants_write(), Clock::now() + options_.io_timeout); !s.ok()) return s;
    if (Status s = ReadSome(); !s.ok()) return s;
  }
}

Result<Reply> Connection::Command(std::span<const std::string_view> argv) {
  if (broken()) return error_;
  if (pending_ != 0) return Status::InvalidArgument("Command() with replies still pending");
  Append(argv);
  return ReadReply();
}

Result<Reply> Connection::Command(std::initializer_list<std::string_view> argv) {
  return Command(std::span<const std::string_view>(argv.begin(), argv.size()));
}

Result<Reply> Connection::Command(const Argv& argv) {
  std::vector<std::string_view> views(argv.begin(), argv.end());
  return Command(std::span<const std::string_view>(views));
}

Result<std::vector<Reply>> Connection::Pipeline(const std::vector<Argv>& commands) {
  if (broken()) return error_;
  if (pending_ != 0) return Status::InvalidArgument("Pipeline() with replies still pending");
  for (const Argv& argv : commands) Append(argv);
  std::vector<Reply> replies;
  replies.reserve(commands.size());
  while (replies.size() < commands.size()) {
    Result<Reply> r = ReadReply();
    if (!r.ok()) return r.status();
    replies.push_back(std::move(r).value());
  }
  return replies;
}

}  // namespace flin

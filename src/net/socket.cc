#include "net/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace flin::net {
namespace {

std::string AddrString(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
    port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
    port = ntohs(a->sin6_port);
  }
  return std::string(host) + ":" + std::to_string(port);
}

Result<addrinfo*> Resolve(const std::string& host, int port, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) {
    return Status::InvalidArgument("cannot resolve " + host + ": " + gai_strerror(rc));
  }
  return res;
}

}  // namespace

Result<int> Listen(const std::string& host, int port, bool reuse_port, int backlog) {
  auto res = Resolve(host, port, true);
  if (!res.ok()) return res.status();
  addrinfo* ai = res.value();
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    freeaddrinfo(ai);
    return Status::IOError(std::string("socket: ") + strerror(errno));
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (reuse_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, backlog) != 0) {
    int err = errno;
    freeaddrinfo(ai);
    close(fd);
    return Status::IOError("cannot listen on " + host + ":" + std::to_string(port) + ": " +
                           strerror(err));
  }
  freeaddrinfo(ai);
  return fd;
}

int Accept(int listen_fd, std::string* peer, std::string* local) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  int fd = accept4(listen_fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  *peer = AddrString(ss);
  sockaddr_storage ls{};
  socklen_t llen = sizeof(ls);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ls), &llen) == 0) *local = AddrString(ls);
  return fd;
}

Result<int> Connect(const std::string& host, int port, int timeout_ms) {
  auto res = Resolve(host, port, false);
  if (!res.ok()) return res.status();
  addrinfo* ai = res.value();
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int rc = fd < 0 ? -1 : connect(fd, ai->ai_addr, ai->ai_addrlen);
  freeaddrinfo(ai);
  if (fd < 0) return Status::IOError(std::string("socket: ") + strerror(errno));
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t el = sizeof(err);
    if (poll(&p, 1, timeout_ms) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 ||
        err != 0) {
      close(fd);
      return Status::IOError("connect to " + host + ":" + std::to_string(port) + " failed");
    }
  } else if (rc != 0) {
    close(fd);
    return Status::IOError("connect to " + host + ":" + std::to_string(port) + ": " +
                           strerror(errno));
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

}  // namespace flin::net

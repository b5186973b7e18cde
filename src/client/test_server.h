#pragma once
// Test helper: runs a real redis-server (Debian's) on a scratch port with a scratch dir, for
// tests of libflin against a server. Readiness is awaited by reading the server's log for
// "Ready to accept connections", not by sleeping. Header-only; tests only.

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

extern char** environ;

namespace flin::testing {

// Path of redis-server, or empty if it is not installed.
inline std::string RedisServerPath() {
  for (const char* p : {"/usr/bin/redis-server", "/usr/local/bin/redis-server"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return {};
}

// A port that was free a moment ago (the kernel's pick for port 0).
inline int PickFreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

class RedisServer {
 public:
  // Starts redis-server with `extra` arguments; nullptr with *why set on failure.
  static std::unique_ptr<RedisServer> Start(const std::vector<std::string>& extra,
                                            std::string* why) {
    std::string bin = RedisServerPath();
    if (bin.empty()) {
      *why = "redis-server is not installed";
      return nullptr;
    }
    for (int attempt = 0; attempt < 5; ++attempt) {  // the picked port may be taken meanwhile
      auto server = std::unique_ptr<RedisServer>(new RedisServer());
      if (server->Spawn(bin, extra, why)) return server;
    }
    return nullptr;
  }

  ~RedisServer() {
    Kill();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  int port() const { return port_; }
  const std::string& dir() const { return dir_; }

  // Stops the server at once (SIGKILL), as a crash would.
  void Kill() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    if (log_fd_ >= 0) ::close(log_fd_);
    log_fd_ = -1;
  }

 private:
  RedisServer() = default;

  bool Spawn(const std::string& bin, const std::vector<std::string>& extra, std::string* why) {
    char tmpl[] = "/tmp/flin-client-test-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      *why = "mkdtemp failed";
      return false;
    }
    dir_ = tmpl;
    port_ = PickFreePort();
    std::vector<std::string> args = {bin,         "--port",      std::to_string(port_),
                                      "--bind",    "127.0.0.1",   "--save",
                                      "",          "--appendonly", "no",
                                      "--dir",     dir_,          "--daemonize",
                                      "no",        "--logfile",   ""};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) {
      *why = "pipe failed";
      return false;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipefd[1], 1);
    int rc = ::posix_spawn(&pid_, bin.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(pipefd[1]);
    log_fd_ = pipefd[0];
    if (rc != 0) {
      pid_ = -1;
      *why = "posix_spawn failed";
      return false;
    }
    // Await the server's own statement that it listens; EOF means it exited.
    std::string log;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (log.find("Ready to accept connections") == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{log_fd_, POLLIN, 0};
      char buf[4096];
      ssize_t n = 0;
      if (left.count() <= 0 || ::poll(&p, 1, left.count()) <= 0 ||
          (n = ::read(log_fd_, buf, sizeof(buf))) <= 0) {
        *why = "redis-server did not start: " + log;
        Kill();
        return false;
      }
      log.append(buf, n);
    }
    // Stop reading the log. redis-server ignores SIGPIPE (set before it reports ready), so
    // its later log writes fail harmlessly instead of blocking on a full pipe.
    ::close(log_fd_);
    log_fd_ = -1;
    return true;
  }

  pid_t pid_ = -1;
  int port_ = 0;
  int log_fd_ = -1;
  std::string dir_;
};

}  // namespace flin::testing

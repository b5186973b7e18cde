#pragma once
// Test helper: runs a real server — Debian's redis-server or this repo's flin-server — on a
// scratch port with a scratch directory, for tests of libflin against a server. Readiness is
// awaited by reading the server's log for its "ready" line, not by sleeping; a thread then
// drains the log until the server exits. Header-only; tests only.

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
#include <thread>
#include <vector>

extern char** environ;

namespace flin::testing {

enum class ServerKind { kRedis, kFlin };

inline const char* KindName(ServerKind kind) {
  return kind == ServerKind::kRedis ? "redis" : "flin";
}

// Path of the server binary, or empty if it is not there. flin-server: $FLIN_SERVER, else the
// build tree's (FLIN_SERVER_DEFAULT_PATH, set by CMake).
inline std::string ServerPath(ServerKind kind) {
  std::vector<std::string> candidates;
  if (kind == ServerKind::kRedis) {
    candidates = {"/usr/bin/redis-server", "/usr/local/bin/redis-server"};
  } else {
    if (const char* env = std::getenv("FLIN_SERVER")) candidates.push_back(env);
#ifdef FLIN_SERVER_DEFAULT_PATH
    candidates.push_back(FLIN_SERVER_DEFAULT_PATH);
#endif
  }
  for (const std::string& p : candidates) {
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return {};
}

// Binds `port` on loopback (0: the kernel picks) and returns the port bound, 0 if none.
inline int BindLoopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int bound = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    bound = ntohs(addr.sin_port);
  }
  ::close(fd);
  return bound;
}

// A port that was free a moment ago (the kernel's pick), and whose cluster bus port (+10000,
// Redis Cluster's and Flin's default) was free too: a Redis Cluster node refuses a port above
// 55535 (a clean-clone run met one).
inline int PickFreePort() {
  int port = 0;
  for (int attempt = 0; attempt < 100; ++attempt) {
    port = BindLoopback(0);
    if (port > 0 && port <= 55535 && BindLoopback(port + 10000) == port + 10000) return port;
  }
  return port;
}

class TestServer {
 public:
  // Starts a server with `extra` arguments; nullptr with *why set on failure (including
  // "not installed"/"not built", which tests turn into a skip).
  static std::unique_ptr<TestServer> Start(ServerKind kind, const std::vector<std::string>& extra,
                                           std::string* why) {
    std::string bin = ServerPath(kind);
    if (bin.empty()) {
      *why = kind == ServerKind::kRedis ? "redis-server is not installed"
                                        : "flin-server is not built (or set FLIN_SERVER)";
      return nullptr;
    }
    for (int attempt = 0; attempt < 5; ++attempt) {  // the picked port may be taken meanwhile
      auto server = std::unique_ptr<TestServer>(new TestServer());
      if (server->Spawn(kind, bin, extra, why)) return server;
    }
    return nullptr;
  }

  ~TestServer() {
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
    if (drain_.joinable()) drain_.join();  // EOF follows the exit
    if (log_fd_ >= 0) ::close(log_fd_);
    log_fd_ = -1;
  }

 private:
  TestServer() = default;

  bool Spawn(ServerKind kind, const std::string& bin, const std::vector<std::string>& extra,
             std::string* why) {
    char tmpl[] = "/tmp/flin-client-test-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      *why = "mkdtemp failed";
      return false;
    }
    dir_ = tmpl;
    port_ = PickFreePort();
    std::vector<std::string> args = {bin, "--port", std::to_string(port_), "--bind", "127.0.0.1"};
    std::string ready;
    if (kind == ServerKind::kRedis) {
      args.insert(args.end(), {"--save", "", "--appendonly", "no", "--dir", dir_,
                               "--daemonize", "no", "--logfile", ""});
      ready = "Ready to accept connections";
    } else {
      args.insert(args.end(), {"--dir", dir_ + "/data", "--fsync", "no"});
      ready = "ready on";
    }
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
    posix_spawn_file_actions_adddup2(&actions, pipefd[1], 2);
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
    while (log.find(ready) == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{log_fd_, POLLIN, 0};
      char buf[4096];
      ssize_t n = 0;
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0 ||
          (n = ::read(log_fd_, buf, sizeof(buf))) <= 0) {
        *why = std::string(KindName(kind)) + "-server did not start: " + log;
        Kill();
        return false;
      }
      log.append(buf, n);
    }
    // Keep reading the log so that the server never blocks on a full pipe.
    drain_ = std::thread([fd = log_fd_] {
      char buf[4096];
      while (::read(fd, buf, sizeof(buf)) > 0) {
      }
    });
    return true;
  }

  pid_t pid_ = -1;
  int port_ = 0;
  int log_fd_ = -1;
  std::thread drain_;
  std::string dir_;
};

}  // namespace flin::testing

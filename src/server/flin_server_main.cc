// flin-server: a single node by default (./flin-data, 127.0.0.1:6380). See --help.

#include <signal.h>

#include <cstdio>

#include "common/log.h"
#include "server/config.h"
#include "server/malloc_tuning.h"
#include "server/server.h"

int main(int argc, char** argv) {
  flin::server::Config config;
  bool exit_now = false;
  flin::Status s = config.ParseArgs(argc, argv, &exit_now);
  if (!s.ok()) {
    fprintf(stderr, "flin-server: %s\n(see flin-server --help)\n", s.message().c_str());
    return 2;
  }
  if (exit_now) {
    fputs(flin::server::Config::Usage().c_str(), stdout);
    return 0;
  }
  flin::server::ReexecWithMallocTunables(argv);
  // SIGTERM and SIGINT are taken by the main thread (sigtimedwait), never by a worker.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  flin::server::Server server(&config);
  s = server.Start();
  if (!s.ok()) {
    fprintf(stderr, "flin-server: %s\n", s.message().c_str());
    return 1;
  }
  LOG_NOTICE("flin %s ready on %s:%d, data in %s, fsync %s", "0.1.0", config.bind.c_str(),
             config.port, config.dir.c_str(), flin::server::FsyncName(config.fsync.load()));
  server.Run();
  return 0;
}

#include "server/malloc_tuning.h"

#include <unistd.h>

#include <cstdlib>
#include <string>

#include "common/log.h"

namespace flin::server {

void ReexecWithMallocTunables(char** argv) {
  constexpr const char* kGuard = "FLIN_MALLOC_TUNED";
  if (getenv(kGuard) != nullptr) return;
  const char* current = getenv("GLIBC_TUNABLES");
  std::string tunables = current != nullptr ? current : "";
  for (const char* name : {"glibc.malloc.hugetlb", "glibc.malloc.top_pad",
                           "glibc.malloc.mmap_threshold"}) {
    if (tunables.find(name) != std::string::npos) return;
  }
  if (!tunables.empty()) tunables += ":";
  tunables +=
      "glibc.malloc.hugetlb=1:glibc.malloc.top_pad=67108864:glibc.malloc.mmap_threshold=33554432";
  if (setenv("GLIBC_TUNABLES", tunables.c_str(), 1) != 0 || setenv(kGuard, "1", 1) != 0) return;
  // The binary's own path, not /proc/self/exe: the kernel names the process after the file
  // executed, and "exe" is no name for ps, top or pkill. /proc/self/exe only if that fails (the
  // file was replaced since it started).
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) {
    self[n] = '\0';
    execv(self, argv);
  }
  execv("/proc/self/exe", argv);
  LOG_WARNING("cannot re-execute with malloc tunables; running with glibc's defaults");
}

}  // namespace flin::server

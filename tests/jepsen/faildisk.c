/* A failing disk for one process, by LD_PRELOAD (tests/jepsen/test_disk_full.py builds it).
 *
 * While the file named by FLIN_FAILDISK_ARM exists, fsync() and fdatasync() of any file under
 * the directory FLIN_FAILDISK_DIR fail with EIO, as a disk that stopped persisting does (the
 * data may sit in the page cache; the caller cannot know what reached the platter). Nothing
 * else changes: reads, and writes into the page cache, still succeed.
 *
 * With FLIN_FAILDISK_DELAY_US set, an armed fsync is slow instead: it sleeps that many
 * microseconds, then syncs (a disk that persists, late).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int armed_for(int fd) {
  const char* arm = getenv("FLIN_FAILDISK_ARM");
  const char* dir = getenv("FLIN_FAILDISK_DIR");
  struct stat st;
  if (arm == NULL || dir == NULL || stat(arm, &st) != 0) return 0;
  char link[64], path[PATH_MAX];
  snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, sizeof(path) - 1);
  if (n <= 0) return 0;
  path[n] = '\0';
  return strncmp(path, dir, strlen(dir)) == 0;
}

/* The real call, unless the fault is armed for fd: then EIO. */
static int sync_or_fail(int fd, int (**real)(int), const char* name) {
  if (*real == NULL) *real = (int (*)(int))dlsym(RTLD_NEXT, name);
  if (armed_for(fd)) {
    const char* delay = getenv("FLIN_FAILDISK_DELAY_US");
    if (delay == NULL) {
      errno = EIO;
      return -1;
    }
    usleep((useconds_t)atol(delay));
  }
  return (*real)(fd);
}

int fsync(int fd) {
  static int (*real)(int);
  return sync_or_fail(fd, &real, "fsync");
}

int fdatasync(int fd) {
  static int (*real)(int);
  return sync_or_fail(fd, &real, "fdatasync");
}

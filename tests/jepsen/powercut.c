/* A power cut for one process, by LD_PRELOAD (tests/jepsen/powercut.py builds and uses it).
 *
 * kill -9 ends a process, not the machine: whatever it wrote survives in the page cache, so a
 * server that acknowledges writes it never fsynced passes every kill -9 test. This library
 * keeps the account a disk would: for every regular file opened under FLIN_POWERCUT_DIR it
 * (read-only ones too: they can be fsynced) appends to the journal FLIN_POWERCUT_JOURNAL (outside the simulated machine: written with
 * the real calls, it survives the kill)
 *     C <dev> <ino>            the file was created or truncated to nothing: 0 bytes are safe
 *     S <dev> <ino> <size>     an fsync/fdatasync of it succeeded: its first <size> bytes are
 *                              safe (the size before the call; later appends may race it)
 *     T <dev> <ino> <size>     it was truncated to <size> (what is safe shrinks with it)
 *     W <dev> <ino> <offset>   a write landed below what was already safe: an overwrite,
 *                              which cutting the file back to a length cannot model
 *     Z <dev> <ino> <offset> <len>
 *                              a write replaced zeros below what was safe (a file written
 *                              ahead with zeros): until an fsync covers it, a cut keeps a
 *                              random choice of its pages, the others zeros again
 *     D <dev> <ino>            its last name is about to go (see U: the stash's link): the
 *                              inode may be reused by a file this library does not see
 *                              being created
 * and, for the names of files and directories under FLIN_POWERCUT_DIR (a name is on disk only
 * once its directory is fsynced after it was made; POSIX promises no more):
 *     N <pdev> <pino> <name> <dev> <ino>
 *                              a name was made (a file created, a hard link, a directory) in
 *                              directory <pdev> <pino>, for <dev> <ino>
 *     R <fdev> <fino> <from> <tdev> <tino> <to> <dev> <ino> <stash>
 *                              <dev> <ino> was renamed from <from> in one directory to <to> in
 *                              another (or the same); <stash> is a hard link, made before, to
 *                              what <to> named until then (a regular file), or "-"; dropped
 *                              as U's is, once <to>'s directory is fsynced
 *     U <pdev> <pino> <name> <dev> <ino> <stash>
 *                              a file's name was removed; <stash> is a link to it, made
 *                              before, which the library drops once the directory is fsynced
 *     Y <dev> <ino>            an fsync of that directory succeeded: the names made, changed
 *                              or removed in it before are on disk
 *     D <dev> <ino>            (also) a directory is about to be removed
 * (powercut.py adds K <dev> <ino> <size>: what a cut left of it, all of which is on disk; and
 * Y records for every directory a cut left, whose names are then all on disk.)
 * Once the process is dead, powercut.py takes back the name changes no directory fsync
 * covered, newest first (a removed file linked back from the stash), then cuts every file
 * back to what its journal says was safe (plus, at random, part of the unsynced tail, as a
 * real disk may keep some). That is what a power cut leaves of append-only files, which is
 * how RocksDB writes (WAL, MANIFEST, SSTs); an overwrite is reported so that a test cannot
 * pass on a model that does not hold.
 * Files opened with fopen (std::ofstream too) are tracked as well: libstdc++ writes through
 * write(2) on the FILE's descriptor (glibc's own fwrite does not go through these symbols, so
 * a file written with fwrite is tracked but its writes are not checked for overwrites).
 * Not modelled (more lenient than a real cut): removals of directories, and a rename whose
 * new directory was fsynced is taken as whole (a journaling file system's rename is one
 * transaction; POSIX would let the old name come back too).
 *
 * Nothing else changes: every call does what it would have done.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_FDS 65536

/* Per tracked descriptor: the file's identity and what is known safe of it. */
struct tracked {
  int on;
  int is_dir; /* a directory: its fsync makes the names in it safe */
  int sync_each_write; /* opened O_SYNC / O_DSYNC */
  dev_t dev;
  ino_t ino;
  off_t safe;
};
static struct tracked fds[MAX_FDS];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
/* Orders what changes a file's length (creation with O_TRUNC, ftruncate: exclusive) against
 * syncs (shared, from the size taken before the fsync to its record): a sync's record never
 * lands after a truncation that happened while it ran. Name changes (with their N/R record)
 * are writers too: a directory fsync's Y covers exactly the names made before it began. */
static pthread_rwlock_t order = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
static int journal_fd = -1;

#define REAL(ret, name, args) \
  static ret(*real_##name) args; \
  if (real_##name == NULL) real_##name = (ret(*) args)dlsym(RTLD_NEXT, #name)

static void journal(const char* line) {
  static ssize_t (*real_write)(int, const void*, size_t);
  static int (*real_open)(const char*, int, ...);
  if (real_write == NULL) real_write = (ssize_t(*)(int, const void*, size_t))dlsym(RTLD_NEXT, "write");
  if (real_open == NULL) real_open = (int (*)(const char*, int, ...))dlsym(RTLD_NEXT, "open");
  pthread_mutex_lock(&mu);
  if (journal_fd < 0) {
    const char* path = getenv("FLIN_POWERCUT_JOURNAL");
    if (path != NULL) journal_fd = real_open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  }
  if (journal_fd >= 0) {
    /* One write per line with O_APPEND: lines of concurrent processes do not interleave. */
    if (real_write(journal_fd, line, strlen(line)) < 0) abort();
  } else {
    abort(); /* a power cut that is not recorded would make the test pass vacuously */
  }
  pthread_mutex_unlock(&mu);
}

/* Whether an absolute name is under FLIN_POWERCUT_DIR: strictly, or the directory itself too. */
static int inside(const char* abs, int self_too) {
  const char* dir = getenv("FLIN_POWERCUT_DIR");
  if (dir == NULL) return 0;
  size_t len = strlen(dir);
  return strncmp(abs, dir, len) == 0 && (abs[len] == '/' || (self_too && abs[len] == '\0'));
}

static int under_dir(int fd) {
  if (fd < 0) return 0;
  char link[64], path[PATH_MAX];
  snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, sizeof(path) - 1);
  if (n <= 0) return 0;
  path[n] = '\0';
  return inside(path, 1);
}

/* The absolute name of (dirfd, path), its directory resolved (symlinks, "..") as
 * FLIN_POWERCUT_DIR is, its last component left as it is (trailing slashes dropped). 0 if it
 * cannot be had (its directory does not exist). */
static int absolute(int dirfd, const char* path, char* out, size_t cap) {
  char joined[2 * PATH_MAX + 2], base[PATH_MAX], link[64], dir[PATH_MAX];
  if (path[0] == '/') {
    snprintf(joined, sizeof(joined), "%s", path);
  } else {
    if (dirfd == AT_FDCWD) {
      if (getcwd(base, sizeof(base)) == NULL) return 0;
    } else {
      snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
      ssize_t n = readlink(link, base, sizeof(base) - 1);
      if (n <= 0) return 0;
      base[n] = '\0';
    }
    snprintf(joined, sizeof(joined), "%s/%s", base, path);
  }
  size_t len = strlen(joined);
  while (len > 1 && joined[len - 1] == '/') joined[--len] = '\0';
  char* slash = strrchr(joined, '/');
  if (slash == NULL || slash[1] == '\0') return 0; /* "/" itself */
  *slash = '\0';
  if (realpath(joined[0] ? joined : "/", dir) == NULL) return 0;
  return snprintf(out, cap, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, slash + 1) < (int)cap;
}

/* After a successful open: track fd if it is a regular file under the directory. `fresh`:
 * the open created it or truncated it. */
static void opened(int fd, int flags, int fresh) {
  if (fd < 0 || !under_dir(fd)) return;
  struct stat st;
  if (fstat(fd, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) return;
  if (fd >= MAX_FDS) abort(); /* untracked writes would survive the cut: the test must not pass */
  fds[fd].is_dir = S_ISDIR(st.st_mode);
  if (fds[fd].is_dir) {
    fds[fd].dev = st.st_dev;
    fds[fd].ino = st.st_ino;
    fds[fd].on = 1;
    return;
  }
  char line[128];
  if (fresh) {
    snprintf(line, sizeof(line), "C %lu %lu\n", (unsigned long)st.st_dev, (unsigned long)st.st_ino);
    journal(line);
  }
  fds[fd].on = 1;
  fds[fd].sync_each_write = (flags & (O_SYNC | O_DSYNC)) != 0;
  fds[fd].dev = st.st_dev;
  fds[fd].ino = st.st_ino;
  fds[fd].safe = fresh ? 0 : st.st_size; /* an existing file: what is there survived a cut */
}

static int exists_at(int dirfd, const char* path) {
  struct stat st;
  return fstatat(dirfd, path, &st, 0) == 0;
}

/* The directory holding an absolute name, and the name's last component. */
static int parent_of(const char* abs, struct stat* pst, const char** base) {
  char parent[PATH_MAX + 1];
  snprintf(parent, sizeof(parent), "%s", abs);
  char* slash = strrchr(parent, '/');
  if (slash == NULL) return 0;
  *base = abs + (slash - parent) + 1;
  *slash = '\0';
  if ((*base)[0] == '\0' || strpbrk(*base, " \t\n") != NULL) abort(); /* the journal's fields */
  return stat(parent[0] ? parent : "/", pst) == 0;
}

/* A name was made at (dirfd, path): journaled N if it is under the directory. */
static void name_made(int dirfd, const char* path) {
  char abs[PATH_MAX + 1];
  struct stat pst, st;
  const char* base;
  if (!absolute(dirfd, path, abs, sizeof(abs)) || !inside(abs, 0) ||
      !parent_of(abs, &pst, &base) || lstat(abs, &st) != 0)
    return;
  char line[PATH_MAX + 128];
  snprintf(line, sizeof(line), "N %lu %lu %s %lu %lu\n", (unsigned long)pst.st_dev,
           (unsigned long)pst.st_ino, base, (unsigned long)st.st_dev, (unsigned long)st.st_ino);
  journal(line);
}

/* Whether an open with these flags leaves the file new or empty (then journaled C), and
 * whether it makes a name (then journaled N). */
static int opens_fresh(int dirfd, const char* path, int flags, int* makes_name) {
  *makes_name = 0;
  if ((flags & O_TMPFILE) == O_TMPFILE) return 1;
  if (flags & O_CREAT) *makes_name = !exists_at(dirfd, path);
  return (flags & O_TRUNC) || *makes_name;
}

static int do_openat(int dirfd, const char* path, int flags, mode_t mode) {
  REAL(int, openat, (int, const char*, int, ...));
  int makes_name;
  const int fresh = opens_fresh(dirfd, path, flags, &makes_name);
  if (fresh) pthread_rwlock_wrlock(&order);
  const int fd = real_openat(dirfd, path, flags, mode);
  if (fd >= 0) opened(fd, flags, fresh);
  if (fd >= 0 && makes_name) name_made(dirfd, path); /* before a directory fsync can run */
  if (fresh) pthread_rwlock_unlock(&order);
  return fd;
}

static mode_t mode_of(int flags, va_list ap) {
  return __OPEN_NEEDS_MODE(flags) ? (mode_t)va_arg(ap, int) : 0;
}

/* The variadic forms: the mode is there only when the flags need one. */
#define OPEN_WITH_MODE(dirfd)                  \
  va_list ap;                                  \
  va_start(ap, flags);                         \
  const mode_t mode = mode_of(flags, ap);      \
  va_end(ap);                                  \
  return do_openat(dirfd, path, flags, mode)
int open(const char* path, int flags, ...) { OPEN_WITH_MODE(AT_FDCWD); }
int open64(const char* path, int flags, ...) { OPEN_WITH_MODE(AT_FDCWD); }
int openat(int dirfd, const char* path, int flags, ...) { OPEN_WITH_MODE(dirfd); }
int openat64(int dirfd, const char* path, int flags, ...) { OPEN_WITH_MODE(dirfd); }
/* _FORTIFY_SOURCE's forms, for calls whose flags the compiler could not see. */
int __open_2(const char* path, int flags) { return do_openat(AT_FDCWD, path, flags, 0); }
int __open64_2(const char* path, int flags) { return do_openat(AT_FDCWD, path, flags, 0); }
int __openat_2(int dirfd, const char* path, int flags) { return do_openat(dirfd, path, flags, 0); }
int __openat64_2(int dirfd, const char* path, int flags) { return do_openat(dirfd, path, flags, 0); }
int creat(const char* path, mode_t mode) {
  return do_openat(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}
int creat64(const char* path, mode_t mode) {
  return do_openat(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

/* fopen's modes as open's flags. */
static int flags_of_mode(const char* mode) {
  int flags = 0;
  const int plus = strchr(mode, '+') != NULL;
  switch (mode[0]) {
    case 'r': flags = plus ? O_RDWR : O_RDONLY; break;
    case 'w': flags = (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_TRUNC; break;
    case 'a': flags = (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_APPEND; break;
  }
  return flags;
}
static FILE* do_fopen(const char* path, const char* mode, const char* name) {
  static FILE* (*real)(const char*, const char*);
  if (real == NULL) real = (FILE * (*)(const char*, const char*)) dlsym(RTLD_NEXT, name);
  const int flags = flags_of_mode(mode);
  int makes_name;
  const int fresh = opens_fresh(AT_FDCWD, path, flags, &makes_name);
  if (fresh) pthread_rwlock_wrlock(&order);
  FILE* f = real(path, mode);
  if (f != NULL) opened(fileno(f), flags, fresh);
  if (f != NULL && makes_name) name_made(AT_FDCWD, path);
  if (fresh) pthread_rwlock_unlock(&order);
  return f;
}
FILE* fopen(const char* path, const char* mode) { return do_fopen(path, mode, "fopen"); }
FILE* fopen64(const char* path, const char* mode) { return do_fopen(path, mode, "fopen64"); }
int fclose(FILE* f) {
  REAL(int, fclose, (FILE*));
  const int fd = f != NULL ? fileno(f) : -1;
  if (fd >= 0 && fd < MAX_FDS) fds[fd].on = 0;
  return real_fclose(f);
}

int close(int fd) {
  REAL(int, close, (int));
  if (fd >= 0 && fd < MAX_FDS) fds[fd].on = 0;
  return real_close(fd);
}

static void sync_done(int fd, off_t size) {
  char line[128];
  snprintf(line, sizeof(line), "S %lu %lu %lld\n", (unsigned long)fds[fd].dev,
           (unsigned long)fds[fd].ino, (long long)size);
  journal(line);
  if (size > fds[fd].safe) fds[fd].safe = size;
}

static int appending(int fd) { return (fcntl(fd, F_GETFL) & O_APPEND) != 0; }

/* Whether bytes [offset, offset + n) of fd read as zeros now (what an overwrite replaces). */
static int all_zeros(int fd, off_t offset, size_t n) {
  char buf[65536];
  while (n > 0) {
    size_t want = n < sizeof(buf) ? n : sizeof(buf);
    ssize_t got = pread(fd, buf, want, offset);
    if (got <= 0) return 0;
    for (ssize_t i = 0; i < got; ++i) {
      if (buf[i] != 0) return 0;
    }
    offset += got;
    n -= (size_t)got;
  }
  return 1;
}

/* Before a write of `n` bytes of a tracked fd at `offset` (-1: its current position): an
 * overwrite of safe bytes is reported, as Z if what it replaces is zeros (a file written
 * ahead with zeros, as Flin's Raft log segments are: a cut may keep any of the new pages or
 * the zeros), else as W. Returns where the write starts. */
static off_t before_write(int fd, off_t offset, size_t n) {
  if (fd < 0 || fd >= MAX_FDS || !fds[fd].on) return 0;
  if (appending(fd)) return LLONG_MAX; /* appends never overwrite, pwrite's included */
  if (offset < 0) offset = lseek(fd, 0, SEEK_CUR);
  if (offset < fds[fd].safe && n > 0) {
    const off_t end = offset + (off_t)n < fds[fd].safe ? offset + (off_t)n : fds[fd].safe;
    char line[160];
    if (all_zeros(fd, offset, (size_t)(end - offset))) {
      snprintf(line, sizeof(line), "Z %lu %lu %lld %lld\n", (unsigned long)fds[fd].dev,
               (unsigned long)fds[fd].ino, (long long)offset, (long long)(end - offset));
    } else {
      snprintf(line, sizeof(line), "W %lu %lu %lld\n", (unsigned long)fds[fd].dev,
               (unsigned long)fds[fd].ino, (long long)offset);
    }
    journal(line);
  }
  return offset;
}

static size_t iov_bytes(const struct iovec* iov, int cnt) {
  size_t n = 0;
  for (int i = 0; i < cnt; ++i) n += iov[i].iov_len;
  return n;
}
/* After it, on an O_SYNC/O_DSYNC descriptor, what it wrote is safe: the file up to its end if
 * it began within what was safe (O_DSYNC syncs the range written, not the whole file). */
static void after_write(int fd, off_t offset, ssize_t n) {
  if (n <= 0 || fd < 0 || fd >= MAX_FDS || !fds[fd].on || !fds[fd].sync_each_write) return;
  if (offset == LLONG_MAX) {  /* an append: it ends at the file's end */
    struct stat st;
    if (fstat(fd, &st) != 0) return;
    offset = st.st_size - n;
  }
  if (offset <= fds[fd].safe) sync_done(fd, offset + n);
}

ssize_t write(int fd, const void* buf, size_t n) {
  REAL(ssize_t, write, (int, const void*, size_t));
  const off_t at = before_write(fd, -1, n);
  ssize_t r = real_write(fd, buf, n);
  after_write(fd, at, r);
  return r;
}
ssize_t writev(int fd, const struct iovec* iov, int cnt) {
  REAL(ssize_t, writev, (int, const struct iovec*, int));
  const off_t at = before_write(fd, -1, iov_bytes(iov, cnt));
  ssize_t r = real_writev(fd, iov, cnt);
  after_write(fd, at, r);
  return r;
}
ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
  REAL(ssize_t, pwrite, (int, const void*, size_t, off_t));
  const off_t at = before_write(fd, off, n);
  ssize_t r = real_pwrite(fd, buf, n, off);
  after_write(fd, at, r);
  return r;
}
ssize_t pwrite64(int fd, const void* buf, size_t n, off_t off) {
  REAL(ssize_t, pwrite64, (int, const void*, size_t, off_t));
  const off_t at = before_write(fd, off, n);
  ssize_t r = real_pwrite64(fd, buf, n, off);
  after_write(fd, at, r);
  return r;
}
ssize_t pwritev(int fd, const struct iovec* iov, int cnt, off_t off) {
  REAL(ssize_t, pwritev, (int, const struct iovec*, int, off_t));
  const off_t at = before_write(fd, off, iov_bytes(iov, cnt));
  ssize_t r = real_pwritev(fd, iov, cnt, off);
  after_write(fd, at, r);
  return r;
}
ssize_t pwritev64(int fd, const struct iovec* iov, int cnt, off_t off) {
  REAL(ssize_t, pwritev64, (int, const struct iovec*, int, off_t));
  const off_t at = before_write(fd, off, iov_bytes(iov, cnt));
  ssize_t r = real_pwritev64(fd, iov, cnt, off);
  after_write(fd, at, r);
  return r;
}

/* Every truncation of a tracked file is journaled (what is safe is at most its new length,
 * whichever descriptor synced it), ordered against syncs by `order`. */
static int truncate_fd(int fd, off_t size, int (*real)(int, off_t)) {
  if (fd < 0 || fd >= MAX_FDS || !fds[fd].on) return real(fd, size);
  pthread_rwlock_wrlock(&order);
  const int r = real(fd, size);
  if (r == 0) {
    char line[128];
    snprintf(line, sizeof(line), "T %lu %lu %lld\n", (unsigned long)fds[fd].dev,
             (unsigned long)fds[fd].ino, (long long)size);
    journal(line);
    if (size < fds[fd].safe) fds[fd].safe = size;
  }
  pthread_rwlock_unlock(&order);
  return r;
}
int ftruncate(int fd, off_t size) {
  REAL(int, ftruncate, (int, off_t));
  return truncate_fd(fd, size, real_ftruncate);
}
int ftruncate64(int fd, off_t size) {
  REAL(int, ftruncate64, (int, off_t));
  return truncate_fd(fd, size, real_ftruncate64);
}
/* truncate(2) by name: a tracked file's journal must hear of it too. */
static int truncate_path(const char* path, off_t size, int (*real)(const char*, off_t)) {
  struct stat st;
  const char* dir = getenv("FLIN_POWERCUT_DIR");
  if (dir == NULL || path[0] != '/' || strncmp(path, dir, strlen(dir)) != 0 ||
      stat(path, &st) != 0 || !S_ISREG(st.st_mode))
    return real(path, size); /* relative names: RocksDB and Flin use absolute ones */
  pthread_rwlock_wrlock(&order);
  const int r = real(path, size);
  if (r == 0) {
    char line[128];
    snprintf(line, sizeof(line), "T %lu %lu %lld\n", (unsigned long)st.st_dev,
             (unsigned long)st.st_ino, (long long)size);
    journal(line);
  }
  pthread_rwlock_unlock(&order);
  return r;
}
int truncate(const char* path, off_t size) {
  REAL(int, truncate, (const char*, off_t));
  return truncate_path(path, size, real_truncate);
}
int truncate64(const char* path, off_t size) {
  REAL(int, truncate64, (const char*, off_t));
  return truncate_path(path, size, real_truncate64);
}

static void removals_synced(dev_t pdev, ino_t pino);

/* The size is taken before the sync: bytes appended while it runs may not be covered. */
static int synced(int fd, int (*real)(int)) {
  if (fd < 0 || fd >= MAX_FDS || !fds[fd].on) return real(fd);
  pthread_rwlock_rdlock(&order);
  struct stat st;
  const int have = fstat(fd, &st) == 0;
  if (have && (st.st_dev != fds[fd].dev || st.st_ino != fds[fd].ino)) {
    fds[fd].on = 0; /* closed behind our back (stdio's fclose) and reused */
    pthread_rwlock_unlock(&order);
    return real(fd);
  }
  const int r = real(fd);
  if (r == 0 && have && fds[fd].is_dir) {
    char line[128];
    snprintf(line, sizeof(line), "Y %lu %lu\n", (unsigned long)st.st_dev, (unsigned long)st.st_ino);
    journal(line);
    removals_synced(st.st_dev, st.st_ino);
  } else if (r == 0 && have) {
    sync_done(fd, st.st_size);
  }
  pthread_rwlock_unlock(&order);
  return r;
}
int fsync(int fd) {
  REAL(int, fsync, (int));
  return synced(fd, real_fsync);
}
int fdatasync(int fd) {
  REAL(int, fdatasync, (int));
  return synced(fd, real_fdatasync);
}

/* Stash links a cut may need (a removed file, a file a rename replaced), by the directory
 * whose fsync makes the change safe: dropped (the link unlinked) once such an fsync succeeds. */
struct pending_removal {
  dev_t pdev;
  ino_t pino;
  char* stash;
};
static struct pending_removal* pending;
static size_t pending_n, pending_cap;
static pthread_mutex_t pending_mu = PTHREAD_MUTEX_INITIALIZER;

static void stash_link(const char* path, char* out, size_t cap);
static int dies(int was, const struct stat* st);

static void pending_add(dev_t pdev, ino_t pino, const char* stash) {
  pthread_mutex_lock(&pending_mu);
  if (pending_n == pending_cap) {
    pending_cap = pending_cap ? 2 * pending_cap : 256;
    pending = realloc(pending, pending_cap * sizeof(*pending));
    if (pending == NULL) abort();
  }
  pending[pending_n].pdev = pdev;
  pending[pending_n].pino = pino;
  pending[pending_n].stash = strdup(stash);
  ++pending_n;
  pthread_mutex_unlock(&pending_mu);
}

/* The directory (pdev, pino) was fsynced: the changes made in it before are on disk. */
static void removals_synced(dev_t pdev, ino_t pino) {
  REAL(int, unlink, (const char*));
  pthread_mutex_lock(&pending_mu);
  size_t kept = 0;
  for (size_t i = 0; i < pending_n; ++i) {
    if (pending[i].pdev != pdev || pending[i].pino != pino) {
      pending[kept++] = pending[i];
      continue;
    }
    struct stat st;  /* the file's last name: its account ends (D before the inode is free) */
    dies(lstat(pending[i].stash, &st) == 0 && st.st_nlink == 1, &st);
    real_unlink(pending[i].stash);
    free(pending[i].stash);
  }
  pending_n = kept;
  pthread_mutex_unlock(&pending_mu);
}

/* A file's name under the directory is about to be removed: it is linked into the stash first
 * (its inode and account live on), and once the removal succeeded journaled
 *     U <pdev> <pino> <name> <dev> <ino> <stash>
 * which a cut undoes (the stash linked back) unless an fsync of the directory came after. */
struct removal {
  int on;
  struct stat pst, st;
  char name[NAME_MAX + 1];
  char stash[PATH_MAX + 64];
};
static void removal_begins(int dirfd, const char* path, struct removal* r) {
  char abs[PATH_MAX + 1];
  const char* base;
  r->on = fstatat(dirfd, path, &r->st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(r->st.st_mode) &&
          absolute(dirfd, path, abs, sizeof(abs)) && inside(abs, 0) &&
          parent_of(abs, &r->pst, &base);
  if (!r->on) return;
  snprintf(r->name, sizeof(r->name), "%s", base);
  pthread_rwlock_wrlock(&order); /* against directory fsyncs, as name changes are */
  stash_link(abs, r->stash, sizeof(r->stash));
}
static int removal_ends(struct removal* r, int result) {
  REAL(int, unlink, (const char*));
  if (!r->on) return result;
  if (result != 0) {
    real_unlink(r->stash);
  } else {
    char line[2 * PATH_MAX + 128];
    snprintf(line, sizeof(line), "U %lu %lu %s %lu %lu %s\n", (unsigned long)r->pst.st_dev,
             (unsigned long)r->pst.st_ino, r->name, (unsigned long)r->st.st_dev,
             (unsigned long)r->st.st_ino, r->stash);
    journal(line);
    pending_add(r->pst.st_dev, r->pst.st_ino, r->stash);
  }
  pthread_rwlock_unlock(&order);
  return result;
}

/* Before a name goes away (unlink, rmdir, or a rename over it): if it is the last name of a
 * regular file under the directory, or a directory there, that inode's account ends once the
 * call succeeds. */
static int dying(int dirfd, const char* path, struct stat* st, int dirs_too) {
  if (fstatat(dirfd, path, st, AT_SYMLINK_NOFOLLOW) != 0) return 0;
  if (!(S_ISREG(st->st_mode) && st->st_nlink == 1) && !(dirs_too && S_ISDIR(st->st_mode)))
    return 0;
  char abs[PATH_MAX + 1];
  if (!absolute(dirfd, path, abs, sizeof(abs)) || !inside(abs, 0)) return 0;
  if (S_ISDIR(st->st_mode)) { /* one with names in it stays (ENOTEMPTY): its account too */
    DIR* d = opendir(abs);
    struct dirent* e = NULL;
    while (d != NULL && (e = readdir(d)) != NULL &&
           (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")))
      ;
    if (d != NULL) closedir(d);
    return d != NULL && e == NULL;
  }
  return 1;
}
/* Journaled before the call: once the name is gone its inode may be reused at once, by this
 * process or another node's, and that file's C must come after this D. (If the call then
 * fails, the file is left untracked: more lenient, never a false loss.) */
static int dies(int was, const struct stat* st) {
  if (was) {
    char line[128];
    snprintf(line, sizeof(line), "D %lu %lu\n", (unsigned long)st->st_dev, (unsigned long)st->st_ino);
    journal(line);
  }
  return was;
}
int unlink(const char* path) {
  REAL(int, unlink, (const char*));
  struct removal r;
  removal_begins(AT_FDCWD, path, &r);
  return removal_ends(&r, real_unlink(path));
}
int unlinkat(int dirfd, const char* path, int flags) {
  REAL(int, unlinkat, (int, const char*, int));
  struct stat st;
  if (flags & AT_REMOVEDIR) {
    dies(dying(dirfd, path, &st, 1), &st);
    return real_unlinkat(dirfd, path, flags);
  }
  struct removal r;
  removal_begins(dirfd, path, &r);
  return removal_ends(&r, real_unlinkat(dirfd, path, flags));
}
int rmdir(const char* path) {
  REAL(int, rmdir, (const char*));
  struct stat st;
  dies(dying(AT_FDCWD, path, &st, 1), &st);
  return real_rmdir(path);
}
int remove(const char* path) {
  REAL(int, remove, (const char*));
  struct stat st;
  if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
    dies(dying(AT_FDCWD, path, &st, 1), &st);
    return real_remove(path);
  }
  struct removal r;
  removal_begins(AT_FDCWD, path, &r);
  return removal_ends(&r, real_remove(path));
}

int mkdir(const char* path, mode_t mode) {
  REAL(int, mkdir, (const char*, mode_t));
  pthread_rwlock_wrlock(&order);
  const int r = real_mkdir(path, mode);
  if (r == 0) name_made(AT_FDCWD, path);
  pthread_rwlock_unlock(&order);
  return r;
}
int mkdirat(int dirfd, const char* path, mode_t mode) {
  REAL(int, mkdirat, (int, const char*, mode_t));
  pthread_rwlock_wrlock(&order);
  const int r = real_mkdirat(dirfd, path, mode);
  if (r == 0) name_made(dirfd, path);
  pthread_rwlock_unlock(&order);
  return r;
}
int link(const char* from, const char* to) {
  REAL(int, link, (const char*, const char*));
  pthread_rwlock_wrlock(&order);
  const int r = real_link(from, to);
  if (r == 0) name_made(AT_FDCWD, to);
  pthread_rwlock_unlock(&order);
  return r;
}
int linkat(int fromfd, const char* from, int tofd, const char* to, int flags) {
  REAL(int, linkat, (int, const char*, int, const char*, int));
  pthread_rwlock_wrlock(&order);
  const int r = real_linkat(fromfd, from, tofd, to, flags);
  if (r == 0) name_made(tofd, to);
  pthread_rwlock_unlock(&order);
  return r;
}

/* Links the file at `path` into the stash, <journal>.stash/ (on the same file system), and
 * puts the link's name in `out`: what a cut may have to put back. */
static void stash_link(const char* path, char* out, size_t cap) {
  REAL(int, linkat, (int, const char*, int, const char*, int));
  REAL(int, mkdir, (const char*, mode_t));
  static int counter;
  const char* journal_path = getenv("FLIN_POWERCUT_JOURNAL");
  if (journal_path == NULL) abort();
  char dir[PATH_MAX + 16];
  snprintf(dir, sizeof(dir), "%s.stash", journal_path);
  real_mkdir(dir, 0755);
  for (;;) { /* a pid is reused (pid_max may be 32768): an earlier process's name is taken */
    pthread_mutex_lock(&mu);
    snprintf(out, cap, "%s/%d-%d", dir, (int)getpid(), ++counter);
    pthread_mutex_unlock(&mu);
    if (real_linkat(AT_FDCWD, path, AT_FDCWD, out, 0) == 0) return;
    if (errno != EEXIST) abort(); /* nothing to put back */
  }
}

/* A rename is journaled R (after it succeeded) when either name is under the directory. What
 * the new name replaces (a regular file) is first linked into the stash, <journal>.stash/, so
 * that a cut can put it back if the rename never reached the disk (until an fsync of the new
 * name's directory); the stash's link also keeps its inode, and so its account, alive.
 * RENAME_EXCHANGE is not modelled. */
static int do_rename(int fromfd, const char* from, int tofd, const char* to, unsigned flags) {
  REAL(int, renameat2, (int, const char*, int, const char*, unsigned));
  REAL(int, unlink, (const char*));
  char src[PATH_MAX + 1], dst[PATH_MAX + 1];
  struct stat moved, old;
  if ((flags & RENAME_EXCHANGE) || !absolute(fromfd, from, src, sizeof(src)) ||
      !absolute(tofd, to, dst, sizeof(dst)) || !(inside(src, 0) || inside(dst, 0)) ||
      lstat(src, &moved) != 0) {
    dies(!(flags & RENAME_EXCHANGE) && dying(tofd, to, &old, 1), &old);
    return real_renameat2(fromfd, from, tofd, to, flags);
  }
  struct stat fpst, tpst;
  const char *fbase, *tbase;
  if (!parent_of(src, &fpst, &fbase) || !parent_of(dst, &tpst, &tbase)) {
    return real_renameat2(fromfd, from, tofd, to, flags);
  }
  char stash[PATH_MAX + 64] = "-";
  const int replaces = lstat(dst, &old) == 0;
  if (replaces && S_ISREG(old.st_mode) &&
      !(old.st_dev == moved.st_dev && old.st_ino == moved.st_ino)) {
    stash_link(dst, stash, sizeof(stash));
  } else if (replaces && S_ISDIR(old.st_mode)) {
    dies(dying(tofd, to, &old, 1), &old);
  }
  const int r = real_renameat2(fromfd, from, tofd, to, flags);
  if (r != 0) {
    if (strcmp(stash, "-") != 0) real_unlink(stash);
    return r;
  }
  char line[3 * PATH_MAX];
  snprintf(line, sizeof(line), "R %lu %lu %s %lu %lu %s %lu %lu %s\n", (unsigned long)fpst.st_dev,
           (unsigned long)fpst.st_ino, fbase, (unsigned long)tpst.st_dev,
           (unsigned long)tpst.st_ino, tbase, (unsigned long)moved.st_dev,
           (unsigned long)moved.st_ino, stash);
  journal(line);
  if (strcmp(stash, "-") != 0) pending_add(tpst.st_dev, tpst.st_ino, stash);
  return r;
}
static int locked_rename(int fromfd, const char* from, int tofd, const char* to, unsigned flags) {
  pthread_rwlock_wrlock(&order);
  const int r = do_rename(fromfd, from, tofd, to, flags);
  pthread_rwlock_unlock(&order);
  return r;
}
int rename(const char* from, const char* to) { return locked_rename(AT_FDCWD, from, AT_FDCWD, to, 0); }
int renameat(int fromfd, const char* from, int tofd, const char* to) {
  return locked_rename(fromfd, from, tofd, to, 0);
}
int renameat2(int fromfd, const char* from, int tofd, const char* to, unsigned flags) {
  return locked_rename(fromfd, from, tofd, to, flags);
}

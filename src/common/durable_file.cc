#include "common/durable_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>

namespace flin {
namespace {

Status Errno(const std::string& what, const std::string& path, int err) {
  return Status::IOError(what + " " + path + ": " + std::strerror(err));
}

}  // namespace

Status SyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", dir, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  return rc == 0 ? Status::Ok() : Errno("fsync of", dir, err);
}

Status MakeDirsDurably(const std::string& dir) {
  namespace fs = std::filesystem;
  // One caller at a time: a directory another thread has just made, but whose parent it has
  // not fsynced yet, would otherwise look made durably (a leader building a snapshot and a
  // follower staging one both make a partition's snapshot directory; a power-cut test caught
  // files made in one whose name was not durable yet).
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  const fs::path path = fs::absolute(fs::path(dir)).lexically_normal();
  fs::path at, last;
  bool last_made = false;
  for (const fs::path& part : path) {
    at /= part;
    if (part.empty() || at == at.root_path()) continue;  // a trailing '/', or the root
    std::error_code ec;
    const bool made = fs::create_directory(at, ec);
    if (ec) return Status::IOError("cannot create " + at.string() + ": " + ec.message());
    last = at;
    last_made = made;
    if (!made) continue;  // there already (create_directory checked it is a directory)
    Status s = SyncDir(at.parent_path().string());
    if (!s.ok()) return s;
  }
  // The directory asked for was there already: made by an earlier process that may have
  // stopped before its fsync. One more fsync of its parent costs little and settles it.
  if (!last.empty() && !last_made) return SyncDir(last.parent_path().string());
  return Status::Ok();
}

Status WriteFileDurably(const std::string& path, std::string_view contents) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("cannot create", path, errno);
  size_t done = 0;
  while (done < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;  // 0 bytes for a non-empty write: never retried
      ::close(fd);
      return Errno("cannot write", path, err);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    return Errno("fsync of", path, err);
  }
  if (::close(fd) != 0) return Errno("cannot close", path, errno);
  std::string dir = std::filesystem::path(path).parent_path().string();
  return SyncDir(dir.empty() ? "." : dir);
}

}  // namespace flin

#include "common/durable_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

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
  const fs::path path = fs::absolute(fs::path(dir)).lexically_normal();
  fs::path at;
  for (const fs::path& part : path) {
    at /= part;
    if (part.empty() || at == at.root_path()) continue;  // a trailing '/', or the root
    std::error_code ec;
    const bool made = fs::create_directory(at, ec);
    if (ec) return Status::IOError("cannot create " + at.string() + ": " + ec.message());
    if (!made) continue;  // there already (create_directory checked it is a directory)
    Status s = SyncDir(at.parent_path().string());
    if (!s.ok()) return s;
  }
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

#include "server/backups.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <vector>

#include "common/log.h"

namespace flin::server {
namespace {

namespace fs = std::filesystem;

constexpr char kPrefix[] = "flin-backup-";
constexpr char kTmpSuffix[] = ".tmp";  // RocksDB's checkpoint is made in <dir>.tmp

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// flin-backup-20261130T134500.123Z: names sort as the times they were made.
std::string NameAt(std::chrono::system_clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%s%04d%02d%02dT%02d%02d%02d.%03dZ", kPrefix, tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

}  // namespace

Backups::Backups(storage::Store* store, Options options, int64_t start_unix_s)
    : store_(store), options_(std::move(options)), last_save_unix_(start_unix_s) {}

Backups::~Backups() {
  std::thread t;
  {
    std::lock_guard<std::mutex> lock(mu_);
    t = std::move(thread_);
  }
  if (t.joinable()) t.join();
}

std::string Backups::last_path() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_path_;
}

std::string Backups::last_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
}

Result<std::string> Backups::Save() {
  if (running_.exchange(true)) return Status::Busy("Background save already in progress");
  Result<std::string> r = Run();
  running_.store(false);
  return r;
}

bool Backups::Background() {
  if (running_.exchange(true)) return false;
  std::lock_guard<std::mutex> lock(mu_);
  // The previous backup's thread has finished: clearing running_ is the last thing it does.
  if (thread_.joinable()) thread_.join();
  thread_ = std::thread([this] {
    (void)Run();
    running_.store(false);
  });
  return true;
}

Result<std::string> Backups::Run() {
  const auto started = std::chrono::steady_clock::now();
  std::error_code ec;
  fs::create_directories(options_.dir, ec);
  Status s = ec ? Status::IOError("cannot create backup directory " + options_.dir + ": " +
                                  ec.message())
                : Status::Ok();
  std::string path;
  if (s.ok()) {
    Prune(/*finished_ok=*/false);
    std::string name = NameAt(std::chrono::system_clock::now());
    path = (fs::path(options_.dir) / name).string();
    for (int i = 1; fs::exists(path, ec) || fs::exists(path + kTmpSuffix, ec); ++i) {
      path = (fs::path(options_.dir) / (name + "-" + std::to_string(i))).string();
    }
    s = store_->Checkpoint(path);
  }
  const int64_t took_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - started)
                              .count();
  last_seconds_.store(took_ms / 1000);
  last_ok_.store(s.ok());
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (s.ok()) {
      last_path_ = path;
      last_error_.clear();
    } else {
      last_error_ = s.message();
    }
  }
  if (!s.ok()) {
    LOG_WARNING("backup failed: %s", s.message().c_str());
    return s;
  }
  last_save_unix_.store(std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count());
  LOG_NOTICE("backup: %s (%lld ms)", path.c_str(), static_cast<long long>(took_ms));
  Prune(/*finished_ok=*/true);
  return path;
}

// Removes what a crashed backup left (its .tmp directory), and, after a successful backup, all
// but the newest `keep`. Only directories named by NameAt are touched.
void Backups::Prune(bool finished_ok) {
  std::error_code ec;
  std::vector<fs::path> done;
  for (const auto& e : fs::directory_iterator(options_.dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(kPrefix, 0) != 0 || !e.is_directory(ec)) continue;
    if (EndsWith(name, kTmpSuffix)) {
      fs::remove_all(e.path(), ec);
    } else {
      done.push_back(e.path());
    }
  }
  if (!finished_ok) return;
  std::sort(done.begin(), done.end());
  const size_t keep = static_cast<size_t>(std::max(1, options_.keep));
  for (size_t i = 0; i + keep < done.size(); ++i) {
    fs::remove_all(done[i], ec);
    if (ec) LOG_WARNING("cannot remove old backup %s: %s", done[i].c_str(), ec.message().c_str());
  }
}

}  // namespace flin::server

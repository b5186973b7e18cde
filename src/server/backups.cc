#include "server/backups.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <vector>

#include "common/durable_file.h"
#include "common/log.h"

namespace flin::server {
namespace {

namespace fs = std::filesystem;

constexpr char kPrefix[] = "flin-backup-";
// A backup is made in <dir>.tmp (RocksDB stages its checkpoint in <that>.tmp), then renamed.
constexpr char kTmpSuffix[] = ".tmp";

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

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string Backups::DefaultDir(const std::string& data_dir) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::absolute(data_dir, ec), ec).lexically_normal();
  while (p.filename().empty() && p.has_parent_path() && p.parent_path() != p) p = p.parent_path();
  return p.string() + "-backups";
}

bool Backups::IsBackup(const std::string& data_dir) {
  std::error_code ec;
  return fs::exists(fs::path(data_dir) / kMarker, ec);
}

bool Backups::ForgetMarker(const std::string& data_dir) {
  std::error_code ec;
  return fs::remove(fs::path(data_dir) / kMarker, ec);
}

Backups::Backups(storage::Store* store, Options options, int64_t start_unix_s)
    : store_(store), options_(std::move(options)), last_save_unix_(start_unix_s) {
  std::error_code ec;
  source_ = fs::weakly_canonical(fs::absolute(store_->dir(), ec), ec).string();
}

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

int64_t Backups::current_seconds() const {
  if (!running_.load()) return -1;
  return (SteadyMs() - started_ms_.load()) / 1000;
}

uint64_t Backups::changes_since_last_save() const {
  return options_.changes ? options_.changes() - changes_at_last_save_.load() : 0;
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

// This node's backups in the backup directory (by their markers), sorted by sequence number.
std::vector<std::pair<uint64_t, fs::path>> Backups::Mine() const {
  std::vector<std::pair<uint64_t, fs::path>> mine;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(options_.dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(kPrefix, 0) != 0 || EndsWith(name, kTmpSuffix) || !e.is_directory(ec) ||
        fs::equivalent(e.path(), store_->dir(), ec)) {
      continue;
    }
    std::ifstream in(e.path() / kMarker);
    std::string key, source, seq_key;
    uint64_t seq = 0;
    if (!(in >> key) || key != "source" || !(in >> std::quoted(source)) || !(in >> seq_key >> seq) ||
        seq_key != "seq" || source != source_) {
      continue;
    }
    mine.emplace_back(seq, e.path());
  }
  std::sort(mine.begin(), mine.end());
  return mine;
}

Result<std::string> Backups::Run() {
  started_ms_.store(SteadyMs());
  const uint64_t changes = options_.changes ? options_.changes() : 0;
  std::error_code ec;
  Status s = MakeDirsDurably(options_.dir);  // its name, in its parent, survives a cut too
  std::string path;
  uint64_t seq = 1;
  std::vector<std::pair<uint64_t, fs::path>> mine;  // this node's backups, by sequence
  if (s.ok()) {
    RemoveCrashLeftovers();
    mine = Mine();
    if (!mine.empty()) seq = mine.back().first + 1;
    std::string name = NameAt(std::chrono::system_clock::now());
    path = (fs::path(options_.dir) / name).string();
    for (int i = 1; fs::exists(path, ec) || fs::exists(path + kTmpSuffix, ec); ++i) {
      path = (fs::path(options_.dir) / (name + "-" + std::to_string(i))).string();
    }
    // Made under a staging name (a crash leftover, removed later, if it goes no further), and
    // given its own name only once its marker is in: a backup without its marker would be
    // taken for a plain data directory, never deleted by retention, and a cluster node
    // restored on it would not know it went back in time (backups.h).
    const std::string staging = path + kTmpSuffix;
    s = store_->Checkpoint(staging);  // its files and directory synced by RocksDB
    if (s.ok()) {
      // Durable before SAVE answers: a power cut used to leave the marker empty
      // (test_powercut.py).
      std::ostringstream marker;
      marker << "source " << std::quoted(source_) << "\nseq " << seq << "\n";
      s = WriteFileDurably((fs::path(staging) / kMarker).string(), marker.str());
    }
    if (s.ok()) {
      fs::rename(staging, path, ec);
      if (ec) s = Status::IOError("cannot rename " + staging + ": " + ec.message());
    }
    if (s.ok()) s = SyncDir(options_.dir);  // the backup's name
    if (!s.ok()) fs::remove_all(staging, ec);
  }
  const int64_t took_ms = SteadyMs() - started_ms_.load();
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
  changes_at_last_save_.store(changes);
  saves_.fetch_add(1);
  last_save_unix_.store(std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count());
  LOG_NOTICE("backup: %s (%lld ms)", path.c_str(), static_cast<long long>(took_ms));
  // All but the newest `keep` of this node's backups go; the one just made is the newest.
  mine.emplace_back(seq, path);
  const size_t keep = static_cast<size_t>(std::max(1, options_.keep));
  for (size_t i = 0; i + keep < mine.size(); ++i) {
    fs::remove_all(mine[i].second, ec);
    if (ec) {
      LOG_WARNING("cannot remove old backup %s: %s", mine[i].second.c_str(), ec.message().c_str());
    }
  }
  return path;
}

// A crashed backup leaves its .tmp directory. Another server sharing the backup directory may
// be making one right now, so only those untouched for an hour go.
void Backups::RemoveCrashLeftovers() {
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  for (const auto& e : fs::directory_iterator(options_.dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(kPrefix, 0) != 0 || !EndsWith(name, kTmpSuffix) || !e.is_directory(ec)) continue;
    const auto mtime = fs::last_write_time(e.path(), ec);
    if (!ec && now - mtime > std::chrono::hours(1)) fs::remove_all(e.path(), ec);
  }
}

}  // namespace flin::server

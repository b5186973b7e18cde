#pragma once
// Backups: online copies of a single node's data, for SAVE and BGSAVE (persistence_family.cc).
//
// Each backup is a RocksDB checkpoint (Store::Checkpoint) in its own directory under the backup
// directory, named flin-backup-<UTC time>: a data directory of its own, consistent at one
// point (every write acknowledged before the backup started is in it, none that started after
// it finished), which `flin-server --dir <that directory>` opens as it would the original, and
// durable when Save returns (files, marker and names fsynced: a power cut keeps it whole). SST
// files are hard links, so a backup costs little space at first and then keeps the files that
// compaction replaces. Each holds a marker file naming the data directory it copies and its
// sequence number among that directory's backups. The newest `keep` backups (by sequence, not
// by name: the wall clock may go back) are kept; older ones are deleted after each successful
// backup, but only directories whose marker names this node's data directory: never another
// server's backups in a shared directory, nor a backup a server was started on (restored in
// place), whose marker that server removes at start (ForgetMarker). A backup gets its name
// only once it is whole, marker included; one left half-made by a crash (its .tmp directory)
// is removed by a later one, once an hour old (another server sharing the directory may be
// making one).
//
// A cluster node's backup restores safely because of the marker: a node started on one knows
// it forgot the votes and acknowledgements its earlier self gave since the copy, and rejoins
// recovering (MultiRaftOptions::restored). A copy made any other way (cp of a data directory)
// carries no marker and is not detected (README).
//
// Threading: every method may be called from any thread; one backup runs at a time. Background()
// runs it on a thread of its own, which the destructor joins. Ownership: borrows the store,
// which must outlive this object.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/status.h"
#include "storage/store.h"

namespace flin::server {

class Backups {
 public:
  struct Options {
    std::string dir;  // where the backups go (created if missing)
    int keep = 3;     // how many to keep, at least 1
    // Changes so far (the single node's applied log entries), for changes_since_last_save().
    std::function<uint64_t()> changes;
  };
  // The marker's file name inside a backup.
  static constexpr char kMarker[] = "FLIN-BACKUP";
  // A server starting on `data_dir` calls this: if it is a backup, it is live data from now on
  // and no retention may delete it. True if there was a marker.
  static bool ForgetMarker(const std::string& data_dir);
  // Whether `data_dir` holds a backup's marker.
  static bool IsBackup(const std::string& data_dir);
  // The default backup directory of a data directory: its sibling "<name>-backups".
  static std::string DefaultDir(const std::string& data_dir);
  // start_unix_s: what last_save_unix() says before the first backup (Redis: the start time).
  Backups(storage::Store* store, Options options, int64_t start_unix_s);
  ~Backups();  // waits for a running backup
  Backups(const Backups&) = delete;
  Backups& operator=(const Backups&) = delete;

  // Takes a backup on the calling thread; its directory, or why not (one is already running,
  // or it failed: then nothing of it is left but what the next backup cleans up).
  Result<std::string> Save();
  // Starts one on a thread of its own. False (nothing started) if one is already running.
  bool Background();

  bool in_progress() const { return running_.load(); }
  // Unix seconds at the end of the last successful backup.
  int64_t last_save_unix() const { return last_save_unix_.load(); }
  // The last backup's outcome: true before any.
  bool last_ok() const { return last_ok_.load(); }
  // Seconds the last backup took; -1 before any.
  int64_t last_seconds() const { return last_seconds_.load(); }
  // Seconds the running backup has taken so far; -1 if none runs.
  int64_t current_seconds() const;
  uint64_t saves() const { return saves_.load(); }  // successful backups since start
  uint64_t changes_since_last_save() const;
  std::string last_path() const;
  std::string last_error() const;
  const std::string& dir() const { return options_.dir; }

 private:
  Result<std::string> Run();  // running_ held by the caller
  std::vector<std::pair<uint64_t, std::filesystem::path>> Mine() const;
  void RemoveCrashLeftovers();

  storage::Store* store_;
  const Options options_;
  std::string source_;  // the store's directory, canonical: what the markers name
  std::atomic<bool> running_{false};
  std::atomic<int64_t> last_save_unix_;
  std::atomic<bool> last_ok_{true};
  std::atomic<int64_t> last_seconds_{-1};
  std::atomic<int64_t> started_ms_{0};  // steady clock, of the running backup
  std::atomic<uint64_t> saves_{0};
  std::atomic<uint64_t> changes_at_last_save_{0};
  mutable std::mutex mu_;  // guards the strings and thread_
  std::string last_path_, last_error_;
  std::thread thread_;
};

}  // namespace flin::server

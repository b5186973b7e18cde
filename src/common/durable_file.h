#pragma once
// Files that must survive a power cut once a call returns: what Flin writes outside RocksDB
// (which syncs its own). A write(2) alone reaches the page cache, which a power cut loses; a
// new file's name lives in its directory, which needs an fsync of its own.
// Pure functions over the file system; thread-safe for different paths.

#include <string>
#include <string_view>

#include "common/status.h"

namespace flin {

// Creates `path` holding `contents`, fsyncs it, then fsyncs its directory so the name survives
// as well. An existing file is truncated and rewritten in place, not replaced atomically: a
// crash meanwhile can leave it empty or partly written (write a new name and rename it over,
// then SyncDir, where the old contents must survive). On error the file may exist partly
// written; the caller must not acknowledge anything that depends on it.
Status WriteFileDurably(const std::string& path, std::string_view contents);

// fsyncs the directory `dir`: the names created, renamed or removed in it survive a power cut.
Status SyncDir(const std::string& dir);

// Creates the directory `dir` and any missing parents (as mkdir -p), fsyncing the parent of
// each one it creates, top down: once it returns, the whole path survives a power cut. If
// `dir` itself exists already its parent is fsynced anyway (an earlier process may have died
// before doing it); existing ancestors are taken as durable. Calls are serialized, so one
// never sees a directory another thread has made but not yet fsynced. Fails if a component
// exists and is not a directory. Any thread.
Status MakeDirsDurably(const std::string& dir);

}  // namespace flin

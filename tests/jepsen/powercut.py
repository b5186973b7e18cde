"""A power cut: what a machine's disk keeps of a process's files when the power goes.

kill -9 ends a process, not the machine: what it wrote is still in the page cache and so on
disk after a restart, fsynced or not. powercut.c (an LD_PRELOAD library, built here) journals
what each fsync made safe of every file under a directory; once the processes are dead, cut()
shrinks each file back to its safe length, keeping at random part of the unsynced tail (a real
disk may have written some of it, up to a torn record). A server that acknowledged a write it
never fsynced then loses it, which kill -9 alone can never show.

    lib = powercut.build(tmpdir)
    env = powercut.env(lib, workdir, journal)   # for every process writing under workdir
    ... kill -9 every such process ...
    report = powercut.cut(workdir, journal, rng, tail="random")

The model holds for files written by appending (RocksDB's WAL, MANIFEST and SSTs): a file
written over in place is reported (the journal's W records) and cut() refuses to go on, so
a test cannot pass on a model that does not hold. Files opened with fopen (std::ofstream)
are tracked too. Not modelled, and so more lenient than a real cut: directory entries (files
created or renamed without an fsync of their directory survive).
"""
import collections
import os
import shutil
import subprocess

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "powercut.c")


def build(outdir):
    """Compiles powercut.c into outdir; returns the library's path (None: no C compiler)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    out = os.path.join(str(outdir), "libpowercut.so")
    subprocess.run([cc, "-shared", "-fPIC", "-O2", "-o", out, SRC, "-ldl"], check=True)
    return out


def env(lib, directory, journal):
    """The environment of a process whose files under `directory` a cut may take back."""
    return {"LD_PRELOAD": lib, "FLIN_POWERCUT_DIR": os.path.realpath(str(directory)),
            "FLIN_POWERCUT_JOURNAL": str(journal)}


class ModelBroken(Exception):
    """A file was written in a way cutting it back to a length cannot model."""


def safe_lengths(journal):
    """{(dev, ino): safe length} from the journal; raises ModelBroken on an overwrite of a
    file still alive."""
    safe, overwritten = {}, {}
    with open(journal) as f:
        for line in f:
            parts = line.split()
            kind, ident = parts[0], (int(parts[1]), int(parts[2]))
            if kind == "C":
                safe[ident] = 0
                overwritten.pop(ident, None)
            elif kind == "S":
                safe[ident] = max(safe.get(ident, 0), int(parts[3]))
            elif kind == "T":
                safe[ident] = min(safe.get(ident, int(parts[3])), int(parts[3]))
            elif kind == "K":  # what a cut left: exactly that is on the disk
                safe[ident] = int(parts[3])
            elif kind == "W":
                overwritten[ident] = int(parts[3])
            elif kind == "D":
                safe.pop(ident, None)
                overwritten.pop(ident, None)
    return safe, overwritten


def cut(directory, journal, rng, tail="random"):
    """Takes back, in every file under `directory` the journal knows, what was not fsynced:
    all of it (tail="none") or a random part (tail="random": each file keeps a random prefix
    of its unsynced bytes). Only for files of dead processes. Returns a report."""
    if not os.path.exists(journal):
        raise ModelBroken(f"no journal at {journal}: was the library loaded?")
    safe, overwritten = safe_lengths(journal)
    report = collections.Counter()
    untracked = []
    survived = []  # what the disk kept is safe from now on, tail included
    seen = set()   # inodes cut already (a hard-linked file has several names)
    for root, _, files in os.walk(directory):
        for name in files:
            path = os.path.join(root, name)
            if os.path.realpath(path) == os.path.realpath(journal):
                continue
            st = os.lstat(path)
            ident = (st.st_dev, st.st_ino)
            if ident in seen:
                continue
            seen.add(ident)
            if ident not in safe:
                report["files_untracked"] += 1
                untracked.append(path)
                continue
            if ident in overwritten:
                raise ModelBroken(f"{path} was written over in place at offset "
                                  f"{overwritten[ident]}, below its synced length")
            keep = safe[ident]
            if keep >= st.st_size:
                report["files_synced"] += 1
                continue
            if tail == "random":
                keep += rng.randrange(st.st_size - keep + 1)
            os.truncate(path, keep)
            survived.append(f"K {ident[0]} {ident[1]} {keep}\n")
            report["files_cut"] += 1
            report["bytes_dropped"] += st.st_size - keep
    with open(journal, "a") as f:
        f.writelines(survived)
    out = dict(report)
    if untracked:
        out["untracked"] = sorted(untracked)
    return out


def forget(directory, journal):
    """Before `directory` is deleted by other means than the library's (a test wiping a
    node's disk): ends the account of every file in it, so that a file the library does not
    see being created cannot inherit one through a reused inode. Files with other names (hard
    links into backups) live on and keep theirs."""
    lines = []
    for root, _, files in os.walk(directory):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            if st.st_nlink == 1:
                lines.append(f"D {st.st_dev} {st.st_ino}\n")
    with open(journal, "a") as f:
        f.writelines(lines)

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
are tracked too.

Names are cut back as well: a file or directory created, hard-linked or renamed is on disk
under its new name only once its directory has been fsynced since (POSIX promises no more;
ext4 happens to keep more). cut() first takes back, newest first, every such change no fsync
of its directory covered: a new name goes (a new directory with all it holds), a rename goes
back and what it replaced comes back (the library keeps a link to it in <journal>.stash/).
A removed file comes back the same way (the library links it into the stash before the
unlink, and drops that link once an fsync of its directory covers the removal). Not
modelled, and so more lenient than a real cut: removals of directories, and a rename's old
name once its new directory is fsynced (taken as one change, as a journaling file system
makes it).
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


def _unsynced_names(journal):
    """The name changes (N, R and U records) no later fsync of their directory made safe, in
    journal order, as tuples: ("N", parent, name, inode), ("R", from_parent, from_name,
    to_parent, to_name, inode, stash) or ("U", parent, name, inode, stash). A change of a
    name whose file or directory was removed since (D) is moot and left out."""
    changes = {}
    by_dir, by_inode = collections.defaultdict(list), collections.defaultdict(list)
    with open(journal) as f:
        for seq, line in enumerate(f):
            p = line.split()
            if p[0] == "N":
                parent, ident = (int(p[1]), int(p[2])), (int(p[4]), int(p[5]))
                changes[seq] = ("N", parent, p[3], ident)
            elif p[0] == "R":
                parent, ident = (int(p[4]), int(p[5])), (int(p[7]), int(p[8]))
                changes[seq] = ("R", (int(p[1]), int(p[2])), p[3], parent, p[6], ident,
                                None if p[9] == "-" else p[9])
            elif p[0] == "U":
                parent, ident = (int(p[1]), int(p[2])), (int(p[4]), int(p[5]))
                changes[seq] = ("U", parent, p[3], ident, p[6])
            elif p[0] in ("Y", "D"):
                ident = (int(p[1]), int(p[2]))
                for s in by_dir.pop(ident, []):
                    changes.pop(s, None)
                if p[0] == "D":
                    for s in by_inode.pop(ident, []):
                        changes.pop(s, None)
                continue
            else:
                continue
            by_dir[parent].append(seq)
            by_inode[ident].append(seq)
    return [changes[s] for s in sorted(changes)]


def _dirs(directory):
    """{(dev, ino): path} of `directory`, every directory under it, and its parent."""
    out = {}
    parent = os.path.dirname(os.path.abspath(directory))
    st = os.stat(parent)
    out[(st.st_dev, st.st_ino)] = parent
    for root, _, _ in os.walk(directory):
        st = os.lstat(root)
        out[(st.st_dev, st.st_ino)] = root
    return out


def _is(path, ident):
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == ident


def _remove(path, journal):
    """Removes a file or a directory tree, ending the accounts of what goes (forget)."""
    if os.path.isdir(path) and not os.path.islink(path):
        forget(path, journal)
        shutil.rmtree(path)
    else:
        st = os.lstat(path)
        if st.st_nlink == 1:
            with open(journal, "a") as f:
                f.write(f"D {st.st_dev} {st.st_ino}\n")
        os.unlink(path)


def _undo_names(directory, journal, report):
    """Takes back, newest first, the name changes under `directory` (itself included) that no
    fsync of their directory made safe."""
    top = os.path.abspath(directory)
    dirs = _dirs(directory)

    def at(parent, name):  # the name's path now, if its directory is there and being cut
        path = os.path.join(dirs[parent], name) if parent in dirs else None
        return path if path and (path == top or path.startswith(top + os.sep)) else None

    for change in reversed(_unsynced_names(journal)):
        if change[0] == "N":
            _, parent, name, ident = change
            path = at(parent, name)
            if path is None or not _is(path, ident):
                continue
            _remove(path, journal)
            dirs = _dirs(directory)
            report["names_taken_back"] += 1
        elif change[0] == "U":
            _, parent, name, ident, stash = change
            path = at(parent, name)
            if path is None or os.path.lexists(path) or not os.path.exists(stash):
                continue
            os.link(stash, path)
            report["removals_taken_back"] += 1
        else:
            _, from_parent, from_name, parent, name, ident, stash = change
            path = at(parent, name)
            if path is None or not _is(path, ident):
                continue
            back = os.path.join(dirs[from_parent], from_name) if from_parent in dirs else None
            if back is not None and not os.path.lexists(back):
                os.rename(path, back)
            else:  # from outside what is cut, or its old name synced since for another file:
                _remove(path, journal)  # it has no name left on the disk
            if stash is not None and os.path.exists(stash):
                os.link(stash, path)
            dirs = _dirs(directory)
            report["renames_taken_back"] += 1


def names_made_in_undurable_dirs(journal, dirname):
    """Names made inside a directory called `dirname` before that directory's own name was
    durable (no fsync of its parent since it was made): what a restart relies on finding there
    could go with the directory in a power cut, even if this run's cuts never fell in that
    window. Returns the offending names."""
    pending, out = {}, []  # directory inode -> its parent's
    with open(journal) as f:
        for line in f:
            p = line.split()
            if p[0] == "N":
                parent, ident = (int(p[1]), int(p[2])), (int(p[4]), int(p[5]))
                if parent in pending:
                    out.append(f"{dirname}/{p[3]}")
                if p[3] == dirname:
                    pending[ident] = parent
            elif p[0] == "Y":
                ident = (int(p[1]), int(p[2]))
                pending = {d: parent for d, parent in pending.items() if parent != ident}
            elif p[0] == "D":
                pending.pop((int(p[1]), int(p[2])), None)
    return out


def safe_lengths(journal):
    """{(dev, ino): safe length}, {(dev, ino): offset of an overwrite} and {(dev, ino): [(offset,
    length)] of zeros overwritten since the last fsync that covers them} from the journal."""
    safe, overwritten, zeroed = {}, {}, {}
    with open(journal) as f:
        for line in f:
            parts = line.split()
            kind, ident = parts[0], (int(parts[1]), int(parts[2]))
            if kind == "C":
                safe[ident] = 0
                overwritten.pop(ident, None)
                zeroed.pop(ident, None)
            elif kind == "S":
                size = int(parts[3])
                safe[ident] = max(safe.get(ident, 0), size)
                zeroed[ident] = [(o, n) for o, n in zeroed.get(ident, []) if o + n > size]
            elif kind == "T":
                size = int(parts[3])
                safe[ident] = min(safe.get(ident, size), size)
                zeroed[ident] = [(o, min(n, size - o)) for o, n in zeroed.get(ident, []) if o < size]
            elif kind == "K":  # what a cut left: exactly that is on the disk
                safe[ident] = int(parts[3])
                zeroed.pop(ident, None)
            elif kind == "W":
                overwritten[ident] = int(parts[3])
            elif kind == "Z":
                zeroed.setdefault(ident, []).append((int(parts[3]), int(parts[4])))
            elif kind == "D":
                safe.pop(ident, None)
                overwritten.pop(ident, None)
                zeroed.pop(ident, None)
    return safe, overwritten, zeroed


def _unzero(path, ranges, rng, tail):
    """Zeros overwritten and not fsynced since: each 4 KiB page of them keeps what was written
    or is zeros again, at random (tail="none": zeros again)."""
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        for offset, length in ranges:
            end = min(offset + length, size)
            page = offset
            while page < end:
                nxt = min(end, (page // 4096 + 1) * 4096)
                if tail == "none" or rng.random() < 0.5:
                    f.seek(page)
                    f.write(bytes(nxt - page))
                page = nxt


def cut(directory, journal, rng, tail="random"):
    """Takes back, in every file under `directory` the journal knows, what was not fsynced:
    all of it (tail="none") or a random part (tail="random": each file keeps a random prefix
    of its unsynced bytes). Only for files of dead processes. Returns a report."""
    if not os.path.exists(journal):
        raise ModelBroken(f"no journal at {journal}: was the library loaded?")
    report = collections.Counter()
    _undo_names(directory, journal, report)
    safe, overwritten, zeroed = safe_lengths(journal)
    untracked = []
    survived = []  # what the disk kept is safe from now on, tail included (names too)
    seen = set()   # inodes cut already (a hard-linked file has several names)
    stash = os.path.realpath(journal) + ".stash"
    for root, subdirs, files in os.walk(directory):
        if os.path.realpath(root) == stash:
            subdirs[:] = []
            continue
        st = os.lstat(root)
        survived.append(f"Y {st.st_dev} {st.st_ino}\n")
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
            if zeroed.get(ident):
                _unzero(path, zeroed[ident], rng, tail)
                report["zeros_restored"] += 1
            if keep >= st.st_size:
                if zeroed.get(ident):  # what the cut left of its pages is settled now
                    survived.append(f"K {ident[0]} {ident[1]} {st.st_size}\n")
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


def adopt(directory, journal):
    """After `directory` was filled by other means than the library's (a test copying a
    backup into place, as an operator would, syncing it): everything in it is on the disk,
    every file whole and every name made."""
    lines = []
    for root, _, files in os.walk(directory):
        st = os.lstat(root)
        lines.append(f"Y {st.st_dev} {st.st_ino}\n")
        for name in files:
            st = os.lstat(os.path.join(root, name))
            lines.append(f"K {st.st_dev} {st.st_ino} {st.st_size}\n")
    with open(journal, "a") as f:
        f.writelines(lines)


def forget(directory, journal):
    """Before `directory` is deleted by other means than the library's (a test wiping a
    node's disk): ends the account of every file in it, so that a file the library does not
    see being created cannot inherit one through a reused inode. Files with other names (hard
    links into backups) live on and keep theirs."""
    lines = []
    for root, _, files in os.walk(directory, topdown=False):
        st = os.lstat(root)
        lines.append(f"D {st.st_dev} {st.st_ino}\n")
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            if st.st_nlink == 1:
                lines.append(f"D {st.st_dev} {st.st_ino}\n")
    with open(journal, "a") as f:
        f.writelines(lines)

"""The stat walk under every stat key: (path, size, mtime, inode) of each file below a
directory, reduced to a digest.

A plan or apply of many effects would otherwise import what it needs (~0.25 s) and then walk
tens of thousands of files (~0.25 s at 500 effects) one after the other. `ahead()` starts the
walk of the run's directories in a forked child while the parent imports, so on two cores the
two overlap. A thread cannot do it: the walk gives up the interpreter lock at every stat and
would wait out the importing thread's switch interval each time to get it back. The child
only stats and hashes, and its digests are used once each, for the first key of the run; a
key taken again (after a build wrote its zips) walks afresh.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

_SKIP = {"wanbuild.lock"}
Stat = tuple[str, int, int, int]
_SIZE = hashlib.sha256().digest_size


def tree_stats(root: Path | str) -> list[Stat]:
    """(path, size, mtime, inode) of every file under `root`, sorted by path; hidden
    directories (.dvc caches, .git) aside. A symlinked directory is followed (DVC may link
    media in), once: a loop is not walked twice."""
    out: list[Stat] = []
    _tree(str(root), out, set())
    out.sort()
    return out


def _tree(root: str, out: list[Stat], seen: set[tuple[int, int]]) -> None:
    try:
        st = os.stat(root)
        entries = list(os.scandir(root))
    except OSError:
        return  # not there (a build directory before the first build): nothing to stat
    if (st.st_dev, st.st_ino) in seen:
        return
    seen.add((st.st_dev, st.st_ino))
    for e in entries:
        try:
            if e.is_dir():
                if not e.name.startswith("."):
                    _tree(e.path, out, seen)
                continue
        except OSError:
            pass
        if e.name in _SKIP:
            continue
        try:
            s = e.stat()
        except OSError:
            out.append((e.path, -1, 0, 0))
            continue
        out.append((e.path, s.st_size, s.st_mtime_ns, s.st_ino))


def tree_digest(root: Path | str) -> str:
    """The digest of tree_stats(root): walked now, or by the child started by ahead(), the
    first time a directory it walked is asked for."""
    key = str(root)
    if _child is not None and key in _child.dirs:
        found = _child.take(key)
        if found is not None:
            return found
    return _digest(key)


def _digest(root: str) -> str:
    # one line per file; a path cannot hold a NUL, so the fields cannot run into each other
    lines = "".join(f"{p}\0{size}\0{mtime}\0{ino}\n" for p, size, mtime, ino in tree_stats(root))
    return hashlib.sha256(lines.encode("utf-8", "surrogateescape")).hexdigest()


class _Child:
    """A forked process that digests `dirs` in order, writing each digest to a pipe as soon as
    it has it: the parent goes on with the first effects while the child walks the rest."""

    def __init__(self, dirs: list[str]) -> None:
        self.dirs = {d: i for i, d in enumerate(dirs)}
        self._got = bytearray()
        self._taken: set[str] = set()
        read, write = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child: stat, hash, write, leave without running anything else
            try:
                os.close(read)
                for d in self.dirs:
                    out = memoryview(bytes.fromhex(_digest(d)))
                    while out:
                        out = out[os.write(write, out) :]
            finally:
                os._exit(0)
        os.close(write)
        self._read = read

    def take(self, directory: str) -> str | None:
        """The child's digest of `directory`, once; None if it did not get that far."""
        index = self.dirs[directory]
        while len(self._got) < (index + 1) * _SIZE and self._read >= 0:
            chunk = os.read(self._read, 1 << 16)
            if not chunk:
                self.close()
            self._got += chunk
        if len(self._got) < (index + 1) * _SIZE or directory in self._taken:
            return None
        self._taken.add(directory)
        return self._got[index * _SIZE : (index + 1) * _SIZE].hex()

    def close(self) -> None:
        if self._read < 0:
            return
        os.close(self._read)
        self._read = -1
        with suppress(ProcessLookupError):  # done, or still walking for a parent that stopped
            os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)


_child: _Child | None = None


@contextmanager
def ahead(dirs: list[Path], *, at_least: int = 16) -> Iterator[None]:
    """Walk `dirs` in a child process while the body runs (Linux, only while this process
    runs one thread, and for `at_least` directories: fewer are not worth a process)."""
    global _child
    if (
        _child is not None
        or len(dirs) < at_least
        or not sys.platform.startswith("linux")
        or threading.active_count() != 1
    ):
        yield
        return
    _child = _Child([str(d) for d in dirs])
    try:
        yield
    finally:
        child, _child = _child, None
        child.close()

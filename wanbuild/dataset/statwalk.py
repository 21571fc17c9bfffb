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
import struct
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
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
    found = _child.take(str(root)) if _child is not None else None
    return found if found is not None else _digest(str(root))


def _digest(root: str) -> str:
    # one line per file; a path cannot hold a NUL, so the fields cannot run into each other
    lines = "".join(f"{p}\0{size}\0{mtime}\0{ino}\n" for p, size, mtime, ino in tree_stats(root))
    return hashlib.sha256(lines.encode("utf-8", "surrogateescape")).hexdigest()


class _Child:
    """A forked process that finds the directories to walk (`dirs()`: resolving paths costs a
    stat per component, so the child pays it too), writes their list, then each one's digest
    as soon as it has it: the parent goes on with the first effects while the child walks the
    rest. On the pipe: the list's length (4 bytes), the paths joined by NULs, then 32 bytes
    per directory in the list's order."""

    def __init__(self, dirs: Callable[[], Iterable[Path]]) -> None:
        self._got = bytearray()
        self._index: dict[str, int] | None = None
        self._start = 0  # where the digests begin in _got
        self._taken: set[str] = set()
        read, write = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child: stat, hash, write, leave without running anything else
            try:
                os.close(read)
                walked = [str(d) for d in dirs()]
                names = b"\0".join(os.fsencode(d) for d in walked)
                _send(write, struct.pack("!I", len(names)) + names)
                for d in walked:
                    _send(write, bytes.fromhex(_digest(d)))
            finally:
                os._exit(0)
        os.close(write)
        self._read = read

    def take(self, directory: str) -> str | None:
        """The child's digest of `directory`, once; None if it does not walk it, or did not
        get that far."""
        index = self._list().get(directory)
        if index is None or directory in self._taken:
            return None
        end = self._start + (index + 1) * _SIZE
        if not self._has(end):
            return None
        self._taken.add(directory)
        return self._got[end - _SIZE : end].hex()

    def _list(self) -> dict[str, int]:
        if self._index is None:
            self._index = {}
            if self._has(4):
                size = struct.unpack_from("!I", self._got)[0]
                if self._has(4 + size):
                    names = bytes(self._got[4 : 4 + size]).split(b"\0") if size else []
                    self._index = {os.fsdecode(n): i for i, n in enumerate(names)}
                    self._start = 4 + size
        return self._index

    def _has(self, size: int) -> bool:
        """Whether the first `size` bytes came, reading on until they do or the child ends."""
        while len(self._got) < size and self._read >= 0:
            chunk = os.read(self._read, 1 << 16)
            if not chunk:
                self.close()
            self._got += chunk
        return len(self._got) >= size

    def close(self) -> None:
        if self._read < 0:
            return
        os.close(self._read)
        self._read = -1
        with suppress(ProcessLookupError):  # done, or still walking for a parent that stopped
            os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)


def _send(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


_child: _Child | None = None


@contextmanager
def ahead(dirs: Callable[[], Iterable[Path]], *, worth_it: bool = True) -> Iterator[None]:
    """Walk the directories `dirs()` names, in a child process while the body runs (on Linux,
    only while this process runs one thread, and if `worth_it`: a few effects are not worth a
    process)."""
    global _child
    if (
        _child is not None
        or not worth_it
        or not sys.platform.startswith("linux")
        or threading.active_count() != 1
    ):
        yield
        return
    _child = _Child(dirs)
    try:
        yield
    finally:
        child, _child = _child, None
        child.close()

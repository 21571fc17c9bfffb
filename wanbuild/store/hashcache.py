"""Content hashes of files, cached by (path, size, mtime, inode) as DVC does.

A file whose stat matches its cached row is not read again; any mismatch re-hashes it. So an
unchanged dataset is fingerprinted without reading its media, and a touched file whose bytes did
not change gets the same hash after one re-read. What probing found (resolution, duration,
format) is kept by content hash too, so an unchanged effect is validated without opening media.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from wanbuild.store.sqlite import open_db

HASH_WORKERS = max(2, min(8, os.cpu_count() or 2))
_SCHEMA = """
CREATE TABLE IF NOT EXISTS hashes (
    path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, inode INTEGER, sha256 TEXT
);
CREATE TABLE IF NOT EXISTS facts (sha256 TEXT, kind TEXT, doc TEXT, PRIMARY KEY (sha256, kind));
"""


def file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


class HashCache:
    def __init__(self, db: Path) -> None:
        self._conn = open_db(db, _SCHEMA)
        self.hits = 0
        self.misses = 0

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> HashCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def facts(self, sha256: str, kind: str) -> dict[str, Any] | None:
        """What probing content `sha256` found before (media facts depend on bytes alone)."""
        row = self._conn.execute(
            "SELECT doc FROM facts WHERE sha256 = ? AND kind = ?", (sha256, kind)
        ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def put_facts(self, sha256: str, kind: str, doc: dict[str, Any]) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO facts VALUES (?, ?, ?)", (sha256, kind, json.dumps(doc))
        )

    def warm(self, paths: Iterable[Path], workers: int = HASH_WORKERS) -> None:
        """Hash, side by side, every file among `paths` whose cached row is stale (hashlib and
        file reads release the GIL, so a cold dataset is hashed on every core)."""
        stale: list[tuple[str, os.stat_result]] = []
        for p in dict.fromkeys(paths):
            real = os.path.realpath(p)
            try:
                st = os.stat(real)
            except OSError:
                continue  # sha256() reports it, as it always has
            if not self._fresh(real, st):
                stale.append((real, st))
        if len(stale) < 2:
            return  # nothing to share out
        with ThreadPoolExecutor(min(workers, len(stale))) as pool:
            digests = list(pool.map(lambda rs: file_sha256(Path(rs[0])), stale))
        for (real, st), digest in zip(stale, digests, strict=True):
            self.misses += 1
            self._remember(real, st, digest)

    def remember(self, path: Path, digest: str) -> None:
        """Record a hash computed elsewhere (a zip hashed as it was written)."""
        real = os.path.realpath(path)
        self._remember(real, os.stat(real), digest)

    def _fresh(self, real: str, st: os.stat_result) -> str | None:
        row = self._conn.execute(
            "SELECT size, mtime_ns, inode, sha256 FROM hashes WHERE path = ?", (real,)
        ).fetchone()
        if row is not None and tuple(row[:3]) == (st.st_size, st.st_mtime_ns, st.st_ino):
            return str(row[3])
        return None

    def _remember(self, real: str, st: os.stat_result, digest: str) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO hashes VALUES (?, ?, ?, ?, ?)",
            (real, st.st_size, st.st_mtime_ns, st.st_ino, digest),
        )

    def sha256(self, path: Path) -> str:
        real = os.path.realpath(path)
        st = os.stat(real)
        known = self._fresh(real, st)
        if known is not None:
            self.hits += 1
            return known
        self.misses += 1
        digest = file_sha256(Path(real))
        self._remember(real, st, digest)
        return digest

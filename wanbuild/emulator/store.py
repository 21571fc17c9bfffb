"""The emulator's disk: one SQLite file of JSON documents, plus uploaded file bytes beside it.

Separate wanbuild runs and a restarted server see the same "cloud". Writes are serialised by a
lock (the app serves requests from a thread pool) and by SQLite across processes.

Lists are answered by SQL: each object's creation time, a tag (the upload API of a file, the
model of a job) and the time it leaves the lists (a deleted job, a deleted deployment) are
columns beside the document, indexed, so a page decodes only the objects on it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from wanbuild.store.sqlite import open_db

# added after the first release: a state directory made before is upgraded in place
_COLUMNS = {"created": "REAL", "tag": "TEXT", "gone_at": "REAL"}
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS objects (
    kind TEXT, id TEXT, region TEXT, seq INTEGER, doc TEXT,
    {", ".join(f"{name} {kind}" for name, kind in _COLUMNS.items())},
    PRIMARY KEY (kind, id)
);
"""
_INDEXES = """
CREATE INDEX IF NOT EXISTS objects_listed ON objects (kind, region, seq);
CREATE INDEX IF NOT EXISTS objects_seq ON objects (seq);
CREATE INDEX IF NOT EXISTS objects_output
    ON objects (kind, region, json_extract(doc, '$.finetuned_output'));
"""

# (kind, document) -> (tag, gone_at): what lists filter on
Describe = Callable[[str, dict[str, Any]], tuple[str | None, float | None]]


def _untagged(_kind: str, _doc: dict[str, Any]) -> tuple[str | None, float | None]:
    return None, None


class Store:
    def __init__(self, state_dir: Path, describe: Describe = _untagged) -> None:
        self.dir = state_dir
        self.blobs = state_dir / "files"
        self.outputs = state_dir / "outputs"
        for d in (self.dir, self.blobs, self.outputs):
            d.mkdir(parents=True, exist_ok=True)
        self._describe = describe
        self._conn = open_db(state_dir / "state.sqlite", _SCHEMA)
        self.lock = threading.RLock()
        self._upgrade()

    def _missing_columns(self) -> list[str]:
        have = {row[1] for row in self._conn.execute("PRAGMA table_info(objects)")}
        return [c for c in _COLUMNS if c not in have]

    def _upgrade(self) -> None:
        """Add and fill the columns an old state lacks, all or nothing. Several processes may
        open one old state at once: the columns are looked at again under the write lock, so
        only the first adds them."""
        if self._missing_columns():
            with self.writing():
                self._add_columns(self._missing_columns())
        self._conn.executescript(_INDEXES)

    @contextmanager
    def writing(self) -> Iterator[None]:
        """One transaction holding SQLite's write lock from its start: what it reads, no other
        process changes before it commits."""
        with self.lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _add_columns(self, missing: list[str]) -> None:
        if not missing:
            return
        for column in missing:
            self._conn.execute(f"ALTER TABLE objects ADD COLUMN {column} {_COLUMNS[column]}")
        for kind, oid, doc in self._conn.execute("SELECT kind, id, doc FROM objects").fetchall():
            self._conn.execute(
                "UPDATE objects SET created = ?, tag = ?, gone_at = ? WHERE kind = ? AND id = ?",
                (*self._columns(kind, json.loads(doc)), kind, oid),
            )

    def _columns(
        self, kind: str, doc: dict[str, Any]
    ) -> tuple[float | None, str | None, float | None]:
        tag, gone_at = self._describe(kind, doc)
        created = doc.get("created")
        return (float(created) if created is not None else None), tag, gone_at

    def close(self) -> None:
        self._conn.close()

    def meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def put(self, kind: str, oid: str, region: str, doc: dict[str, Any]) -> None:
        # One statement, so one transaction that takes SQLite's write lock before it reads:
        # a new object's seq is one past the last, in every process
        with self.lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO objects (kind, id, region, seq, doc, created, tag, gone_at)"
                " VALUES (?, ?, ?, COALESCE((SELECT seq FROM objects WHERE kind = ? AND id = ?),"
                " (SELECT COALESCE(MAX(seq), 0) + 1 FROM objects)), ?, ?, ?, ?)",
                (kind, oid, region, kind, oid, json.dumps(doc), *self._columns(kind, doc)),
            )

    def add(self, kind: str, oid: str, region: str, doc: dict[str, Any]) -> bool:
        """Store a new object, never over another: False, and nothing stored, when an object
        of its kind already has the id (a create draws another)."""
        with self.lock:
            cur = self._conn.execute(
                "INSERT OR IGNORE INTO objects (kind, id, region, seq, doc, created, tag, gone_at)"
                " VALUES (?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM objects), ?, ?, ?, ?)",
                (kind, oid, region, json.dumps(doc), *self._columns(kind, doc)),
            )
            return cur.rowcount == 1

    def get(self, kind: str, oid: str, region: str) -> dict[str, Any] | None:
        row = self._conn.execute(
            "SELECT doc FROM objects WHERE kind = ? AND id = ? AND region = ?", (kind, oid, region)
        ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def all(self, kind: str, region: str) -> list[dict[str, Any]]:
        rows = self._conn.execute(
            "SELECT doc FROM objects WHERE kind = ? AND region = ? ORDER BY seq", (kind, region)
        ).fetchall()
        return [dict(json.loads(r[0])) for r in rows]

    def find(self, kind: str, region: str, key: str, value: str) -> list[dict[str, Any]]:
        """The documents whose top-level `key` equals `value` (in SQL, not decoded; by index
        for the keys _INDEXES names)."""
        if not key.isidentifier():
            raise ValueError(f"not a document key: {key!r}")
        rows = self._conn.execute(
            "SELECT doc FROM objects WHERE kind = ? AND region = ?"
            f" AND json_extract(doc, '$.{key}') = ?",
            (kind, region, value),
        ).fetchall()
        return [dict(json.loads(r[0])) for r in rows]

    def listing(
        self,
        kind: str,
        region: str,
        *,
        now: float,
        lag: float = 0.0,
        tag: str | None = None,
        offset: int = 0,
        limit: int | None = None,
        newest_first: bool = True,
    ) -> tuple[int, list[dict[str, Any]]]:
        """What a list call shows at `now`: objects created at least `lag` ago, not gone, with
        `tag` when given; (how many in all, the documents from `offset`, at most `limit`)."""
        where = "kind = ? AND region = ? AND (gone_at IS NULL OR gone_at > ?)"
        args: list[Any] = [kind, region, now]
        if lag:
            where += " AND created + ? <= ?"
            args += [lag, now]
        if tag is not None:
            where += " AND tag = ?"
            args.append(tag)
        order = "DESC" if newest_first else "ASC"
        with self.lock:  # the count and the page from one state
            total = self._conn.execute(f"SELECT COUNT(*) FROM objects WHERE {where}", args)
            count = int(total.fetchone()[0])
            rows = self._conn.execute(
                f"SELECT doc FROM objects WHERE {where} ORDER BY seq {order} LIMIT ? OFFSET ?",
                [*args, -1 if limit is None else limit, offset],
            ).fetchall()
        return count, [dict(json.loads(r[0])) for r in rows]

    def delete(self, kind: str, oid: str) -> None:
        self._conn.execute("DELETE FROM objects WHERE kind = ? AND id = ?", (kind, oid))

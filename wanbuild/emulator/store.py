"""The emulator's disk: one SQLite file of JSON documents, plus uploaded file bytes beside it.

Separate wanbuild runs and a restarted server see the same "cloud". Writes are serialised by a
lock (the app serves requests from a thread pool) and by SQLite across processes.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from wanbuild.store.sqlite import open_db

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS objects (
    kind TEXT, id TEXT, region TEXT, seq INTEGER, doc TEXT, PRIMARY KEY (kind, id)
);
"""


class Store:
    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir
        self.blobs = state_dir / "files"
        self.outputs = state_dir / "outputs"
        for d in (self.dir, self.blobs, self.outputs):
            d.mkdir(parents=True, exist_ok=True)
        self._conn = open_db(state_dir / "state.sqlite", _SCHEMA)
        self.lock = threading.RLock()

    def close(self) -> None:
        self._conn.close()

    def meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def put(self, kind: str, oid: str, region: str, doc: dict[str, Any]) -> None:
        with self.lock:
            row = self._conn.execute(
                "SELECT seq FROM objects WHERE kind = ? AND id = ?", (kind, oid)
            ).fetchone()
            if row is None:
                seq = self._conn.execute(
                    "SELECT COALESCE(MAX(seq), 0) + 1 FROM objects"
                ).fetchone()[0]
            else:
                seq = row[0]
            self._conn.execute(
                "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?)",
                (kind, oid, region, seq, json.dumps(doc)),
            )

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

    def delete(self, kind: str, oid: str) -> None:
        self._conn.execute("DELETE FROM objects WHERE kind = ? AND id = ?", (kind, oid))

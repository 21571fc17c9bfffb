"""Open a SQLite file that several wanbuild processes share (WAL, busy timeout).

Switching a new database to WAL takes a lock that SQLite's busy handler does not wait for, so
two processes opening the same new file at once can see "database is locked" there; opening is
retried for a while instead.

Commits are not synced to disk (WAL with synchronous=NORMAL): what is kept here is a cache or
the emulator's state, and a commit survives a killed process (it is in the page cache), only
not a power cut. Syncing every commit cost an emulated apply of hundreds of effects a
thousand fsyncs on its event loop.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

_OPEN_TRIES = 100


def open_db(path: Path, schema: str) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
    for attempt in range(_OPEN_TRIES):
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(schema)
            return conn
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or attempt == _OPEN_TRIES - 1:
                conn.close()
                raise
            time.sleep(0.05)
    raise AssertionError("unreachable")

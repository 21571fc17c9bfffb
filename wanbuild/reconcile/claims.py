"""Which effect owns which remote object: every id any wanbuild.lock of the project records.

An object is attributable to exactly one effect, the one whose lock claims it. A create whose
reply was lost is settled only with an object no lock claims, so one effect can never adopt
another's upload, job or deployment.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wanbuild.reconcile.lockfile import LOCK_NAME, LockFile, Signature, file_signature


@dataclass(frozen=True)
class Claims:
    owners: dict[str, str] = field(default_factory=dict)  # remote id -> effect directory

    def owner(self, remote_id: str) -> str | None:
        return self.owners.get(remote_id)

    def __contains__(self, remote_id: object) -> bool:
        return remote_id in self.owners

    def adding(self, ids: Iterable[str], owner: str) -> Claims:
        """These claims and `ids`, owned by `owner` (an effect's own, read afresh)."""
        return Claims({**self.owners, **dict.fromkeys(ids, owner)})


def claimed_ids(entry: dict[str, Any]) -> set[str]:
    """Every remote id one target entry of a lock names."""
    ids: set[str] = set()
    for values in (entry.get("claims") or {}).values():
        ids.update(str(v) for v in values)
    for f in ((entry.get("dataset") or {}).get("files") or {}).values():
        ids.add(str(f.get("file_id")))
    ids.add(str((entry.get("job") or {}).get("job_id")))
    ids.add(str((entry.get("deployment") or {}).get("deployed_model")))
    ids.update(str(d) for d in entry.get("retiring") or ())
    ids.discard("None")
    return ids


def read_claims(effect_dirs: Iterable[Path], mirror_dir: Path | None = None) -> Claims:
    """`mirror_dir`: the project's .wanbuild/lineage (found from each effect when not given)."""
    owners: dict[str, str] = {}
    for d in effect_dirs:
        for rid in _lock_ids(LockFile(d, d.name, "", mirror_dir)):
            owners.setdefault(rid, str(d))
    return Claims(owners)


# A lock's claims are worked out again only when it or its mirror changed, as the file_signature
# of both tells. Many effects creating at once each ask for the
# project's claims before every create; this keeps that to a stat() per lock.
_Signature = tuple[Signature | None, ...]
_seen: dict[Path, tuple[_Signature, frozenset[str]]] = {}
_seen_lock = threading.Lock()


def _signature(paths: Iterable[Path]) -> _Signature:
    out: list[Signature | None] = []
    for p in paths:
        try:
            st = p.stat()
        except OSError:
            out.append(None)
            continue
        out.append(file_signature(st))
    return tuple(out)


def _lock_ids(lock: LockFile) -> frozenset[str]:
    sig = _signature((lock.path, lock.mirror))
    with _seen_lock:
        known = _seen.get(lock.path)
    if known is not None and known[0] == sig:
        return known[1]
    doc = lock.read_all()  # the newest state, as apply reads it
    ids = frozenset(rid for e in (doc.get("targets") or {}).values() for rid in claimed_ids(e))
    with _seen_lock:
        _seen[lock.path] = (sig, ids)
    return ids


def project_effect_dirs(project: Path, extra: Iterable[Path] = ()) -> list[Path]:
    """The effect directories whose locks can claim objects: effects/* plus any named."""
    found: set[Path] = set()
    try:
        entries = list(os.scandir(project / "effects"))
    except OSError:
        entries = []
    for e in entries:
        if os.path.exists(os.path.join(e.path, LOCK_NAME)):
            found.add(Path(os.path.realpath(e.path)) if e.is_symlink() else Path(e.path))
    found.update(Path(d).resolve() for d in extra)
    return sorted(found)


class RecentClaims:
    """The project's claims, read again at most every `ttl` seconds, for the two uses that need
    no fresher view: what a create records as already existing (a claim missed there only
    makes the record longer), and lookalikes, which are named after one effect and checked
    with that effect's own lock read afresh (no other effect names objects after it). Hundreds
    of effects would otherwise each read every lock, on every pass, all the while."""

    def __init__(self, read: Callable[[], Claims], ttl: float = 30.0) -> None:
        self._read, self._ttl = read, ttl
        self._lock = threading.Lock()
        self._at = float("-inf")
        self._claims = Claims()

    def __call__(self) -> Claims:
        with self._lock:
            if time.monotonic() - self._at >= self._ttl:
                self._claims, self._at = self._read(), time.monotonic()
            return self._claims

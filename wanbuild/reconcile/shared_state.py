"""The effects' lock records shared through the git remote: refs/wanbuild/state/<effect>.

While an apply holds an effect's lease (reconcile.lease), every write of its wanbuild.lock is
pushed there first (a commit holding the whole lock, child of the one before), so whatever a
create returns, and every intent written before a create, is on the remote before the create is
made. Every command against the real service fetches these refs and brings the working tree's
wanbuild.lock up to date from them (`pull`): the next machine plans from the last machine's ids,
not from its own checkout.

How the two are reconciled (`merged`, a pure rule): this machine remembers which state commit
it last fetched or pushed for each effect (.wanbuild/shared/, never committed). While the
remote's commit is that one, nothing happened elsewhere and the working tree's lock stands (it
is pushed with the next write under the lease). When the remote moved, another machine applied:
its record of what exists now (dataset, job, checkpoint, deployment, intents) wins, unless the
working tree's history strictly extends the remote's (the newer history wins, as with the
lineage mirror); claims and history records are the union of both, as they only grow. A
wanbuild.lock holding merge-conflict markers is replaced by the remote's record whole.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wanbuild.reconcile.lockfile import LockFile, extends
from wanbuild.versioning.gitrefs import NAMESPACE, GitRemote

STATE_FILE = "wanbuild.lock"


def state_ref(effect: str) -> str:
    return f"{NAMESPACE}/state/{effect}"


def lease_ref(effect: str) -> str:
    return f"{NAMESPACE}/leases/{effect}"


def merged(local: dict[str, Any] | None, remote: dict[str, Any]) -> dict[str, Any]:
    """The lock after another machine's apply: `remote` is the record it pushed, `local` the
    working tree's (None: absent or unreadable)."""
    if local is None:
        return remote
    newer, older = (local, remote) if extends(local, remote) else (remote, local)
    targets: dict[str, Any] = {}
    for target in sorted(set(newer.get("targets", {})) | set(older.get("targets", {}))):
        new = dict((newer.get("targets") or {}).get(target) or {})
        old = (older.get("targets") or {}).get(target) or {}
        if not new:
            targets[target] = dict(old)
            continue
        claims = _union_claims(new.get("claims") or {}, old.get("claims") or {})
        if claims:
            new["claims"] = claims
        history = _union_history(new.get("history") or [], old.get("history") or [])
        if history:
            new["history"] = history
        targets[target] = new
    return {**newer, "targets": targets}


def _union_claims(a: dict[str, list[str]], b: dict[str, list[str]]) -> dict[str, list[str]]:
    out = {k: list(v) for k, v in a.items()}
    for kind, ids in b.items():
        mine = out.setdefault(kind, [])
        mine += [i for i in ids if i not in mine]
    return out


def _union_history(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`a` with `b`'s records it lacks, in the order they were applied."""
    extra = [r for r in b if r not in a]
    if not extra:
        return list(a)
    return sorted([*a, *extra], key=lambda r: str(r.get("applied_at") or ""))


class Marker:
    """The state commit this machine last fetched or pushed for an effect, per remote URL."""

    def __init__(self, root: Path, effect: str, url: str) -> None:
        self.path = root / "shared" / f"{effect}.json"
        self.url = url

    def read(self) -> str | None:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return str(doc["state"]) if isinstance(doc, dict) and doc.get("url") == self.url else None

    def write(self, sha: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps({"url": self.url, "state": sha}), encoding="utf-8")
        tmp.replace(self.path)


def pull(
    remote: GitRemote,
    refs: dict[str, str],
    lock: LockFile,
    marker: Marker,
    say: Callable[[str], None],
) -> bool:
    """Bring `lock` up to date from the fetched `refs`; True when it changed."""
    sha = refs.get(state_ref(lock.effect))
    if sha is None:
        return False
    local, conflicted = lock.read_local()
    if marker.read() == sha and not conflicted:
        return False
    remote_doc = json.loads(remote.read(sha, STATE_FILE).decode("utf-8"))
    if conflicted:
        say(
            f"{lock.path.name} holds merge-conflict markers; replaced by the shared state "
            f"({state_ref(lock.effect)} on {remote.name}), the record of the last apply"
        )
    doc = merged(local, remote_doc)
    changed = local is None or json.dumps(doc, sort_keys=True) != json.dumps(local, sort_keys=True)
    if changed:
        lock.replace(doc)
        if not conflicted:
            say(
                f"{lock.path.name} brought up to date from the shared state "
                f"({state_ref(lock.effect)} on {remote.name}): "
                + ("another machine applied it" if local is not None else "none was here")
            )
    marker.write(sha)
    return changed

"""effects/<name>/wanbuild.lock: the lineage of what apply created, committed like any file.

Per target (backend/region): dataset fingerprint and uploaded file ids, the job (id, model,
hyperparameters, status, usage), the exported checkpoint, the deployment (name, aigc_config
hash), the git commit applied, and intents: written before every create call and cleared when
its id is recorded, so an apply killed in between is resolved by the next one. Every write is
atomic (temporary file, fsync, rename). The API key is never part of it.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wanbuild.core.fingerprint import digest
from wanbuild.errors import WanbuildError
from wanbuild.spec.state import Desired, DesiredZip, LockRecord

LOCK_NAME = "wanbuild.lock"
_CONFLICT = re.compile(r"^(<<<<<<<|>>>>>>>)", re.MULTILINE)
FORMAT = 1

# The text this process last read or wrote at each lock path, by its file_signature: while
# that holds the text is the same, and a read costs a stat. An apply of many effects reads
# each lock some forty times.
Signature = tuple[int, int, int]
_texts: dict[Path, tuple[Signature, str]] = {}
_texts_lock = threading.Lock()


def file_signature(st: os.stat_result) -> Signature:
    """A lock file's (inode, size, mtime): the same while its text is, as every write replaces
    the file whole (a new inode, as git's checkout does too)."""
    return st.st_ino, st.st_size, st.st_mtime_ns


class LockFile:
    """The effect's lock, plus a mirror of its newest state in the project's .wanbuild/.

    History only grows, so a lock whose history is a strict prefix of the mirror's is stale:
    a `git checkout` of an older commit brought back an older lock. The mirror's newer state is
    read then (and written back on the next change), so a rollback by checkout still knows
    what was created since, and nothing is orphaned."""

    def __init__(
        self,
        effect_dir: Path,
        effect: str,
        target: str,
        mirror_dir: Path | None = None,
        publish: Callable[[str], None] | None = None,
    ) -> None:
        self.path = effect_dir / LOCK_NAME
        self.effect, self.target = effect, target
        # called with the text of every write before it is made (the shared state's push,
        # while a lease is held): when it raises, nothing is written
        self.publish = publish
        if mirror_dir is None:
            from wanbuild.config.load import project_root

            mirror_dir = lineage_dir(project_root(effect_dir))
        self.mirror = mirror_dir / f"{effect}.lock"

    def read_all(self) -> dict[str, Any]:
        text = self._text(self.path, restore="restore it from git")
        doc = self._parse(self.path, text, restore="restore it from git")
        mirrored = self._text(self.mirror, restore="delete it")
        if mirrored is not None and mirrored != text:  # the same text says nothing newer
            newer = self._parse(self.mirror, mirrored, restore="delete it")
            if extends(newer, doc):
                doc = newer
        doc.setdefault("targets", {})
        return dict(doc)

    def read_local(self) -> tuple[dict[str, Any] | None, bool]:
        """(the lock as read_all reads it, or None when there is none or it cannot be read;
        whether it holds merge-conflict markers)."""
        text = self._text(self.path, restore="restore it from git")
        conflicted = text is not None and _CONFLICT.search(text) is not None
        if text is None or conflicted:
            return None, conflicted
        try:
            return self.read_all(), False
        except WanbuildError:
            return None, False

    def replace(self, doc: dict[str, Any]) -> None:
        """Write `doc` whole (the shared state's record, reconciled with this one)."""
        self._write({**doc, "format": FORMAT, "effect": self.effect})

    @staticmethod
    def _text(path: Path, *, restore: str) -> str | None:
        try:
            sig = file_signature(os.stat(path))
            with _texts_lock:
                known = _texts.get(path)
            if known is not None and known[0] == sig:
                return known[1]
            # read after the stat: a change in between shows in the next stat
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as e:
            raise WanbuildError(f"{path}: cannot be read ({e}); {restore}") from None
        with _texts_lock:
            _texts[path] = (sig, text)
        return text

    def _parse(self, path: Path, text: str | None, *, restore: str) -> dict[str, Any]:
        """The lock's document; a damaged one is a user error that names how to recover, and
        nothing is created remotely while it is unreadable."""
        if text is None:
            return {"format": FORMAT, "effect": self.effect, "targets": {}}
        recover = (
            f"{restore} (`git checkout -- {path.name}`), or re-attach what exists with "
            "`wanbuild adopt EFFECT ID`"
        )
        if ("<<<<<<<" in text or ">>>>>>>" in text) and _CONFLICT.search(text):
            raise WanbuildError(
                f"{path}: holds merge-conflict markers; keep one side whole (history only "
                f"grows: take the side with the longer history), or {recover}"
            )
        if not text.strip():
            raise WanbuildError(f"{path}: is empty; {recover}")
        try:
            doc = json.loads(text, object_pairs_hook=_no_duplicates)
        except ValueError as e:
            raise WanbuildError(f"{path}: not valid JSON ({e}); {recover}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("targets", {}), dict):
            raise WanbuildError(f"{path}: not a wanbuild lock; {recover}")
        return doc

    def entry(self) -> dict[str, Any]:
        return dict(self.read_all()["targets"].get(self.target, {}))

    def update(self, **changes: Any) -> dict[str, Any]:
        """Merge `changes` into this target's entry (None deletes a key) and write atomically."""
        doc = self.read_all()
        entry = dict(doc["targets"].get(self.target, {}))
        for key, value in changes.items():
            if value is None:
                entry.pop(key, None)
            else:
                entry[key] = value
        doc["targets"][self.target] = entry
        doc["format"], doc["effect"] = FORMAT, self.effect
        self._write(doc)
        return entry

    def add_intent(self, intent: dict[str, Any]) -> None:
        intents = [i for i in self.entry().get("intents", []) if i.get("key") != intent["key"]]
        self.update(intents=[*intents, intent])

    def clear_intent(self, key: str) -> None:
        self.update(intents=self._without(self.entry(), key) or None)

    def settle(self, key: str | None, claim: tuple[str, str] | None, **changes: Any) -> None:
        """In one atomic write: record `changes`, claim (kind, id) for this effect, and drop
        the intent `key`, so that no crash leaves an id recorded but its intent open."""
        entry = self.entry()
        if claim is not None:
            kind, rid = claim
            claims = {k: list(v) for k, v in (entry.get("claims") or {}).items()}
            if rid not in claims.setdefault(kind, []):
                claims[kind].append(rid)
            changes["claims"] = claims
        if key is not None:
            changes["intents"] = self._without(entry, key) or None
        self.update(**changes)

    @staticmethod
    def _without(entry: dict[str, Any], key: str) -> list[dict[str, Any]]:
        return [i for i in entry.get("intents", []) if i.get("key") != key]

    def record(self) -> LockRecord:
        return self.record_of(self.entry())

    @staticmethod
    def record_of(e: dict[str, Any]) -> LockRecord:
        job = e.get("job") or {}
        dep = e.get("deployment") or {}
        return LockRecord(
            dataset_fp=(e.get("dataset") or {}).get("fingerprint"),
            job_fp=job.get("fingerprint"),
            job_id=job.get("job_id"),
            job_hyper_parameters=job.get("hyper_parameters") or {},
            deploy_fp=dep.get("fingerprint"),
            deployed_model=dep.get("deployed_model"),
            attempt=int(job.get("attempt") or 1),
            intents=tuple(e.get("intents") or ()),
            dataset_built_with=(e.get("dataset") or {}).get("built_with"),
        )

    def _write(self, doc: dict[str, Any]) -> None:
        text = json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        if self.publish is not None:
            self.publish(text)
        data = text.encode("utf-8")
        for path in (self.path, self.mirror):
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            fd = _create(tmp, make_dir=path == self.mirror)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
                sig = file_signature(os.fstat(fd))
            finally:
                os.close(fd)
            os.replace(tmp, path)
            with _texts_lock:
                _texts[path] = (sig, text)


def _create(path: Path, *, make_dir: bool) -> int:
    """A new file to write; with `make_dir`, its directory is made on first need (the
    mirror's .wanbuild/lineage, never an effect's directory)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    try:
        return os.open(path, flags, 0o666)
    except FileNotFoundError:
        if not make_dir:
            raise
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, flags, 0o666)


def lineage_dir(project: Path) -> Path:
    """Where the project's lock mirrors live (this machine's, never committed)."""
    return project / ".wanbuild" / "lineage"


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for key, value in pairs:
        if key in doc:
            raise ValueError(f"key {key!r} appears twice")
        doc[key] = value
    return doc


def last_built_with(path: Path) -> dict[str, str] | None:
    """What fitted the dataset the lock at `path` last applied, on any target (None: no lock,
    or none recorded)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    records = [r for h in _histories(doc if isinstance(doc, dict) else {}).values() for r in h]
    records = [r for r in records if isinstance(r, dict) and isinstance(r.get("built_with"), dict)]
    if not records:
        return None
    latest = max(records, key=lambda r: str(r.get("applied_at") or ""))
    return dict(latest["built_with"])


def _histories(doc: dict[str, Any]) -> dict[str, list[Any]]:
    return {t: list(e.get("history") or []) for t, e in (doc.get("targets") or {}).items()}


def extends(newer: dict[str, Any], doc: dict[str, Any]) -> bool:
    """`newer` holds every record of `doc`'s histories, in order, and more."""
    mine, theirs = _histories(doc), _histories(newer)
    if not any(theirs.values()) or theirs == mine:
        return False
    return all(theirs.get(t, [])[: len(h)] == h for t, h in mine.items())


# The shapes of the lineage records, written both right after a create (execute) and after
# every observation (loop), so that the two never disagree.


def file_entry(z: DesiredZip, file_id: str) -> dict[str, Any]:
    return {"file_id": file_id, "name": z.upload_name, "sha256": z.sha256, "size": z.size}


def dataset_entry(
    d: Desired, files: dict[str, Any], before: dict[str, Any] | None
) -> dict[str, Any]:
    """The lock's record of the uploaded dataset. `built_with` names what fitted its media;
    the first machine's is kept while the fingerprint holds (the same bytes, whoever built
    them), so two machines with other libraries do not rewrite it in turn."""
    entry: dict[str, Any] = {"fingerprint": d.dataset_fp, "files": files}
    kept = (before or {}).get("built_with")
    if (before or {}).get("fingerprint") != d.dataset_fp or not kept:
        kept = d.built_with
    if kept:
        entry["built_with"] = kept
    return entry


def job_entry(
    d: Desired,
    *,
    job_id: str,
    job_name: str,
    finetuned_output: str | None,
    status: str,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "fingerprint": d.job_fp,
        "job_id": job_id,
        "job_name": job_name,
        "model": d.model,
        "finetuned_output": finetuned_output,
        "hyper_parameters": d.hyper_parameters,
        "status": status,
        **extra,
    }


def deployment_entry(
    d: Desired, *, deployed_model: str, model_name: str, capacity: int | None, **extra: Any
) -> dict[str, Any]:
    return {
        "fingerprint": d.deploy_fp,
        "deployed_model": deployed_model,
        "model_name": model_name,
        "checkpoint": d.checkpoint,
        "capacity": capacity,
        "aigc_sha256": digest(d.aigc_config) if d.aigc_config else None,
        **extra,
    }


# The history: one record per set of inputs ever applied, appended, never rewritten (but for
# naming the commit of inputs that were uncommitted when they were applied). Any commit's run is
# found by computing that commit's fingerprints: `wanbuild log`, rollback, `reproduce`.

INPUT_KEYS = ("dataset", "job_fingerprint", "deploy_fingerprint")


def history_record(
    entry: dict[str, Any], d: Desired, commit: str | None, at: str
) -> dict[str, Any]:
    from wanbuild import __version__

    job = entry.get("job") or {}
    dep = entry.get("deployment") or {}
    dataset = entry.get("dataset") or {}
    files = dataset.get("files") or {}
    built = dataset.get("built_with") if dataset.get("fingerprint") == d.dataset_fp else None
    built = built or d.built_with
    return {
        "dataset": d.dataset_fp,
        "job_fingerprint": d.job_fp,
        "deploy_fingerprint": d.deploy_fp,
        "model": d.model,
        "hyper_parameters": d.hyper_parameters,
        "aigc_sha256": digest(d.aigc_config) if d.aigc_config else None,
        "checkpoint": d.checkpoint,
        "wanbuild": __version__,
        **({"built_with": built} if built else {}),
        "file_ids": {split: f.get("file_id") for split, f in sorted(files.items())},
        "job_id": job.get("job_id"),
        "finetuned_output": job.get("finetuned_output"),
        "exported_model": (entry.get("checkpoint") or {}).get("exported_model"),
        "deployed_model": dep.get("deployed_model"),
        "usage": job.get("usage"),
        "commit": commit,
        "applied_at": at,
    }


def extend_history(
    history: list[dict[str, Any]],
    entry: dict[str, Any],
    d: Desired,
    commit: str | None,
    at: str,
) -> list[dict[str, Any]] | None:
    """The history with this application appended, or None when the last record already says
    it (a commit that was unknown is filled in once the same inputs are committed)."""
    record = history_record(entry, d, commit, at)
    last = history[-1] if history else None
    same = last is not None and all(
        last.get(k) == record[k] for k in (*INPUT_KEYS, "deployed_model", "job_id")
    )
    if not same:
        return [*history, record]
    assert last is not None
    if last.get("commit") is None and commit is not None:
        return [*history[:-1], {**last, "commit": commit}]
    return None


def find_history(history: list[dict[str, Any]], key: str, value: str) -> dict[str, Any] | None:
    """The latest record whose input `key` equals `value`."""
    return next((h for h in reversed(history) if h.get(key) == value), None)

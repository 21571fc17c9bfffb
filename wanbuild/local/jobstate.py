"""A local job's state file and its worker lock. No torch: the service reads these.

state.json   status, step, total, loss, eta_s, heartbeat, pid, encoded, message
worker.lock  held (flock) by the job's one worker for as long as it lives; the service
             takes it before it starts a worker and hands it over, so two applies can
             never start two
log.txt      a line per event: "step 12/40 loss 0.2311 eta 31s"
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from typing import Any

STATE = "state.json"
LOCK = "worker.lock"
LOG = "log.txt"
ACTIVE = frozenset({"PENDING", "RUNNING"})
# a worker that dies this many times resumed from the same checkpoint crashes, and is not
# started again: the job fails, naming worker.out
MAX_RESUMES = 3
ENDED = frozenset({"SUCCEEDED", "FAILED", "CANCELED"})


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object written by write_json; None when it is absent or unreadable."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def write_json(path: Path, doc: object) -> None:
    """`doc` at `path`, whole or not at all (a temporary file, synced, then renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    with tmp.open("rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_state(job_dir: Path) -> dict[str, Any]:
    return read_json(job_dir / STATE) or {}


def write_state(job_dir: Path, **changes: Any) -> dict[str, Any]:
    doc = {**read_state(job_dir), **changes, "heartbeat": time.time()}
    tmp = job_dir / f".{STATE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(doc, sort_keys=True), encoding="utf-8")
    os.replace(tmp, job_dir / STATE)
    return doc


def log(job_dir: Path, line: str) -> None:
    with (job_dir / LOG).open("a", encoding="utf-8") as f:
        f.write(f"{now()} {line}\n")


def log_lines(job_dir: Path) -> list[str]:
    try:
        return (job_dir / LOG).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []


def try_lock(job_dir: Path) -> int | None:
    """An fd holding the job's worker lock, or None when a worker holds it (alive)."""
    fd = os.open(job_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def worker_alive(job_dir: Path) -> bool:
    fd = try_lock(job_dir)
    if fd is None:
        return True
    os.close(fd)
    return False


def complete_checkpoints(root: Path) -> list[tuple[Path, dict[str, Any]]]:
    """The complete checkpoints (directories whose manifest was written) with their
    manifests, by step."""
    found = []
    for path in root.glob("checkpoint-*") if root.is_dir() else ():
        manifest = read_json(path / "manifest.json")
        if manifest is not None:
            found.append((path, manifest))
    return sorted(found, key=lambda pm: int(pm[1]["step"]))


def last_checkpoint(root: Path) -> tuple[Path, dict[str, Any]] | None:
    """The complete checkpoint with the highest step."""
    found = complete_checkpoints(root)
    return found[-1] if found else None


def resume_verdict(state: dict[str, Any], step: int) -> dict[str, Any]:
    """What a job whose worker died gets, resumed from its checkpoint at `step` (0: the
    start): the state's changes. A kill is resumed; a worker that died MAX_RESUMES times
    resumed from the same checkpoint (a crash, out of memory, a driver) fails the job
    instead of being started forever."""
    count = int(state.get("resumes") or 0) + 1 if state.get("resumed_at") == step else 1
    if count > MAX_RESUMES:
        return {
            "status": "FAILED",
            "message": f"its worker died {MAX_RESUMES} times after resuming from step {step} "
            "without reaching its next checkpoint; worker.out in the job's directory says why",
        }
    return {"resumed_at": step, "resumes": count}

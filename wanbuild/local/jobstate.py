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


def read_state(job_dir: Path) -> dict[str, Any]:
    try:
        doc = json.loads((job_dir / STATE).read_text(encoding="utf-8"))
        return doc if isinstance(doc, dict) else {}
    except (OSError, ValueError):
        return {}


def write_state(job_dir: Path, **changes: Any) -> dict[str, Any]:
    doc = {**read_state(job_dir), **changes, "heartbeat": time.time()}
    tmp = job_dir / f".{STATE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(doc, sort_keys=True), encoding="utf-8")
    os.replace(tmp, job_dir / STATE)
    return doc


def log(job_dir: Path, line: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with (job_dir / LOG).open("a", encoding="utf-8") as f:
        f.write(f"{stamp} {line}\n")


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


def last_checkpoint(root: Path) -> tuple[Path, dict[str, Any]] | None:
    """The complete checkpoint with the highest step (a directory whose manifest was written)."""
    best: tuple[Path, dict[str, Any]] | None = None
    for path in root.glob("checkpoint-*") if root.is_dir() else ():
        try:
            manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if best is None or int(manifest["step"]) > int(best[1]["step"]):
            best = (path, manifest)
    return best


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


def write_json(path: Path, doc: object) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    with tmp.open("rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)

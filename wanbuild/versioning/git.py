"""Git, read only: the commit an apply ran from, and whether an effect's inputs are committed
(for the lineage in wanbuild.lock)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def head_commit(cwd: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{out}+dirty" if dirty else out


def inputs_commit(cwd: Path, inputs: list[Path], exclude: list[Path]) -> str | None:
    """HEAD when its tree holds exactly the files under `inputs` (the effect directory with its
    .dvc records, conf/), `exclude` aside (wanbuild.lock, which apply rewrites), else None: the
    inputs are not committed yet, and no commit can be named for them."""
    head = head_commit(cwd)
    if head is None:
        return None
    spec = [str(p) for p in inputs] + [f":(exclude){p}" for p in exclude]
    try:
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all", "--", *spec],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return None if changed else head.removesuffix("+dirty")

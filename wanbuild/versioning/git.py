"""Git, read only: whether an effect's inputs are committed, and in which commit (for the
history in wanbuild.lock)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def _git(cwd: Path, *argv: str) -> str | None:
    """git's output, or None when git is missing, fails, or this is not a repository."""
    try:
        return subprocess.run(
            ["git", *argv], cwd=cwd, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def inputs_commit(cwd: Path, inputs: list[Path], exclude: list[Path]) -> str | None:
    """HEAD when its tree holds exactly the files under `inputs` (the effect directory with its
    .dvc records, conf/), `exclude` aside (wanbuild.lock, which apply rewrites), else None: the
    inputs are not committed yet, and no commit can be named for them."""
    head = _git(cwd, "rev-parse", "HEAD")
    if not head:
        return None
    spec = [str(p) for p in inputs] + [f":(exclude){p}" for p in exclude]
    changed = _git(cwd, "status", "--porcelain", "--untracked-files=all", "--", *spec)
    return head if changed == "" else None

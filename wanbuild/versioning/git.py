"""Git, read only: whether an effect's inputs are committed, and in which commit (for the
history in wanbuild.lock)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import TypeVar

K = TypeVar("K")


def _git(cwd: Path, *argv: str, strip: bool = True) -> str | None:
    """git's output, or None when git is missing, fails, or this is not a repository."""
    try:
        out = subprocess.run(
            ["git", *argv], cwd=cwd, capture_output=True, text=True, timeout=60, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.strip() if strip else out


# (the paths whose files are the inputs, the paths under them that are not)
Inputs = tuple[list[Path], list[Path]]


def inputs_commits(cwd: Path, effects: Mapping[K, Inputs]) -> dict[K, str | None]:
    """For each effect, HEAD when its tree holds exactly the files under its inputs (the
    effect directory with its .dvc records, conf/), its exclusions aside (wanbuild.lock, which
    apply rewrites), else None: the inputs are not committed yet, and no commit can be named
    for them. One `git status` answers for every effect of the repository."""
    found = _git(cwd, "rev-parse", "--show-prefix", "HEAD", strip=False)
    lines = (found or "").splitlines()
    if len(lines) != 2:
        return dict.fromkeys(effects)
    prefix, head = lines

    def in_repo(paths: list[Path]) -> list[PurePosixPath]:  # as git names them
        here = os.path.abspath(cwd)
        return [
            PurePosixPath(os.path.normpath(prefix + os.path.relpath(os.path.abspath(p), here)))
            for p in paths
        ]

    named = {key: (in_repo(inputs), in_repo(exclude)) for key, (inputs, exclude) in effects.items()}
    spec = dict.fromkeys(str(p) for inputs, _ in effects.values() for p in inputs)
    spec.update(dict.fromkeys(f":(exclude){p}" for _, ex in effects.values() for p in ex))
    status = _git(
        cwd, "status", "--porcelain", "-z", "--untracked-files=all", "--", *spec, strip=False
    )
    if status is None:
        return dict.fromkeys(effects)
    dirty = uncommitted([PurePosixPath(p) for p in porcelain_paths(status)], named)
    return {key: None if key in dirty else head for key in effects}


def porcelain_paths(status: str) -> list[str]:
    """The paths `git status --porcelain -z` names (both sides of a rename or copy)."""
    fields = status.split("\0")
    paths: list[str] = []
    i = 0
    while i < len(fields):
        entry = fields[i]
        i += 1
        if len(entry) < 4:
            continue
        paths.append(entry[3:])
        if set(entry[:2]) & {"R", "C"}:  # the path it came from follows
            paths.append(fields[i])
            i += 1
    return paths


def uncommitted(
    changed: list[PurePosixPath],
    effects: Mapping[K, tuple[list[PurePosixPath], list[PurePosixPath]]],
) -> set[K]:
    """The effects with a changed path under their inputs and not under their exclusions
    (each path's ancestors are looked up, so the cost is the changed paths', not their
    product with the effects')."""
    owners: dict[PurePosixPath, list[K]] = {}
    for key, (inputs, _) in effects.items():
        for root in inputs:
            owners.setdefault(root, []).append(key)
    dirty: set[K] = set()
    for path in changed:
        for ancestor in (path, *path.parents):
            for key in owners.get(ancestor, ()):
                if key not in dirty and not any(path.is_relative_to(x) for x in effects[key][1]):
                    dirty.add(key)
    return dirty

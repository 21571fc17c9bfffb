"""A revision materialised in a temporary git worktree, its DVC-tracked media checked out from
the project's cache (or pulled from its remote): what `wanbuild reproduce` rebuilds from."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from wanbuild.errors import WanbuildError
from wanbuild.versioning.revisions import dvc_outs


def _run(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    return subprocess.run(
        list(argv), cwd=cwd, env=env, capture_output=True, text=True, timeout=1800, check=False
    )


@contextmanager
def materialized(root: Path, rev: str, paths: list[str]) -> Iterator[Path]:
    """The tree of `rev` in a temporary worktree, with the DVC-tracked data under `paths`
    checked out (from the project's cache, else pulled from its remote)."""
    with tempfile.TemporaryDirectory(prefix="wanbuild-rev-") as tmp:
        tree = Path(tmp) / "tree"
        added = _run(root, "git", "worktree", "add", "--detach", "--quiet", str(tree), rev)
        if added.returncode != 0:
            raise WanbuildError(f"git worktree add {rev}: {added.stderr.strip()}")
        try:
            if (root / ".dvc").is_dir():
                _checkout_data(root, tree, rev, paths)
            yield tree
        finally:
            _run(root, "git", "worktree", "remove", "--force", str(tree))


def _checkout_data(root: Path, tree: Path, rev: str, paths: list[str]) -> None:
    cache = root / ".dvc" / "cache"
    (tree / ".dvc" / "config.local").write_text(f"[cache]\n    dir = {cache}\n", encoding="utf-8")
    targets = [str(p) for p in sorted(tree.glob("effects/*/*.dvc")) if _under(p, tree, paths)]
    targets += _stage_outs(tree, paths)  # media made by a pipeline stage (dvc.lock)
    if not targets:
        return
    dvc = [sys.executable, "-m", "dvc"]
    if _run(tree, *dvc, "checkout", "--quiet", *targets).returncode == 0:
        return
    pulled = _run(tree, *dvc, "pull", "--quiet", *targets)
    if pulled.returncode != 0:
        reason = (pulled.stderr or pulled.stdout).strip().splitlines()
        raise WanbuildError(
            f"the media at {rev[:12]} are not retrievable: neither the DVC cache nor the remote "
            f"has them ({reason[-1] if reason else 'dvc pull failed'}); "
            "`dvc push` them from a machine that has them"
        )


def _stage_outs(tree: Path, paths: list[str]) -> list[str]:
    try:
        lock = yaml.safe_load((tree / "dvc.lock").read_text(encoding="utf-8"))
    except OSError:
        return []
    outs = [str(o.get("path")) for o in dvc_outs(lock)]
    return [o for o in outs if _under(tree / o, tree, paths) and not o.startswith("build/")]


def _under(path: Path, tree: Path, paths: list[str]) -> bool:
    rel = path.relative_to(tree).as_posix()
    return any(rel.startswith(p.rstrip("/") + "/") for p in paths)

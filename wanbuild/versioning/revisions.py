"""Effects as a git revision holds them, and their media as DVC recorded them. Read only.

A revision's effect.yaml, samples.yaml and conf/ are exported from git into a temporary
directory (no checkout, no media). Media content hashes come from DVC's records at that
revision (`*.dvc` files and dvc.lock) and, for a directory, its `.dir` listing in the local DVC
cache; they are DVC's md5s, which the working tree's files are hashed with too, so the two
sides compare. Nothing here needs the media themselves.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from wanbuild.errors import WanbuildError


def _git(cwd: Path, *argv: str, binary: bool = False) -> Any:
    try:
        proc = subprocess.run(["git", *argv], cwd=cwd, capture_output=True, timeout=60, check=False)
    except OSError as e:
        raise WanbuildError(f"git is needed to compare revisions: {e}") from None
    if proc.returncode != 0:
        raise WanbuildError(f"git {' '.join(argv)}: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout if binary else proc.stdout.decode()


def resolve(cwd: Path, rev: str) -> str:
    return str(_git(cwd, "rev-parse", "--verify", f"{rev}^{{commit}}")).strip()


def default_base(cwd: Path) -> str:
    """The merge-base of HEAD with the default branch (origin's HEAD, else main or master)."""
    for ref in ("refs/remotes/origin/HEAD", "refs/remotes/origin/main", "main", "master"):
        try:
            branch = str(_git(cwd, "rev-parse", "--verify", "--quiet", ref)).strip()
        except WanbuildError:
            continue
        if branch:
            return str(_git(cwd, "merge-base", "HEAD", branch)).strip()
    raise WanbuildError("no default branch (main, master or origin/HEAD): name BASE explicitly")


def effect_names(cwd: Path, rev: str) -> list[str]:
    listed = str(_git(cwd, "ls-tree", "-r", "--name-only", rev, "--", "effects")).splitlines()
    return sorted(
        {PurePosixPath(p).parts[1] for p in listed if PurePosixPath(p).name == "effect.yaml"}
    )


def export(cwd: Path, rev: str, paths: list[str], dest: Path) -> None:
    """Write `paths` as they are at `rev` under `dest` (those that exist there)."""
    present = [p for p in paths if str(_git(cwd, "ls-tree", "--name-only", rev, "--", p)).strip()]
    if not present:
        return
    data = _git(cwd, "archive", "--format=tar", rev, "--", *present, binary=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dest, filter="data")


def show(cwd: Path, rev: str, path: str) -> str | None:
    try:
        return str(_git(cwd, "show", f"{rev}:{path}"))
    except WanbuildError:
        return None


def dvc_outs(doc: Any) -> list[dict[str, Any]]:
    """Every `outs` entry of a .dvc file or of dvc.lock (whose stages carry them)."""
    if not isinstance(doc, dict):
        return []
    found = [o for o in doc.get("outs") or [] if isinstance(o, dict)]
    for stage in (doc.get("stages") or {}).values():
        if isinstance(stage, dict):
            found += [o for o in stage.get("outs") or [] if isinstance(o, dict)]
    return found


def _local_remotes(cwd: Path) -> list[Path]:
    """Local-directory DVC remotes named in .dvc/config (their layout is the cache's)."""
    try:
        text = (cwd / ".dvc" / "config").read_text(encoding="utf-8")
    except OSError:
        return []
    found, section = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("["):
            section = line
        elif section.startswith(("['remote", "[remote")):
            key, _, value = line.partition("=")
            url = value.strip()
            if key.strip() == "url" and url and "://" not in url:
                found.append(Path(url) if Path(url).is_absolute() else cwd / ".dvc" / url)
    return found


def dir_listing(cwd: Path, md5: str) -> dict[str, str] | None:
    h = md5.removesuffix(".dir")
    stores = [cwd / ".dvc/cache", *_local_remotes(cwd)]
    for cache in (p for s in stores for p in (s / "files" / "md5", s)):
        path = cache / h[:2] / f"{h[2:]}.dir"
        if path.is_file():
            entries = json.loads(path.read_text(encoding="utf-8"))
            return {str(e["relpath"]): str(e["md5"]) for e in entries}
    return None


def media_hashes(cwd: Path, rev: str, effect_dir: str) -> dict[str, str] | None:
    """{path relative to the effect: md5} for the media DVC tracked under `effect_dir` at
    `rev`; None when a directory's listing is not in the local DVC cache (`dvc fetch`)."""
    records: list[dict[str, Any]] = []
    base = PurePosixPath(effect_dir)
    listed = str(_git(cwd, "ls-tree", "-r", "--name-only", rev, "--", effect_dir)).splitlines()
    for p in listed:
        if p.endswith(".dvc"):
            for out in dvc_outs(yaml.safe_load(show(cwd, rev, p) or "")):
                records.append({**out, "path": str(PurePosixPath(p).parent / str(out["path"]))})
    lock = show(cwd, rev, "dvc.lock")
    if lock:
        records += dvc_outs(yaml.safe_load(lock))
    hashes: dict[str, str] = {}
    for out in records:
        path = PurePosixPath(str(out.get("path", "")))
        if base not in (path, *path.parents) or "md5" not in out:
            continue
        rel = path.relative_to(base)
        md5 = str(out["md5"])
        if md5.endswith(".dir"):
            listing = dir_listing(cwd, md5)
            if listing is None:
                return None
            hashes.update({str(rel / k): v for k, v in listing.items()})
        else:
            hashes[str(rel)] = md5
    return hashes


def file_md5(path: Path) -> str | None:
    """DVC's hash of a working-tree file (md5 of its bytes); None if it is not there."""
    try:
        h = hashlib.md5()
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        return h.hexdigest()
    except OSError:
        return None


def stale_media(effect_dir: Path, project: Path) -> list[str]:
    """Media that differ from their .dvc record in the working tree: files added or removed
    since `dvc add`, or changed after it (only files newer than the record are hashed). Empty
    when nothing is DVC-tracked here or the record's listing is not in the cache."""
    stale: list[str] = []
    for record in sorted(effect_dir.glob("*.dvc")):
        try:
            outs = dvc_outs(yaml.safe_load(record.read_text(encoding="utf-8")))
        except (OSError, yaml.YAMLError):
            continue
        recorded_at = record.stat().st_mtime
        for out in outs:
            md5, root = str(out.get("md5") or ""), record.parent / str(out.get("path", ""))
            if not md5.endswith(".dir") or not root.is_dir():
                continue
            listing = dir_listing(project, md5)
            if listing is None:
                continue
            on_disk = {
                p.relative_to(root).as_posix(): p
                for p in root.rglob("*")
                if p.is_file() and not p.name.startswith(".")
            }
            for rel in sorted(set(on_disk) | set(listing)):
                path = on_disk.get(rel)
                if (
                    path is None
                    or rel not in listing
                    or (path.stat().st_mtime > recorded_at and file_md5(path) != listing[rel])
                ):
                    stale.append(f"{root.name}/{rel}")
    return stale

"""A plan's desired state, remembered until one of its inputs changes (keyed like make/DVC).

The key is the stat (size, mtime, inode) of every input: effect.yaml, samples.yaml, every file
under the effect directory (media, .dvc records; wanbuild.lock aside), every file of conf/, plus
the overrides and wanbuild's version. While the key holds, a plan of the effect costs those
stat() calls and one small JSON read: no compose, no YAML, no media opened. Any change to any
input misses, and the effect is composed, checked and planned afresh.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from wanbuild.config.load import LoadedEffect, display
from wanbuild.core.fingerprint import digest
from wanbuild.spec.effect import Effect
from wanbuild.spec.state import Desired, DesiredZip
from wanbuild.store import FIT_VERSION, Store

FORMAT = 1
_SKIP = {"wanbuild.lock"}


def _stats(paths: list[Path]) -> list[tuple[str, int, int, int]]:
    out = []
    for p in paths:
        try:
            st = p.stat()
        except OSError:
            out.append((str(p), -1, 0, 0))
            continue
        out.append((str(p), st.st_size, st.st_mtime_ns, st.st_ino))
    return out


def _walk(root: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += [Path(dirpath, f) for f in sorted(filenames) if f not in _SKIP]
    return found


def key(effect_dir: Path, conf_dir: Path, build_dir: Path, overrides: list[str]) -> str:
    from wanbuild import __version__

    inputs = _walk(effect_dir) + _walk(conf_dir) + _walk(build_dir)
    return digest(
        {
            "format": FORMAT,
            "wanbuild": __version__,
            "fit": FIT_VERSION,
            "overrides": overrides,
            "stats": _stats(inputs),
        }
    )


def _path(store: Store, effect_dir: Path) -> Path:
    return store.root / "cache" / "plan" / f"{effect_dir.resolve().name}.json"


def load(
    store: Store, effect_dir: Path, stat_key: str, project: Path, conf_dir: Path
) -> tuple[LoadedEffect, Desired] | None:
    try:
        doc = json.loads(_path(store, effect_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("key") != stat_key:
        return None
    try:
        effect = Effect.model_validate(doc["effect"])
        d = dict(doc["desired"])
        d["zips"] = tuple(DesiredZip(**z) for z in d["zips"])
        d["fitted"] = tuple(d["fitted"])
        desired = Desired(**d)
    except (KeyError, TypeError, ValueError):
        return None
    effect_dir = effect.directory
    loaded = LoadedEffect(
        effect,
        conf_dir,
        display(effect_dir / "effect.yaml"),
        display(effect_dir / "samples.yaml"),
        project,
    )
    return loaded, desired


def save(store: Store, stat_key: str, loaded: LoadedEffect, desired: Desired) -> None:
    doc: dict[str, Any] = {
        "key": stat_key,
        "effect": loaded.effect.model_dump(mode="json"),
        "desired": dataclasses.asdict(desired),
    }
    path = _path(store, loaded.effect.directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc), encoding="utf-8")
    os.replace(tmp, path)

"""A plan's desired state, remembered until one of its inputs changes (keyed like make/DVC).

The key is the stat (size, mtime, inode) of every input: effect.yaml, samples.yaml, every file
under the effect directory (media, .dvc records; wanbuild.lock aside), every file of conf/, the
built zips, plus the overrides, the working directory and wanbuild's version. While the key
holds, a plan of the effect costs those stat() calls and one small JSON read: no compose, no
YAML, no media opened, no model validated. Any change to any input misses, and the effect is
composed, checked and planned afresh.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wanbuild.core.fingerprint import digest
from wanbuild.core.target import target_spec
from wanbuild.dataset.statwalk import tree_digest
from wanbuild.spec.endpoint import Backend, Region
from wanbuild.spec.state import Desired, DesiredZip, TargetSpec

if TYPE_CHECKING:
    from wanbuild.config.load import LoadedEffect

FORMAT = 4


class StatKeys:
    """The stat keys of one run. conf/ is walked once however many effects share it (a run is
    short; anything edited during it is seen by the next run)."""

    def __init__(self, overrides: list[str]) -> None:
        from wanbuild import __version__
        from wanbuild.store import FIT_VERSION

        self._fixed = digest(
            {
                "format": FORMAT,
                "wanbuild": __version__,
                "fit": FIT_VERSION,
                "overrides": overrides,
                "cwd": os.getcwd(),  # paths are kept as the user reads them, relative to it
            }
        )
        self._conf: dict[str, str] = {}

    def key(self, effect_dir: Path, conf_dir: Path, build_dir: Path) -> str:
        """The key of one effect, its paths given resolved (as every caller has them)."""
        conf = str(conf_dir)
        if conf not in self._conf:
            self._conf[conf] = tree_digest(conf)
        parts = (self._fixed, tree_digest(effect_dir), self._conf[conf], tree_digest(build_dir))
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class Planned:
    """What a plan needs of an effect, without composing it: where it talks (backend and
    region), its target and its desired state."""

    backend: Backend
    region: Region
    spec: TargetSpec
    desired: Desired


def planned(loaded: LoadedEffect, desired: Desired) -> Planned:
    e = loaded.effect
    return Planned(e.backend, e.region, target_spec(e), desired)


def _path(store_root: Path, effect_dir: Path) -> Path:
    return store_root / "cache" / "plan" / f"{effect_dir.name}.json"


def load(store_root: Path, effect_dir: Path, stat_key: str) -> Planned | None:
    try:
        doc = json.loads(_path(store_root, effect_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("key") != stat_key:
        return None
    try:
        d = dict(doc["desired"])
        d["zips"] = tuple(DesiredZip(**z) for z in d["zips"])
        d["fitted"] = tuple(d["fitted"])
        # values validated when the effect was composed; a field unknown here is a miss
        return Planned(
            Backend(**doc["backend"]),
            Region(**doc["region"]),
            TargetSpec(**doc["spec"]),
            Desired(**d),
        )
    except (KeyError, TypeError, ValueError):
        return None


def save(store_root: Path, effect_dir: Path, stat_key: str, planned: Planned) -> None:
    doc: dict[str, Any] = {"key": stat_key, **dataclasses.asdict(planned)}
    path = _path(store_root, effect_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc), encoding="utf-8")
    os.replace(tmp, path)

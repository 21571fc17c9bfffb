"""What changed in an effect between two revisions, for a reviewer. Pure.

An EffectView is what one revision declares, compiled: model, trigger, template, resolved
hyperparameters, aigc_config, every sample's compiled prompt and media content hashes, and the
steps and cost figures. diff(before, after) says what changed attribute by attribute, which
samples were added, removed or changed (captions word by word, media by content hash), and the
consequence apply will draw from it: redeploy, export, retrain on the uploaded data, or rebuild
+ upload + retrain.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from wanbuild.core.actions import Impact
from wanbuild.core.manifest import stack_differences

Status = Literal["added", "removed", "changed", "unchanged"]


@dataclass(frozen=True)
class SampleView:
    id: str
    split: str
    prompt: str
    media: tuple[tuple[str, str | None], ...]  # (path relative to the effect, content hash)


@dataclass(frozen=True)
class EffectView:
    name: str
    model: str
    region: str
    kind: str
    trigger: str
    template: str
    hyper_parameters: dict[str, Any]
    aigc_config: dict[str, Any] | None
    checkpoint: str | None
    samples: dict[str, SampleView]
    total_steps: int
    steps_text: str
    cost: str  # "~1,234 CNY (…)" or the figures that drive cost, when no price is documented
    media_known: bool = True  # False: the media's content hashes are not available
    # what fitted the media of its dataset (the build manifest's or the lock's `built_with`)
    built_with: dict[str, str] | None = None


@dataclass(frozen=True)
class Change:
    key: str
    before: str
    after: str


@dataclass(frozen=True)
class SampleChange:
    id: str
    status: Status
    split: str
    caption: tuple[str, str] | None = None  # (before, after) when the compiled prompt changed
    media: tuple[str, ...] = ()  # media paths whose content changed (or were added/removed)


@dataclass(frozen=True)
class EffectDiff:
    name: str
    status: Status
    impact: Impact
    config: tuple[Change, ...] = ()
    template: tuple[str, str] | None = None
    samples: tuple[SampleChange, ...] = ()
    steps: tuple[str, str] = ("", "")
    cost: tuple[str, str] = ("", "")
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {
            "effect": self.name,
            "status": self.status,
            "impact": self.impact.value,
            "config": [c.__dict__ for c in self.config],
            "template": list(self.template) if self.template else None,
            "samples": [
                {
                    "id": s.id,
                    "status": s.status,
                    "split": s.split,
                    "caption": list(s.caption) if s.caption else None,
                    "media": list(s.media),
                }
                for s in self.samples
            ],
            "steps": {"before": self.steps[0], "after": self.steps[1]},
            "cost": {"before": self.cost[0], "after": self.cost[1]},
            "notes": list(self.notes),
        }


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def diff(before: EffectView | None, after: EffectView | None) -> EffectDiff:
    if before is None and after is None:
        raise ValueError("nothing to compare")
    if before is None:
        assert after is not None
        added = tuple(SampleChange(s.id, "added", s.split) for s in after.samples.values())
        return EffectDiff(
            after.name,
            "added",
            Impact.FULL,
            samples=added,
            steps=("-", after.steps_text),
            cost=("-", after.cost),
        )
    if after is None:
        return EffectDiff(
            before.name,
            "removed",
            Impact.NONE,
            steps=(before.steps_text, "-"),
            cost=(before.cost, "-"),
            notes=("removed from the tree: `wanbuild destroy` undeploys what it left live",),
        )
    config: list[Change] = []
    for key in ("model", "region", "kind", "trigger", "checkpoint"):
        a, b = getattr(before, key), getattr(after, key)
        if a != b:
            config.append(Change(key, _text(a), _text(b)))
    hp_keys = sorted(set(before.hyper_parameters) | set(after.hyper_parameters))
    hp_changed = False
    for k in hp_keys:
        a, b = before.hyper_parameters.get(k), after.hyper_parameters.get(k)
        if a != b:
            hp_changed = True
            config.append(Change(f"hyper_parameters.{k}", _text(a), _text(b)))
    aigc_changed = before.aigc_config != after.aigc_config
    for k in sorted(set(before.aigc_config or {}) | set(after.aigc_config or {})):
        a, b = (before.aigc_config or {}).get(k), (after.aigc_config or {}).get(k)
        if a != b:
            config.append(Change(f"deploy.aigc_config.{k}", _text(a), _text(b)))
    template = (before.template, after.template) if before.template != after.template else None
    samples = _sample_changes(before, after)
    notes = []
    if not (before.media_known and after.media_known):
        notes.append(
            "media were compared by path only: DVC's listing of a media directory is not in "
            "the local cache (`dvc fetch` the revision's data to compare content)"
        )
    if before.built_with and after.built_with:
        moved = stack_differences(after.built_with, before.built_with, ("after", "before"))
        if moved:
            notes.append(
                f"the media are fitted by other libraries ({'; '.join(moved[:4])}): the same "
                "clips can fit to other bytes, another dataset fingerprint and a retrain; "
                "install the locked set (`pip install -e . -c .ci/constraints.txt`)"
            )
    dataset = bool(samples) or any(c.key in ("model", "region", "kind") for c in config)
    if dataset:
        impact = Impact.FULL
    elif hp_changed:
        impact = Impact.RETRAIN
    elif before.checkpoint != after.checkpoint and after.checkpoint:
        impact = Impact.EXPORT
    elif aigc_changed or before.checkpoint != after.checkpoint:
        impact = Impact.REDEPLOY
    else:
        impact = Impact.NONE
    changed = bool(config or template or samples)
    return EffectDiff(
        after.name,
        "changed" if changed else "unchanged",
        impact,
        tuple(config),
        template,
        tuple(samples),
        (before.steps_text, after.steps_text),
        (before.cost, after.cost),
        tuple(notes),
    )


def _sample_changes(before: EffectView, after: EffectView) -> list[SampleChange]:
    out: list[SampleChange] = []
    for sid, b in after.samples.items():
        a = before.samples.get(sid)
        if a is None:
            out.append(SampleChange(sid, "added", b.split, media=tuple(p for p, _ in b.media)))
            continue
        caption = (a.prompt, b.prompt) if a.prompt != b.prompt else None
        old = dict(a.media)
        media = tuple(
            p
            for p, h in b.media
            if p not in old or (h is not None and old[p] is not None and h != old[p])
        ) + tuple(p for p in old if p not in dict(b.media))
        if caption or media or a.split != b.split:
            out.append(SampleChange(sid, "changed", b.split, caption, media))
    for sid, a in before.samples.items():
        if sid not in after.samples:
            out.append(SampleChange(sid, "removed", a.split))
    return out


def word_diff(before: str, after: str) -> list[tuple[str, str]]:
    """[(op, words)] with op one of "=", "-", "+": the words kept, removed and added."""
    a, b = before.split(), after.split()
    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(("=", " ".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(("-", " ".join(a[i1:i2])))
        if j2 > j1:
            out.append(("+", " ".join(b[j1:j2])))
    return out

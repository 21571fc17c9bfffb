"""`wanbuild diff [BASE [HEAD]]`: what changed in each effect between two revisions, and what
apply will make of it. BASE defaults to the merge-base with the default branch, HEAD to the
working tree. Reads git and DVC records only, so no media are needed for the list; where the
media of added or changed samples are at hand, a contact sheet of them is drawn."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TextIO

from wanbuild.config.load import display, find_conf_dir, load_effect, project_root
from wanbuild.core.estimate import estimate
from wanbuild.core.manifest import recorded_built_with
from wanbuild.core.prompts import compile_effect
from wanbuild.core.review import EffectDiff, EffectView, SampleView, diff
from wanbuild.core.review_render import render_json, render_markdown, render_text
from wanbuild.errors import EXIT_CHANGES, EXIT_OK, WanbuildError
from wanbuild.media.probe import media_key, media_path
from wanbuild.media.sheet import SheetRow, contact_sheet
from wanbuild.reconcile.lockfile import LOCK_NAME, last_built_with
from wanbuild.spec.effect import Effect
from wanbuild.versioning import revisions

MEDIA_KEYS = ("first_frame", "last_frame", "video", "image", "input_image")


def diff_command(
    revs: list[str],
    only: list[str],
    out: TextIO,
    *,
    fmt: str,
    sheets_dir: Path | None,
) -> int:
    if len(revs) > 2:
        raise WanbuildError(f"diff takes at most two revisions: {' '.join(revs)}")
    root = project_root(Path.cwd())
    base = revisions.resolve(root, revs[0]) if revs else revisions.default_base(root)
    head = revisions.resolve(root, revs[1]) if len(revs) == 2 else None
    names = set(revisions.effect_names(root, base))
    if head is None:
        names |= {p.parent.name for p in (root / "effects").glob("*/effect.yaml")}
    else:
        names |= set(revisions.effect_names(root, head))
    if only:
        names &= set(only)
    diffs: list[EffectDiff] = []
    sheets: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="wanbuild-diff-") as tmp:
        for name in sorted(names):
            before = _view_at(root, base, name, Path(tmp) / "base")
            after = _view_at(root, head, name, Path(tmp) / "head")
            d = diff(before, after)
            diffs.append(d)
            if head is None and after is not None and d.samples:
                sheet = _sheet(root, name, d, after, sheets_dir or root / ".wanbuild" / "diff")
                if sheet is not None:
                    sheets[name] = display(sheet)
    base_text, head_text = base[:12], head[:12] if head else "working tree"
    if fmt == "json":
        out.write(render_json(diffs, base_text, head_text, sheets))
    elif fmt == "markdown":
        out.write(render_markdown(diffs, base_text, head_text, sheets))
    else:
        out.write(render_text(diffs, base_text, head_text))
        for name, path in sheets.items():
            out.write(f"contact sheet of {name}: {path}\n")
    return EXIT_CHANGES if any(d.status != "unchanged" for d in diffs) else EXIT_OK


def _view_at(root: Path, rev: str | None, name: str, tmp: Path) -> EffectView | None:
    rel = f"effects/{name}"
    if rev is None:
        effect_dir = root / rel
        if not (effect_dir / "effect.yaml").is_file():
            return None
        effect = load_effect(effect_dir, []).effect
        hashes = {p: revisions.file_md5(media_path(effect_dir, p)) for p in _media_paths(effect)}
        known = all(h is not None for h in hashes.values())
        # what this machine's build fitted the media with, else what the lock records
        built = _manifest_built_with(root / "build" / name / "manifest.json")
        return _view(effect, hashes, known, built or last_built_with(effect_dir / LOCK_NAME))
    revisions.export(root, rev, [rel, "conf"], tmp)
    effect_dir = tmp / rel
    if not (effect_dir / "effect.yaml").is_file():
        return None
    conf = tmp / "conf" if (tmp / "conf/config.yaml").is_file() else find_conf_dir(root)
    effect = load_effect(effect_dir, [], conf_dir=conf).effect
    recorded = revisions.media_hashes(root, rev, rel)
    hashes = {p: (recorded or {}).get(media_key(p)) for p in _media_paths(effect)}
    return _view(effect, hashes, recorded is not None, last_built_with(effect_dir / LOCK_NAME))


def _manifest_built_with(path: Path) -> dict[str, str] | None:
    try:
        return recorded_built_with(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def _media_paths(effect: Effect) -> list[str]:
    return [
        str(getattr(s, k))
        for s in (*effect.samples.train, *effect.samples.validation)
        for k in MEDIA_KEYS
        if getattr(s, k)
    ]


def _view(
    effect: Effect,
    hashes: dict[str, str | None],
    known: bool,
    built_with: dict[str, str] | None = None,
) -> EffectView:
    compiled = compile_effect(effect)
    by_id = {s.id: s for s in (*effect.samples.train, *effect.samples.validation)}

    def media(sample_id: str) -> tuple[tuple[str, str | None], ...]:
        paths = [str(getattr(by_id[sample_id], k) or "") for k in MEDIA_KEYS]
        return tuple((p, hashes.get(p)) for p in paths if p)

    samples = {
        p.sample_id: SampleView(p.sample_id, p.split, p.prompt, media(p.sample_id))
        for p in (*compiled.train, *compiled.validation)
    }
    est = estimate(effect)
    aigc = compiled.aigc_config.model_dump() if compiled.aigc_config else None
    return EffectView(
        name=effect.name,
        model=effect.model.name,
        region=effect.region.name,
        kind=effect.kind,
        trigger=effect.trigger,
        template=effect.effect,
        hyper_parameters=dict(effect.hyper_parameters),
        aigc_config=aigc,
        checkpoint=effect.deploy.checkpoint,
        samples=samples,
        total_steps=est.total_steps,
        steps_text=est.steps_text,
        cost=est.cost_text,
        media_known=known,
        built_with=built_with,
    )


def _sheet(root: Path, name: str, d: EffectDiff, after: EffectView, where: Path) -> Path | None:
    rows = []
    for s in d.samples:
        if s.status == "removed":
            continue
        view = after.samples[s.id]
        found = (media_path(root / "effects" / name, p) for p, _ in view.media)
        files = tuple(f for f in found if f.is_file())
        if files:
            rows.append(SheetRow(f"{s.status} {s.id} ({s.split})", view.prompt, files))
    if not rows:
        return None
    return contact_sheet(rows, where / f"{name}.png")

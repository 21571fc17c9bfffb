"""Build an effect's dataset: the zips the service documents, fitted media, a manifest.

    preflight (lint, strict or not) -> plan entries (names, fits, hashes; no media read when the
    hash cache is warm) -> fingerprint -> up to date? -> fit media (cached by content) ->
    data.jsonl (JSON Schema per kind and split) -> zips (deterministic, streamed) -> manifest

Nothing is written when the effect has errors; zips and the manifest are renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from wanbuild.config.load import LoadedEffect, display
from wanbuild.core import layout
from wanbuild.core.findings import Finding, has_errors
from wanbuild.core.fitting import fit_media
from wanbuild.core.manifest import Entry, ZipSpec, fingerprint, manifest, recorded_built_with
from wanbuild.core.prompts import compile_effect
from wanbuild.dataset.preflight import preflight
from wanbuild.errors import WanbuildError
from wanbuild.media.display import cut_frame
from wanbuild.media.fit import fit_file
from wanbuild.media.probe import media_path, probe_media_facts
from wanbuild.media.stack import built_with, stack_key
from wanbuild.spec.effect import Effect
from wanbuild.spec.kinds import SAMPLE_MEDIA, from_clip
from wanbuild.spec.media import MediaFacts
from wanbuild.store import Store
from wanbuild.store.archive import Source, write_zip
from wanbuild.store.hashcache import HashCache

MANIFEST = "manifest.json"
# Zip overhead per entry (local header + central directory, both with the name, plus zip64
# room); used to refuse an over-limit zip before writing it.
_ENTRY_OVERHEAD = 30 + 46 + 32


class BuildRefused(WanbuildError):
    """The effect has lint errors: nothing was built."""

    def __init__(self, findings: list[Finding]) -> None:
        super().__init__(f"{sum(f.severity == 'error' for f in findings)} error(s); nothing built")
        self.findings = findings


@dataclass
class Built:
    effect: str
    out_dir: Path
    fingerprint: str
    up_to_date: bool
    zips: dict[str, tuple[Path, str, int, int]] = field(default_factory=dict)
    fitted: list[tuple[str, str]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    written: bool = True  # False: a plan's view, the zips are not on disk yet
    # the libraries that fitted the media (media.stack): this process's, or the manifest's
    # when the zips on disk are up to date (None: a manifest written before it was recorded)
    built_with: dict[str, str] | None = None


@dataclass(frozen=True)
class _Planned:
    spec: ZipSpec
    sources: dict[str, Source]


def _ignore_in_git(build_root: Path) -> None:
    """build/ holds generated zips (versioned by DVC, never by git): one .gitignore for all
    effects, so that `git add -A` after `wanbuild build` commits none of them."""
    ignore = build_root / ".gitignore"
    build_root.mkdir(parents=True, exist_ok=True)
    lines = ignore.read_text(encoding="utf-8").splitlines() if ignore.exists() else []
    if "*" not in lines:  # DVC may add its own entries to the same file: kept
        ignore.write_text("\n".join(["*", *lines]) + "\n", encoding="utf-8")


def build_effect(
    loaded: LoadedEffect,
    store: Store,
    *,
    out_root: Path | None = None,
    strict: bool = False,
    report: Callable[[str], None] = lambda _line: None,
    write: bool = True,
) -> Built:
    """Check, fit and (with `write`) write the effect's zips. Without `write` (a plan) nothing
    is written: the fingerprint comes from the planned entries, and zips that are not built
    yet are given with their estimated size and no hash (`Built.written` is False)."""
    effect = loaded.effect
    checked = preflight(loaded, strict=strict, store=store)
    if has_errors(checked.findings):
        raise BuildRefused(checked.findings)
    out_dir = (out_root or loaded.project / "build") / effect.name
    with store.hash_cache() as cache:
        planned = _plan(effect, checked.probes, cache, store, report)
        specs = tuple(p.spec for p in planned)
        fp = fingerprint(effect.kind, specs)
        result = Built(effect.name, out_dir, fp, False, findings=checked.findings)
        result.built_with = built_with()
        result.fitted = [(e.source or e.name, e.fit) for s in specs for e in s.entries if e.fit]
        if _up_to_date(out_dir, fp, cache, result):
            result.up_to_date = True
            return result
        _check_limits(effect, loaded.samples_file, specs)
        if not write:
            for p in planned:
                size = sum(e.size for e in p.spec.entries)
                result.zips[p.spec.split] = (out_dir / p.spec.file, "", size, len(p.spec.entries))
            result.written = False
            return result
        _ignore_in_git(out_dir.parent)
        zip_files: dict[str, tuple[str, int]] = {}
        for p in planned:
            path = out_dir / p.spec.file
            sha256 = write_zip(path, p.sources)
            cache.remember(path, sha256)
            zip_files[p.spec.split] = (sha256, path.stat().st_size)
            result.zips[p.spec.split] = (path, *zip_files[p.spec.split], len(p.spec.entries))
        for stale in set(layout.ZIP_NAMES.values()) - {p.spec.file for p in planned}:
            (out_dir / stale).unlink(missing_ok=True)
        doc = manifest(
            effect=effect.name,
            kind=effect.kind,
            model=effect.model.name,
            region=effect.region.name,
            zips=specs,
            zip_files=zip_files,
            fingerprint=fp,
            built_with=result.built_with,
        )
        _write_json(out_dir / MANIFEST, doc)
    return result


def _plan(
    effect: Effect,
    probes: dict[Any, Any],
    cache: HashCache,
    store: Store,
    report: Callable[[str], None],
) -> list[_Planned]:
    compiled = compile_effect(effect)
    planned: list[_Planned] = []
    splits = [("train", effect.samples.train, compiled.train)]
    if effect.samples.validation:
        splits.append(("validation", effect.samples.validation, compiled.validation))
    for split, samples, prompts in splits:
        entries: list[Entry] = []
        sources: dict[str, Source] = {}
        lines = []
        for i, (sample, prompt) in enumerate(zip(samples, prompts, strict=True)):
            names: dict[str, str] = {}
            for key in SAMPLE_MEDIA[(effect.kind, split)].allowed:
                rel = getattr(sample, key)
                src = None
                if rel is None and from_clip(effect.kind, split, key, sample):
                    video = probes[(split, i, "video")]
                    assert isinstance(video, MediaFacts)
                    clip_rel = str(sample.video)
                    rel, src = _cut(effect, clip_rel, key, video, cache, store, report)
                    facts: MediaFacts = probe_media_facts(src, "image")
                elif rel is None:
                    continue
                else:
                    found = probes[(split, i, key)]
                    assert isinstance(found, MediaFacts)
                    facts = found
                name, path, entry = _media_entry(
                    effect, sample.id, key, rel, facts, cache, store, src
                )
                if entry.fit:
                    report(f"{display(media_path(effect.directory, rel))}: {entry.fit}")
                names[key] = name
                sources[name] = path
                entries.append(entry)
            lines.append(layout.jsonl_line(effect.kind, prompt.prompt, names))
        jsonl = _checked_jsonl(effect, split, lines, set(sources))
        sources[layout.JSONL] = jsonl
        entries.append(Entry(layout.JSONL, len(jsonl), hashlib.sha256(jsonl).hexdigest()))
        planned.append(_Planned(ZipSpec(split, layout.ZIP_NAMES[split], tuple(entries)), sources))
    return planned


def _media_entry(
    effect: Effect,
    sample_id: str,
    key: str,
    rel: str,
    facts: MediaFacts,
    cache: HashCache,
    store: Store,
    src: Path | None = None,
) -> tuple[str, Path, Entry]:
    """`src`: where the file is when it is not at `rel` (a frame cut from a clip)."""
    limits = effect.limits
    assert limits is not None  # preflight reports a model not offered in the region
    fit = fit_media(facts, limits.image, limits.video)
    assert fit is not None
    src = src or media_path(effect.directory, rel)
    src_sha = cache.sha256(src)
    name = layout.entry_name(effect.kind, sample_id, key, fit.ext)
    if not fit.needed:
        return name, src, Entry(name, src.stat().st_size, src_sha, rel, src_sha)
    target = store.fitted_path(src_sha, fit, stack_key())
    if not target.exists():
        fit_file(src, target, fit)
        _check_fitted(effect, rel, target, fit)
    entry = Entry(name, target.stat().st_size, cache.sha256(target), rel, src_sha, fit.describe())
    return name, target, entry


def _cut(
    effect: Effect,
    video_rel: str,
    key: str,
    video: MediaFacts,
    cache: HashCache,
    store: Store,
    report: Callable[[str], None],
) -> tuple[str, Path]:
    """(how the entry names its source, the file): `key` cut from the sample's clip as a
    player shows it, made once per clip, frame and trim (content-addressed)."""
    limits = effect.limits
    assert limits is not None
    which = "first" if key == "first_frame" else "last"
    trim: float | None = None
    if which == "last" and limits.video is not None:
        video_fit = fit_media(video, limits.image, limits.video)
        trim = video_fit.trim_to_s if video_fit is not None else None
    src = media_path(effect.directory, video_rel)
    target = store.cut_frame_path(cache.sha256(src), which, trim, stack_key())
    if not target.exists():
        try:
            cut_frame(src, target, which, trim)
        except (ValueError, OSError) as e:
            raise WanbuildError(f"{video_rel}: cannot cut its {which} frame ({e})") from None
        what = f"{which} frame" + (f" at the {trim:g} s trim" if trim is not None else "")
        report(f"{display(src)}: {key} cut from the clip ({what}, as a player shows it)")
    return f"{video_rel}#{key}", target


def _check_fitted(effect: Effect, rel: str, target: Path, fit: Any) -> None:
    """The fitted file must itself need no further fitting; else nothing is built from it."""
    limits = effect.limits
    assert limits is not None
    facts = probe_media_facts(target, fit.type)
    again = fit_media(facts, limits.image, limits.video)
    if again is not None and again.needed:
        target.unlink(missing_ok=True)
        raise WanbuildError(f"{rel}: fitting it left {again.describe()}; fit it yourself")


def _checked_jsonl(
    effect: Effect, split: str, lines: list[dict[str, Any]], names: set[str]
) -> bytes:
    schema = layout.jsonl_schema(effect.kind, split)
    validator = jsonschema.Draft202012Validator(schema)
    for n, line in enumerate(lines, 1):
        for err in validator.iter_errors(line):
            raise WanbuildError(
                f"{effect.name}: {split} data.jsonl line {n}: {err.message} "
                "(a bug in wanbuild's layout; please report it)"
            )
        for value in line.values():
            if value is not line["prompt"] and value.removeprefix("./") not in names:
                raise WanbuildError(
                    f"{effect.name}: {split} data.jsonl line {n} names "
                    f"{value!r}, which is not in the zip"
                )
    data = layout.encode_jsonl(lines)
    limits = effect.limits
    if limits is not None and len(data) > limits.max_jsonl_bytes:
        raise WanbuildError(
            f"{effect.name}: {split} data.jsonl is {len(data)} bytes, over the "
            f"{limits.max_jsonl_bytes}-byte limit; shorten the captions"
        )
    return data


def _check_limits(effect: Effect, samples_file: str, specs: tuple[ZipSpec, ...]) -> None:
    limits = effect.limits
    assert limits is not None
    for spec in specs:
        size = sum(e.size + _ENTRY_OVERHEAD + 2 * len(e.name) for e in spec.entries) + 22
        if size > limits.max_zip_bytes:
            raise WanbuildError(
                f"{samples_file}: {spec.split}: the zip would be {size / 1_048_576:.1f} MB, over "
                f"the {limits.max_zip_bytes / 1_048_576:.0f} MB upload limit of "
                f"{effect.model.name} in {effect.region.name}; use fewer or smaller media"
            )


def _up_to_date(out_dir: Path, fp: str, cache: HashCache, result: Built) -> bool:
    path = out_dir / MANIFEST
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if doc.get("fingerprint") != fp:
        return False
    for split, z in doc.get("zips", {}).items():
        zip_path = out_dir / z["file"]
        if not zip_path.is_file() or cache.sha256(zip_path) != z["sha256"]:
            return False
        result.zips[split] = (zip_path, z["sha256"], z["size"], len(z["entries"]))
    result.built_with = recorded_built_with(doc)
    return True


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)

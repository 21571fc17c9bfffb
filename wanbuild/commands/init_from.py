"""`wanbuild init effects/NAME --model M --from DIR`: an effect from a folder of clips or images.

One sample per clip (video kinds: its first frame, and kf2v's last frame, are cut from the clip
by build) or per image (t2i; i2i: per pair `X_in.*` + `X_out.*`), in file-name order. Ids are
made from the file names (the region's charset, lower case, unique), every rename said. The
media are copied (or, with --move, moved) into the effect's media/ and tracked by DVC; captions
are placeholders until `wanbuild caption` drafts them. Run on an existing effect, it adds the
files that are not in it yet and never rewrites an entry; --dry-run says what it would do.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from wanbuild.config.places import display, project_root
from wanbuild.core.names import sample_id_from
from wanbuild.errors import ConfigError
from wanbuild.media.probe import probe_path
from wanbuild.spec.kinds import is_video_kind
from wanbuild.spec.media import MediaProblem
from wanbuild.store.hashcache import file_sha256

PLACEHOLDER_WORDS = {"they": "she", "them": "her", "their": "her"}


@dataclass
class Sample:
    sample_id: str
    files: dict[str, Path]  # media key -> source file
    renamed: list[str] = field(default_factory=list)

    def media_name(self, key: str) -> str:
        suffix = self.files[key].suffix.lower()
        tag = (
            {"input_image": "_in", "image": "_out"}.get(key, "")
            if "input_image" in self.files
            else ""
        )
        return f"{self.sample_id}{tag}{suffix}"

    def entry(self, kind: str) -> dict[str, Any]:
        entry: dict[str, Any] = {"id": self.sample_id}
        for key in self.files:
            entry[key] = f"media/{self.media_name(key)}"
        if kind != "i2i":
            entry["subject"] = f"<describe the subject of {self.sample_id}>"
        entry["background"] = f"<describe the background of {self.sample_id}>"
        if is_video_kind(kind):
            entry["words"] = dict(PLACEHOLDER_WORDS)
        return entry


@dataclass
class Scan:
    samples: list[Sample]
    skipped: list[tuple[str, str]]  # (file name, why)


def scan(source: Path, kind: str, taken: set[str], present: dict[str, str]) -> Scan:
    """What `source` holds for an effect of `kind`. `taken`: ids already used (joined);
    `present`: sha256 -> media path of the files the effect has already."""
    if not source.is_dir():
        raise ConfigError(f"--from {display(source)}: no such directory")
    wanted = "video" if is_video_kind(kind) else "image"
    usable: list[Path] = []
    skipped: list[tuple[str, str]] = []
    for path in sorted(source.iterdir(), key=lambda p: (p.name.casefold(), p.name)):
        if path.name.startswith("."):
            continue
        if not path.is_file():
            skipped.append((path.name, "not a file"))
            continue
        found = probe_path(path, wanted)
        if isinstance(found, MediaProblem):
            if found.code == "wrong_type":
                why = f"{found.detail}; {kind} samples are made from {wanted}s"
            else:
                why = "not a media file it can read"
            skipped.append((path.name, why))
            continue
        digest = file_sha256(path)
        if digest in present:
            skipped.append((path.name, f"already in the effect as {present[digest]}"))
            continue
        present[digest] = path.name
        usable.append(path)
    if kind == "i2i":
        return _pairs(usable, taken, skipped)
    key = "video" if wanted == "video" else "image"
    samples = []
    for path in usable:
        sid = sample_id_from(path.name, taken)
        s = Sample(sid, {key: path})
        if sid != path.stem:
            s.renamed.append(path.name)
        samples.append(s)
    return Scan(samples, skipped)


def _pairs(usable: list[Path], taken: set[str], skipped: list[tuple[str, str]]) -> Scan:
    """i2i: `X_in.*` (the input) with `X_out.*` (the target), one sample per pair."""
    by_stem: dict[str, dict[str, Path]] = {}
    for path in usable:
        stem = path.stem
        for tag, key in (("_in", "input_image"), ("_out", "image")):
            if stem.lower().endswith(tag):
                by_stem.setdefault(stem[: -len(tag)], {})[key] = path
                break
        else:
            skipped.append((path.name, "not named X_in.* or X_out.*: i2i samples are pairs"))
    samples = []
    for stem, files in sorted(by_stem.items()):
        if len(files) != 2:
            [(key, lone)] = files.items()
            other = "X_out" if key == "input_image" else "X_in"
            skipped.append((lone.name, f"no {other.replace('X', stem)}.* beside it to pair with"))
            continue
        sid = sample_id_from(stem, taken)
        s = Sample(sid, {"input_image": files["input_image"], "image": files["image"]})
        if sid != stem:
            s.renamed += [p.name for p in files.values()]
        samples.append(s)
    return Scan(samples, skipped)


def existing_media(effect_dir: Path) -> dict[str, str]:
    media = effect_dir / "media"
    if not media.is_dir():
        return {}
    return {file_sha256(p): f"media/{p.name}" for p in sorted(media.iterdir()) if p.is_file()}


def report(found: Scan, source: Path, kind: str, out: TextIO) -> None:
    what = "clips" if is_video_kind(kind) else "images"
    print(
        f"from {display(source)}: {len(found.samples)} new sample(s) of {what}, "
        f"{len(found.skipped)} file(s) skipped",
        file=out,
    )
    for s in found.samples:
        names = ", ".join(f"media/{s.media_name(k)}" for k in s.files)
        note = f" (renamed from {', '.join(repr(n) for n in s.renamed)})" if s.renamed else ""
        print(f"  + {s.sample_id}: {names}{note}", file=out)
    for name, why in found.skipped:
        print(f"  - {name}: skipped, {why}", file=out)


def place(found: Scan, effect_dir: Path, *, move: bool, out: TextIO) -> None:
    media = effect_dir / "media"
    media.mkdir(parents=True, exist_ok=True)
    count = 0
    for s in found.samples:
        for key, src in s.files.items():
            dst = media / s.media_name(key)
            if move:
                shutil.move(str(src), dst)
            else:
                shutil.copy2(src, dst)
            count += 1
    verb = "moved" if move else "copied (--move moves them instead)"
    print(f"{count} file(s) {verb} into {display(media)}", file=out)


def project_of(effect_dir: Path) -> Path:
    return project_root(effect_dir.parent if effect_dir.parent.exists() else Path.cwd())

"""Test helpers: write real effect directories with real media (Pillow, PyAV) into a temp dir."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from wanbuild.media.synth import make_image, make_video

KIND_MODEL = {
    "i2v": ("wan2.2-i2v-flash", "cn-beijing"),
    "kf2v": ("wan2.2-kf2v-flash", "cn-beijing"),
    "t2i": ("wan2.7-image-pro", "cn-beijing"),
    "i2i": ("wan2.7-image-pro", "cn-beijing"),
}
VIDEO_TEMPLATE = (
    "Then the {trigger} money rain effect begins, bills pour down around {them}. "
    "{they} stretches {their} arms upward."
)
IMAGE_TEMPLATE = "Rendered in flat illustration style with clean lines."
SHE = {"they": "she", "them": "her", "their": "her"}
HE = {"they": "he", "them": "him", "their": "his"}


def sample_entry(kind: str, i: int, split: str = "train") -> dict[str, Any]:
    sid = f"s{i:02d}" if split == "train" else f"v{i:02d}"
    entry: dict[str, Any] = {"id": sid}
    if kind == "i2v":
        entry["first_frame"] = f"media/{sid}.jpg"
        if split == "train":
            entry["video"] = f"media/{sid}.mp4"
    elif kind == "kf2v":
        entry["first_frame"] = f"media/{sid}_first.jpg"
        entry["last_frame"] = f"media/{sid}_last.jpg"
        if split == "train":
            entry["video"] = f"media/{sid}.mp4"
    elif kind == "t2i":
        if split == "train":
            entry["image"] = f"media/{sid}.png"
    else:
        entry["input_image"] = f"media/{sid}_in.jpg"
        if split == "train":
            entry["image"] = f"media/{sid}_out.jpg"
    if kind != "i2i":
        entry["subject"] = f"A person number {i} in a grey coat,"
    entry["background"] = f"standing in front of backdrop number {i}."
    if kind in ("i2v", "kf2v"):
        entry["words"] = dict(SHE if i % 2 else HE)
    return entry


def write_media(effect_dir: Path, entry: dict[str, Any], seed: int) -> None:
    for key in ("first_frame", "last_frame", "image", "input_image"):
        if key in entry:
            make_image(effect_dir / entry[key], seed, (128, 96))
    if "video" in entry:
        make_video(effect_dir / entry["video"], seed, (128, 96), seconds=1.0, fps=8)


def write_effect(
    root: Path,
    name: str = "fx",
    kind: str = "i2v",
    *,
    n_train: int = 6,
    n_validation: int = 0,
    effect: dict[str, Any] | None = None,
    media: bool = True,
) -> Path:
    """A valid effect of `kind` with real media; `effect` entries override effect.yaml keys."""
    model, region = KIND_MODEL[kind]
    d = root / "effects" / name
    d.mkdir(parents=True)
    doc: dict[str, Any] = {
        "defaults": ["config", {"override model": model}, {"override region": region}, "_self_"],
        "trigger": "zq7x9k",
        "effect": VIDEO_TEMPLATE if kind in ("i2v", "kf2v") else IMAGE_TEMPLATE,
        "hyper_parameters": {"generation_type": kind} if kind in ("t2i", "i2i") else {},
    }
    doc.update(effect or {})
    (d / "effect.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    train = [sample_entry(kind, i) for i in range(1, n_train + 1)]
    validation = [sample_entry(kind, i, "validation") for i in range(1, n_validation + 1)]
    write_samples(d, train, validation)
    if media:
        for seed, entry in enumerate(train + validation):
            write_media(d, entry, seed)
    return d


def read_samples(effect_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((effect_dir / "samples.yaml").read_text("utf-8"))
    return data


def write_samples(effect_dir: Path, train: list[Any], validation: list[Any] | None = None) -> None:
    doc = {"train": train, "validation": validation or []}
    (effect_dir / "samples.yaml").write_text(
        yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )


def edit_samples(effect_dir: Path, split: str, index: int, **changes: Any) -> None:
    data = read_samples(effect_dir)
    entry = data[split][index]
    for key, value in changes.items():
        if value is None:
            entry.pop(key, None)
        else:
            entry[key] = value
    write_samples(effect_dir, data["train"], data.get("validation"))

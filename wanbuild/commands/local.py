"""`wanbuild local ...`: the local backend's tools.

tiny-model DIR                 a tiny random Wan 2.2 T2V model in the diffusers layout
export-dataset EFFECT DIR      the built dataset for another trainer: DiffSynth-Studio's
                               metadata.csv, or musubi-tuner's dataset.toml + captions
"""

from __future__ import annotations

import csv
import json
import shutil
import zipfile
from pathlib import Path
from typing import TextIO

from wanbuild.config.load import display, load_effect
from wanbuild.errors import EXIT_OK, ConfigError, WanbuildError
from wanbuild.local.extra import INSTALL_HINT
from wanbuild.store import Store


def tiny_model_command(out_dir: Path, out: TextIO, *, seed: int) -> int:
    from wanbuild.local.extra import missing

    if missing():
        raise WanbuildError(f"{', '.join(missing())} not installed: {INSTALL_HINT}")
    if (out_dir / "model_index.json").exists():
        print(f"{display(out_dir)}: a model is there already; left as it is", file=out)
        return EXIT_OK
    from wanbuild.local.tiny import make_tiny_model

    make_tiny_model(out_dir, seed=seed)
    print(f"{display(out_dir)}: a tiny random Wan 2.2 T2V model (diffusers layout)", file=out)
    return EXIT_OK


def export_dataset_command(
    effect_dir: Path, out_dir: Path, overrides: list[str], out: TextIO, *, fmt: str
) -> int:
    from wanbuild.dataset.builder import BuildRefused, build_effect

    loaded = load_effect(effect_dir, overrides)
    e = loaded.effect
    if e.kind != "t2v" or e.model.local is None:
        raise ConfigError(
            f"{display(effect_dir)}: export-dataset writes text-to-video datasets of the local "
            f"models; this effect is {e.kind} on {e.model.name}"
        )
    try:
        built = build_effect(loaded, Store.for_project(loaded.project), strict=False)
    except BuildRefused as refused:
        raise WanbuildError(f"{display(effect_dir)}: not built: {refused}") from None
    train_zip = built.zips["train"][0]
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ConfigError(f"{display(out_dir)} is not empty: name a new directory")
    videos = out_dir / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    rows = _unpack(train_zip, videos)
    hp = e.hyper_parameters
    if fmt == "diffsynth":
        with (out_dir / "metadata.csv").open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["video", "prompt"])
            for name, prompt in rows:
                w.writerow([f"videos/{name}", prompt])
        what = "metadata.csv (video, prompt) and videos/"
    else:
        for name, prompt in rows:
            (videos / Path(name).with_suffix(".txt").name).write_text(prompt, encoding="utf-8")
        (out_dir / "dataset.toml").write_text(
            _musubi_toml(out_dir, hp["width"], hp["height"], hp["num_frames"], e.model.local.fps),
            encoding="utf-8",
        )
        what = "dataset.toml and videos/ with a caption .txt beside each clip"
    print(
        f"{display(effect_dir)}: {len(rows)} samples exported for {fmt} to {display(out_dir)}: "
        f"{what}; the clips are as build fitted them, the captions as wanbuild compiled them",
        file=out,
    )
    return EXIT_OK


def _unpack(train_zip: Path, videos: Path) -> list[tuple[str, str]]:
    rows = []
    with zipfile.ZipFile(train_zip) as z:
        for line in z.read("data.jsonl").decode("utf-8").splitlines():
            row = json.loads(line)
            name = Path(row["video_path"]).name
            with (
                z.open(row["video_path"].removeprefix("./")) as src,
                (videos / name).open("wb") as dst,
            ):
                shutil.copyfileobj(src, dst)
            rows.append((name, str(row["prompt"])))
    return rows


def _musubi_toml(out_dir: Path, width: int, height: int, frames: int, fps: float) -> str:
    return (
        "# written by `wanbuild local export-dataset --format musubi`\n"
        "[general]\n"
        f"resolution = [{width}, {height}]\n"
        'caption_extension = ".txt"\n'
        "batch_size = 1\n"
        "enable_bucket = true\n"
        "bucket_no_upscale = false\n\n"
        "[[datasets]]\n"
        f'video_directory = "{(out_dir / "videos").resolve()}"\n'
        f'cache_directory = "{(out_dir / "cache").resolve()}"\n'
        f"target_frames = [{frames}]\n"
        'frame_extraction = "head"\n'
        f"source_fps = {fps:g}\n"
    )

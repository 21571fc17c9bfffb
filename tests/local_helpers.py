"""Local-backend test helpers: a text-to-video effect with real clips, trained on the tiny
random model (`wanbuild local tiny-model`), and readers of a job's files on disk."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from wanbuild.media.synth import make_video

CAPTIONS = [
    ("city", "A person walks along a quiet city street.", "Glass towers under a pale sky."),
    ("lake", "The camera pans across a mountain lake.", "Pine trees reflect in the water."),
    ("cup", "A ceramic cup stands on a wooden table.", "Soft daylight from a window."),
    ("dance", "A dancer turns slowly in a studio.", "White walls and a wooden floor."),
]
TINY_HP = {
    "width": 16,
    "height": 16,
    "num_frames": 9,
    "precision": "fp32",
    "gradient_checkpointing": False,
    "n_epochs": 4,
    "eval_epochs": 2,
    "batch_size": 2,
    "learning_rate": 1.0e-3,
    "preview_steps": 2,
    "preview_guidance": 1.0,
}


def write_t2v_effect(
    root: Path,
    weights: Path,
    name: str = "brand",
    *,
    model: str = "wan2.2-t2v-a14b",
    backend: str = "local",
    region: str = "local",
    hp: dict[str, Any] | None = None,
    seconds: float = 9 / 16,
    validation: bool = True,
) -> Path:
    """A t2v effect of four clips (16 fps) and one validation prompt."""
    d = root / "effects" / name
    d.mkdir(parents=True)
    doc: dict[str, Any] = {
        "defaults": [
            "config",
            {"override model": model},
            {"override region": region},
            {"override backend": backend},
            "_self_",
        ],
        "model": {"weights": str(weights)},
        "trigger": "b7rnd",
        "effect": "Rendered in the {trigger} brand style: bold flat colours.",
        "hyper_parameters": {**TINY_HP, **(hp or {})},
    }
    (d / "effect.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    train = []
    for seed, (sid, subject, background) in enumerate(CAPTIONS):
        train.append(
            {"id": sid, "video": f"media/{sid}.mp4", "subject": subject, "background": background}
        )
        make_video(d / f"media/{sid}.mp4", seed, (32, 24), seconds=seconds, fps=16)
    valid = [{"id": "market", "subject": "A flower stall.", "background": "A busy market."}]
    (d / "samples.yaml").write_text(
        yaml.safe_dump({"train": train, "validation": valid if validation else []}),
        encoding="utf-8",
    )
    return d


def local_root(project: Path) -> Path:
    return project / ".wanbuild" / "local"


def job_dirs(project: Path) -> list[Path]:
    return sorted((local_root(project) / "jobs").glob("ft-local-*"))


def state(job_dir: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((job_dir / "state.json").read_text(encoding="utf-8"))
    return doc


def log(job_dir: Path) -> list[str]:
    return (job_dir / "log.txt").read_text(encoding="utf-8").splitlines()


def wait_for(what: str, ready: Callable[[], bool], timeout: float = 120.0) -> None:
    """Until `ready()` (a worker process, not a clock we own: its files are polled)."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)

"""Clips from a Wan pipeline: checkpoint previews (the LoRA as it trains) and `try` (the base
model with a published LoRA), written as mp4 at the model's frame rate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from wanbuild.local.jobspec import JobSpec

NEGATIVE = ""  # the pipelines' default: no negative prompt


def quiet() -> None:
    """No progress bars from the model libraries (loading, saving): the worker's log and
    wanbuild's own bars say what happens."""
    import os

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()


@torch.no_grad()
def render(pipe: Any, prompt: str, spec: JobSpec, path: Path, device: torch.device) -> None:
    """A clip of `prompt` at the job's size, frames and preview settings, seeded: the same
    prompt gives the same noise at every checkpoint and in `try`."""
    hp = spec.hp
    frames = generate(
        pipe,
        prompt,
        width=int(hp["width"]),
        height=int(hp["height"]),
        frames=int(hp["num_frames"]),
        steps=int(hp.get("preview_steps", 20)),
        guidance=float(hp.get("preview_guidance", 5.0)),
        seed=spec.seed,
        device=device,
    )
    write_clip(frames, path, spec.fps)


@torch.no_grad()
def generate(
    pipe: Any,
    prompt: str,
    *,
    width: int,
    height: int,
    frames: int,
    steps: int,
    guidance: float,
    seed: int,
    device: torch.device,
) -> Any:
    """The frames (F x H x W x 3, floats in [0, 1]) the pipeline makes of `prompt`."""
    was = [m.training for m in (pipe.transformer, pipe.transformer_2) if m is not None]
    for m in (pipe.transformer, pipe.transformer_2):
        if m is not None:
            m.eval()
    try:
        out = pipe(
            prompt=prompt,
            negative_prompt=NEGATIVE,
            width=width,
            height=height,
            num_frames=frames,
            num_inference_steps=steps,
            guidance_scale=guidance,
            generator=torch.Generator().manual_seed(seed),
            output_type="np",
        )
    finally:
        for m, training in zip((pipe.transformer, pipe.transformer_2), was, strict=False):
            if m is not None and training:
                m.train()
    return out.frames[0]


def write_clip(frames: Any, path: Path, fps: float) -> None:
    import numpy as np
    from PIL import Image

    from wanbuild.media.synth import write_video

    pictures = [Image.fromarray((np.clip(f, 0, 1) * 255).round().astype("uint8")) for f in frames]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_video(path, iter(pictures), pictures[0].size, fps=round(fps))

"""Steps, tokens, cost and duration of an effect's training, from its spec alone. Pure.

Steps come from the guides' arithmetic (core.steps). Tokens and CNY only where the guides give
figures (the image models' billing table and price); for video models the price is not
documented, so the figures that drive it are given instead: steps, samples, batch, pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wanbuild.core.steps import schedule, split_sizes
from wanbuild.spec.kinds import is_video_kind

if TYPE_CHECKING:
    from wanbuild.spec.effect import Effect

# Image guide: 2K training, 300 steps in ~77 min (t2i) and ~110 min (i2i).
_IMAGE_MINUTES_PER_STEP = {"t2i": 77 / 300, "i2i": 110 / 300}


@dataclass(frozen=True)
class Estimate:
    total_steps: int
    steps_text: str
    tokens: int | None
    cost_cny: float | None
    hours: float | None
    train_samples: int
    deploy_text: str = "free, ~5-10 min"

    @property
    def cost_text(self) -> str:
        if self.cost_cny is not None and self.tokens is not None:
            return f"~{self.cost_cny:,.0f} CNY ({self.tokens:,} tokens)"
        return f"price not documented ({self.train_samples} training samples, steps above)"


def estimate(e: Effect) -> Estimate:
    hp = dict(e.hyper_parameters)
    sizes = split_sizes(len(e.samples.train), len(e.samples.validation), hp)
    video = is_video_kind(e.kind)
    sched = schedule(video, sizes, hp)
    local = e.model.local is not None
    if local:  # the open weights on this machine: the clip size drives the time
        steps_text = (
            f"{sched.total_steps} steps = {hp.get('n_epochs')} epochs x "
            f"ceil({sizes.train}/{hp.get('batch_size')}), {hp.get('width')}x{hp.get('height')} "
            f"x {hp.get('num_frames')} frames"
        )
    elif video:
        steps_text = (
            f"{sched.total_steps} steps = {hp.get('n_epochs')} epochs x "
            f"ceil({sizes.train}/{hp.get('batch_size')}), max_pixels {hp.get('max_pixels')}"
        )
    else:
        steps_text = f"{sched.total_steps} steps at {hp.get('max_pixels')}"
    tokens = cost = hours = None
    if not video and e.model.tokens_per_step:
        per_step = e.model.tokens_per_step.get(str(hp.get("max_pixels")))
        if per_step:
            tokens = per_step * sched.total_steps
            if e.model.price_cny_per_1k_tokens:
                cost = tokens / 1000 * e.model.price_cny_per_1k_tokens
        hours = math.ceil(sched.total_steps * _IMAGE_MINUTES_PER_STEP[e.kind] / 60 * 10) / 10
    deploy = "free, seconds: a copy into the LoRA library" if local else "free, ~5-10 min"
    return Estimate(sched.total_steps, steps_text, tokens, cost, hours, sizes.train, deploy)

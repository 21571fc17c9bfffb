"""Training-size arithmetic from the guides: the auto split, steps, and the checkpoint grid.

    val   = min(N * (1 - split), max_split_val_dataset_sample)     (no explicit validation set)
    steps = n_epochs * ceil(train / batch_size)                      (video)
    steps = max_steps                                                (image)

The guides do not say how N * (1 - split) is rounded; wanbuild rounds up, which leaves the
fewest training samples and so never overstates the steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Sizes:
    total: int
    train: int
    validation: int
    auto_split: bool


@dataclass(frozen=True)
class Schedule:
    sizes: Sizes
    steps_per_epoch: int | None
    total_steps: int
    # Checkpoint numbers in the service's naming: epochs for video, steps for image.
    checkpoints: tuple[int, ...]
    kept_checkpoints: tuple[int, ...]


def split_sizes(n_train: int, n_validation: int, hp: dict[str, Any]) -> Sizes:
    if n_validation:
        return Sizes(n_train, n_train, n_validation, auto_split=False)
    split = float(hp.get("split", 0.9))
    val = math.ceil(round(n_train * (1 - split), 9))
    cap = hp.get("max_split_val_dataset_sample")
    if cap is not None:
        val = min(val, int(cap))
    val = min(val, n_train)
    return Sizes(n_train, n_train - val, val, auto_split=True)


def schedule(video: bool, sizes: Sizes, hp: dict[str, Any]) -> Schedule:
    keep = int(hp.get("save_total_limit", 0) or 0)
    if video:
        batch = max(int(hp.get("batch_size", 1)), 1)
        epochs = int(hp.get("n_epochs", 0))
        every = max(int(hp.get("eval_epochs", epochs) or epochs), 1)
        per_epoch = math.ceil(sizes.train / batch) if sizes.train else 0
        total = epochs * per_epoch
        points = _grid(every, epochs)
    else:
        per_epoch = None
        total = int(hp.get("max_steps", 0))
        every = int(hp.get("eval_steps", 0) or 0)
        points = _grid(every, total) if every else (total,)
    kept = points[-keep:] if keep else points
    return Schedule(sizes, per_epoch, total, points, kept)


def _grid(every: int, last: int) -> tuple[int, ...]:
    points = list(range(every, last + 1, every))
    if last and (not points or points[-1] != last):
        points.append(last)
    return tuple(points)


def min_epochs_for(floor: int, steps_per_epoch: int) -> int:
    return math.ceil(floor / steps_per_epoch) if steps_per_epoch else 0

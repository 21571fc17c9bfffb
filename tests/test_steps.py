"""The guides' step arithmetic: the auto split, total steps and the checkpoint grid."""

from __future__ import annotations

import pytest

from wanbuild.core.steps import schedule, split_sizes


@pytest.mark.parametrize(
    ("n", "split", "cap", "train", "val"),
    [
        (100, 0.9, 5, 95, 5),  # the guides' example: min(100 * 0.1, 5) = 5
        (10, 0.9, 5, 9, 1),
        (20, 0.9, 5, 18, 2),  # 20 * 0.1 is 2.0000000000000004 in floating point; still 2
        (12, 0.9, 5, 10, 2),  # 1.2 rounded up
        (5, 0.9, 5, 4, 1),
        (30, 0.9, None, 27, 3),  # image models: no cap
    ],
)
def test_auto_split(n: int, split: float, cap: int | None, train: int, val: int) -> None:
    hp = {"split": split} | ({"max_split_val_dataset_sample": cap} if cap else {})
    sizes = split_sizes(n, 0, hp)
    assert (sizes.train, sizes.validation, sizes.auto_split) == (train, val, True)


def test_explicit_validation_disables_the_split() -> None:
    sizes = split_sizes(10, 3, {"split": 0.9, "max_split_val_dataset_sample": 5})
    assert (sizes.train, sizes.validation, sizes.auto_split) == (10, 3, False)


def test_video_steps_follow_the_guide_example() -> None:
    # zh guide: 10 samples, batch 4 -> 3 steps per epoch; 267 epochs -> 801 steps
    hp = {"n_epochs": 267, "batch_size": 4, "eval_epochs": 50, "save_total_limit": 3}
    s = schedule(True, split_sizes(10, 1, hp), hp)
    assert (s.steps_per_epoch, s.total_steps) == (3, 801)
    assert s.checkpoints == (50, 100, 150, 200, 250, 267)
    assert s.kept_checkpoints == (200, 250, 267)


def test_image_steps_are_max_steps() -> None:
    hp = {"max_steps": 800, "eval_steps": 200}
    s = schedule(False, split_sizes(30, 0, hp), hp)
    assert (s.total_steps, s.checkpoints) == (800, (200, 400, 600, 800))

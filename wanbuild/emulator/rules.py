"""The service's dataset and training rules, as the emulator reads them from the vendor's pages.

Written from the documentation alone, not from wanbuild's builder: an import-linter contract
forbids this package from importing the builder's layout or step arithmetic, so that a mistake
in how wanbuild lays out a zip or counts steps is caught here instead of agreed with.

data.jsonl lines (video guides, "Training set" / "Validation set"; image guide, "数据集格式"):
    i2v   train  prompt, first_frame_path, video_path          validation  prompt, first_frame_path
    kf2v  train  + last_frame_path (image/ and video/ folders)  validation  + last_frame_path (opt.)
    t2i   train  prompt, img_path                              validation  prompt
    i2i   train  prompt, input_img, img_path                   validation  prompt, input_img
Steps (video): n_epochs x ceil(training samples / batch_size); with no validation file the
service keeps min(N x (1 - split), max_split_val_dataset_sample) samples back. The pages do not
say how that product is rounded; the emulator rounds the held-back count up, the reading that
leaves the fewest steps and so is the harder one for the 800-step rule.
"""

from __future__ import annotations

import math
from typing import Any

DATA_FILE = "data.jsonl"
VIDEO_KINDS = frozenset({"i2v", "kf2v"})
IMAGE_FIELDS = frozenset({"first_frame_path", "last_frame_path", "img_path", "input_img"})
VIDEO_FIELDS = frozenset({"video_path"})

# (kind, split) -> (required fields besides prompt, optional fields)
LINE_FIELDS: dict[tuple[str, str], tuple[tuple[str, ...], tuple[str, ...]]] = {
    ("i2v", "train"): (("first_frame_path", "video_path"), ()),
    ("i2v", "validation"): (("first_frame_path",), ()),
    ("kf2v", "train"): (("first_frame_path", "last_frame_path", "video_path"), ()),
    ("kf2v", "validation"): (("first_frame_path",), ("last_frame_path",)),
    ("t2i", "train"): (("img_path",), ()),
    ("t2i", "validation"): ((), ()),
    ("i2i", "train"): (("input_img", "img_path"), ()),
    ("i2i", "validation"): (("input_img",), ()),
}

# The Singapore video reference: "Total training steps >= 800" and eval_epochs >= n_epochs/10.
MIN_VIDEO_STEPS = 800


def is_video(kind: str) -> bool:
    return kind in VIDEO_KINDS


def held_back(n: int, hp: dict[str, Any]) -> int:
    """Samples the service splits off for validation when no validation file is given."""
    share = n * (1 - float(hp.get("split", 0.9)))
    val = math.ceil(round(share, 9))
    cap = hp.get("max_split_val_dataset_sample")
    return min(n, val if cap is None else min(val, int(cap)))


def training_steps(kind: str, n_train: int, hp: dict[str, Any]) -> tuple[int, int | None]:
    """(total steps, steps per epoch) for `n_train` training samples; image kinds: max_steps."""
    if not is_video(kind):
        return int(hp.get("max_steps", 0)), None
    per_epoch = -(-n_train // max(int(hp.get("batch_size", 1)), 1))
    return int(hp.get("n_epochs", 0)) * per_epoch, per_epoch


def checkpoint_numbers(kind: str, hp: dict[str, Any], total_steps: int) -> list[int]:
    """Checkpoint numbers as the service names them: every eval_epochs epochs (video, named by
    epoch) or every eval_steps steps (image, named by step), and always the last one."""
    if is_video(kind):
        last, every = int(hp.get("n_epochs", 0)), int(hp.get("eval_epochs") or 0)
    else:
        last, every = total_steps, int(hp.get("eval_steps") or 0)
    marks = list(range(every, last + 1, every)) if every > 0 else []
    if last and (not marks or marks[-1] != last):
        marks.append(last)
    return marks

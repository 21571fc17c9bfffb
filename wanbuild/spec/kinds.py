"""What each fine-tune kind puts in a sample, per split: media keys and their types.

The zip layouts and data.jsonl fields of the guides (seeds/), keyed by kind:
i2v: first frame + video; kf2v: first + last frame + video; t2i: target image;
i2i: input image + target image;
t2v (local backend): video. Validation entries carry no video and no target image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["i2v", "kf2v", "t2i", "i2i", "t2v"]
Split = Literal["train", "validation"]
MediaType = Literal["image", "video"]

KINDS: tuple[Kind, ...] = ("i2v", "kf2v", "t2i", "i2i", "t2v")
VIDEO_KINDS: frozenset[str] = frozenset({"i2v", "kf2v", "t2v"})
MEDIA_KEYS: dict[str, MediaType] = {
    "first_frame": "image",
    "last_frame": "image",
    "video": "video",
    "image": "image",
    "input_image": "image",
}


@dataclass(frozen=True)
class SlotRule:
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()

    @property
    def allowed(self) -> tuple[str, ...]:
        return self.required + self.optional


SAMPLE_MEDIA: dict[tuple[str, str], SlotRule] = {
    ("i2v", "train"): SlotRule(("first_frame", "video")),
    ("i2v", "validation"): SlotRule(("first_frame",)),
    ("kf2v", "train"): SlotRule(("first_frame", "last_frame", "video")),
    # The intl guide's kf2v validation example carries both frames; the reference marks the
    # last frame optional there.
    ("kf2v", "validation"): SlotRule(("first_frame",), ("last_frame",)),
    ("t2i", "train"): SlotRule(("image",)),
    ("t2i", "validation"): SlotRule(()),
    ("i2i", "train"): SlotRule(("input_image", "image")),
    ("i2i", "validation"): SlotRule(("input_image",)),
    # text-to-video (the local backend): a clip and its caption; validation is prompts only
    ("t2v", "train"): SlotRule(("video",)),
    ("t2v", "validation"): SlotRule(()),
}


# The pictures a training clip gives by itself: left out (or written `from: video`), build
# cuts them from the clip as a player shows it (frame 0; kf2v's last frame after trimming).
FROM_CLIP: dict[tuple[str, str], tuple[str, ...]] = {
    ("i2v", "train"): ("first_frame",),
    ("kf2v", "train"): ("first_frame", "last_frame"),
}


def from_clip(kind: str, split: str, key: str, sample: object) -> bool:
    """Whether `key` of `sample` is left to be cut from its clip."""
    return (
        key in FROM_CLIP.get((kind, split), ())
        and getattr(sample, key, None) is None
        and getattr(sample, "video", None) is not None
    )


def is_video_kind(kind: str) -> bool:
    return kind in VIDEO_KINDS

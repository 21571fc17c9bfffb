"""What probing a media file found, as values the lint rules read (filled by wanbuild.media)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ProblemCode = Literal[
    "missing", "traversal", "absolute", "escapes", "not_file", "unreadable", "wrong_type"
]


@dataclass(frozen=True)
class MediaFacts:
    type: Literal["image", "video"]
    format: str  # JPEG/PNG/WEBP/BMP/... for images; mp4/mov/webm/... for videos
    width: int
    height: int
    bytes: int
    duration_s: float | None = None
    codec: str | None = None
    fps: float | None = None
    # An image whose EXIF orientation turns it (width/height above are as displayed).
    rotated: bool = False
    # A 16x16 grey thumbnail (of a video: its first frame), when asked for: to compare pictures.
    signature: tuple[int, ...] | None = None


@dataclass(frozen=True)
class MediaProblem:
    code: ProblemCode
    detail: str


Probe = MediaFacts | MediaProblem

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
    # Videos, as a player shows them (media.display); width/height above are as displayed.
    turn: int = 0  # counter-clockwise degrees the display matrix turns the stored picture
    mirror: bool = False  # the display matrix mirrors it
    sar: str | None = None  # "32:27": non-square pixels (None: square)
    stream: int | None = None  # the video stream used, where the file holds several
    stream_note: str | None = None  # which one, and what else is there
    untimed: bool = False  # a raw stream without timestamps, timed from its declared fps
    # Images: a high bit depth (16-bit grey, 32-bit int, float), scaled to 8 bits when fitted.
    deep: bool = False


@dataclass(frozen=True)
class MediaProblem:
    code: ProblemCode
    detail: str


Probe = MediaFacts | MediaProblem

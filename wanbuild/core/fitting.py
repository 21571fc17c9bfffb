"""Decide how `build` fits one media file to the chosen model and region. Pure: facts in, a Fit out.

Images over the resolution limit are downscaled (aspect kept), unsupported formats converted to
PNG, EXIF rotation applied, and files over the size limit re-encoded. Videos in another
container or codec are transcoded to H.264 MP4, scaled to fit (even dimensions), and trimmed to
the duration limit. Nothing is upscaled, re-timed or dropped; every change is named so that
`build` and `validate` can say it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from wanbuild.spec.media import MediaFacts

if TYPE_CHECKING:
    from wanbuild.spec.effect import ImageLimits, VideoLimits

IMAGE_EXT = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "BMP": ".bmp"}
VIDEO_EXT = {"mp4": ".mp4", "mov": ".mov"}
# What an MP4/MOV from the guides carries; anything else is transcoded to H.264.
VIDEO_CODECS = frozenset({"h264", "hevc"})


@dataclass(frozen=True)
class Fit:
    type: str  # image | video
    format: str  # target: JPEG/PNG/... or mp4/mov
    width: int
    height: int
    changes: tuple[str, ...] = ()
    trim_to_s: float | None = None
    reencode: bool = False  # image: re-encode for size; video: transcode
    max_bytes: int | None = None
    # what the player shows, made the pixels (media.display): the display matrix's turn and
    # mirror, the video stream used, the rate of a stream without timestamps
    turn: int = 0
    mirror: bool = False
    stream: int | None = None
    rate: float | None = None

    @property
    def needed(self) -> bool:
        return bool(self.changes)

    @property
    def ext(self) -> str:
        return (IMAGE_EXT if self.type == "image" else VIDEO_EXT)[self.format]

    def key(self) -> str:
        """What the fitted output depends on, besides the source bytes (for the fitted cache)."""
        key = (
            f"{self.type}:{self.format}:{self.width}x{self.height}:trim={self.trim_to_s}:"
            f"re={self.reencode}:max={self.max_bytes}"
        )
        shown = (self.turn, self.mirror, self.stream, self.rate)
        return key if shown == (0, False, None, None) else f"{key}:shown={shown}"

    def describe(self) -> str:
        return ", ".join(self.changes)


def scale_within(w: int, h: int, max_w: int, max_h: int, *, even: bool) -> tuple[int, int]:
    """The largest size with the same aspect that fits max_w x max_h; never upscales."""
    s = min(max_w / w, max_h / h, 1.0)
    nw, nh = max(1, int(w * s)), max(1, int(h * s))
    if even:
        nw, nh = max(2, nw - nw % 2), max(2, nh - nh % 2)
    return nw, nh


def fit_image(m: MediaFacts, lim: ImageLimits) -> Fit:
    changes: list[str] = []
    fmt = m.format.upper()
    if fmt not in lim.formats or fmt not in IMAGE_EXT:
        changes.append(f"{m.format} -> PNG")
        fmt = "PNG"
    if m.rotated:
        changes.append("EXIF rotation applied")
    deep = m.deep
    w, h = scale_within(m.width, m.height, lim.max_width, lim.max_height, even=False)
    if (w, h) != (m.width, m.height):
        changes.append(f"{m.width}x{m.height} -> {w}x{h}")
    reencode = lim.max_bytes is not None and m.bytes > lim.max_bytes
    if reencode:
        fmt = "JPEG"
        changes.append(
            f"{m.bytes / 1_048_576:.1f} MB re-encoded as JPEG to fit "
            f"{(lim.max_bytes or 0) / 1_048_576:.0f} MB"
        )
    if deep and changes:  # fitted anyway: its tones are scaled to 8 bits, never clipped
        changes.append("high bit depth -> 8-bit, tones kept")
    return Fit("image", fmt, w, h, tuple(changes), reencode=reencode, max_bytes=lim.max_bytes)


def fit_video(m: MediaFacts, lim: VideoLimits) -> Fit:
    changes: list[str] = []
    transcode = False
    fmt = m.format
    if fmt not in lim.containers or fmt not in VIDEO_EXT:
        changes.append(f"{m.format} -> H.264 MP4")
        fmt, transcode = "mp4", True
    elif m.codec not in VIDEO_CODECS:
        changes.append(f"{m.codec} -> H.264")
        fmt, transcode = "mp4", True
    # what a player shows is what is shipped: in a file that carries no display matrix, on
    # square pixels, one video stream, timed
    if m.stream_note:
        changes.append(m.stream_note)
        fmt, transcode = "mp4", True
    if m.turn or m.mirror:
        what = ", ".join(
            ([f"turned {m.turn}°"] if m.turn else []) + (["mirrored"] if m.mirror else [])
        )
        changes.append(f"display matrix applied ({what})")
        fmt, transcode = "mp4", True
    if m.sar:
        changes.append(f"non-square pixels (sample aspect {m.sar}) -> square")
        fmt, transcode = "mp4", True
    if m.untimed:
        changes.append(f"no timestamps: timed at its declared {m.fps or 0:g} fps")
        fmt, transcode = "mp4", True
    w, h = scale_within(m.width, m.height, lim.max_width, lim.max_height, even=True)
    if (w, h) != (m.width, m.height):
        changes.append(f"{m.width}x{m.height} -> {w}x{h}")
        fmt, transcode = "mp4", True
    trim = None
    if m.duration_s is not None and m.duration_s > lim.max_duration_s + 1e-3:
        trim = lim.max_duration_s
        changes.append(f"{m.duration_s:.1f} s -> {trim:g} s")
        fmt, transcode = "mp4", True
    if lim.max_bytes is not None and m.bytes > lim.max_bytes:
        changes.append(
            f"{m.bytes / 1_048_576:.1f} MB re-encoded to fit {lim.max_bytes / 1_048_576:.0f} MB"
        )
        fmt, transcode = "mp4", True
    return Fit(
        "video",
        fmt,
        w,
        h,
        tuple(changes),
        trim_to_s=trim,
        reencode=transcode,
        max_bytes=lim.max_bytes,
        turn=m.turn,
        mirror=m.mirror,
        stream=m.stream,
        rate=m.fps if m.untimed else None,
    )


def fit_media(m: MediaFacts, image: ImageLimits, video: VideoLimits | None) -> Fit | None:
    """None when the model takes no media of this type (reported by lint)."""
    if m.type == "image":
        return fit_image(m, image)
    return fit_video(m, video) if video is not None else None

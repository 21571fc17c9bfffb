"""What a file displays, as a player shows it: the one place that knows.

- **The stream a player plays:** FFmpeg's own choice of the best video stream
  (`av_find_best_stream`), never an attached picture (a cover or thumbnail) while a real clip
  is there. When there are several real clips, the one used is named.
- **Its display matrix** (phones store portrait clips landscape, with a matrix that turns
  them): turned by a right angle, possibly mirrored. A matrix that turns by another angle, or
  skews, is refused: no fit could honour it.
- **Its sample aspect ratio:** non-square pixels are shown wider or narrower than stored.
- **Streams without timestamps** (raw .h264/.hevc as cameras, dashcams and drones write
  them): timed from the frame rate the stream itself declares, never from a demuxer's default.
- **Images:** the EXIF orientation (Pillow's exif_transpose), and the true tones of high bit
  depths (16-bit grey, 32-bit int and float), which are scaled, never clipped, to 8 bits.

The probe, the lint rules (through the facts the probe returns), the fit and the contact sheet
all ask this module.
"""

from __future__ import annotations

import os
import struct
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from wanbuild.media.stack import check_supported

# (a, b, c, d) of a display matrix, in units of 1.0, -> (counter-clockwise turn, mirrored
# left-right after turning): the eight pictures a right-angle matrix can show.
_RIGHT_ANGLES = {
    (1, 0, 0, 1): (0, False),
    (-1, 0, 0, 1): (0, True),
    (0, -1, 1, 0): (90, False),
    (0, -1, -1, 0): (90, True),
    (-1, 0, 0, -1): (180, False),
    (1, 0, 0, -1): (180, True),
    (0, 1, -1, 0): (270, False),
    (0, 1, 1, 0): (270, True),
}
RAW_FORMATS = frozenset({"h264", "hevc", "h265", "mpegvideo", "m4v", "rawvideo", "mjpeg"})


class Undisplayable(ValueError):
    """The file cannot be shown as it is meant to be; the message names the fix."""


@dataclass(frozen=True)
class Played:
    """The video stream a player plays, and how it shows it."""

    index: int  # the stream's index in the container
    turn: int  # counter-clockwise degrees: 0, 90, 180, 270
    mirror: bool  # mirrored left-right after turning
    sar: Fraction  # sample aspect ratio (1: square pixels)
    rate: Fraction | None  # where packets carry no timestamps: the stream's declared rate
    note: str | None  # when the container holds other video streams: which one is used

    @property
    def upright(self) -> bool:
        return self.turn == 0 and not self.mirror

    def size(self, coded_w: int, coded_h: int) -> tuple[int, int]:
        """The displayed size of a coded `coded_w` x `coded_h` picture."""
        w, h = coded_w, coded_h
        if self.sar != 1:
            w = max(1, round(coded_w * self.sar))
        return (h, w) if self.turn in (90, 270) else (w, h)

    def describe(self) -> str:
        what = f"turned {self.turn}°" if self.turn else ""
        if self.mirror:
            what = f"{what}, mirrored" if what else "mirrored"
        return f"display matrix applied ({what})"


def played_stream(container: Any) -> tuple[Any, str | None]:
    """(the video stream a player plays, a note naming it when there are others)."""
    videos = list(container.streams.video)
    if not videos:
        raise ValueError("no video stream")
    clips = [s for s in videos if not _is_picture(s)]
    try:
        best = container.streams.best("video")
    except (ValueError, IndexError):
        best = None
    if best is None or (_is_picture(best) and clips):
        best = clips[0] if clips else videos[0]
    if len(videos) == 1:
        return best, None
    others = [s for s in videos if s.index != best.index]
    pictures = sum(1 for s in others if _is_picture(s))
    what = []
    if pictures:
        what.append(f"{pictures} cover picture{'s' if pictures > 1 else ''}")
    if len(others) > pictures:
        n = len(others) - pictures
        what.append(f"{n} other clip{'s' if n > 1 else ''} left out")
    cc = best.codec_context
    return best, (
        f"video stream #{best.index} used, {cc.width}x{cc.height}, the one a player shows "
        f"({', '.join(what)})"
    )


def _is_picture(stream: Any) -> bool:
    import av

    disposition = int(stream.disposition)
    return bool(disposition & int(av.stream.Disposition.attached_pic)) or stream.frames == 1


def played(container: Any, stream: Any, first: Any, note: str | None) -> Played:
    """How `stream`, whose first decoded frame is `first`, is shown."""
    turn, mirror = _matrix(first)
    sar = Fraction(0)
    for candidate in (stream.codec_context.sample_aspect_ratio, stream.sample_aspect_ratio):
        if candidate is not None and candidate > 0:
            sar = Fraction(candidate)
            break
    rate = None
    raw = bool(set(container.format.name.split(",")) & RAW_FORMATS)
    if raw or first.pts is None:  # no timestamps (a raw stream's are the demuxer's guess):
        # only the stream's own declaration can time it
        declared = stream.codec_context.framerate
        if not declared or declared <= 0:
            raise Undisplayable(
                "a raw stream with no timestamps and no frame rate of its own: its frames "
                "cannot be timed; remux it into an MP4 at the rate it was shot "
                "(e.g. `ffmpeg -framerate 16 -i clip.h264 -c copy clip.mp4`)"
            )
        rate = Fraction(declared)
    return Played(stream.index, turn, mirror, sar or Fraction(1), rate, note)


def display_matrix(side_data: Any) -> bytes | None:
    """The display matrix a frame's side data carries, or None.

    Looked up by its type's name, which every supported PyAV answers the same way; iterating
    does not: up to 18.1.0 it yields the side data, from 18.1.1 on (as a mapping must) the
    types."""
    side = side_data.get("DISPLAYMATRIX")
    return None if side is None else bytes(side)


def _matrix(frame: Any) -> tuple[int, bool]:
    data = display_matrix(frame.side_data)
    if data is None or len(data) < 36:
        return 0, False
    m = struct.unpack("<9i", data[:36])
    key = tuple(round(v / 65536) for v in (m[0], m[1], m[3], m[4]))
    exact = all(
        abs(v / 65536 - k) < 1e-3 for v, k in zip((m[0], m[1], m[3], m[4]), key, strict=True)
    )
    if not exact or key not in _RIGHT_ANGLES:
        raise Undisplayable(
            f"a display matrix that turns the picture by {_degrees(m):g}° (not a right angle) "
            "or skews it: re-export the clip upright"
        )
    return _RIGHT_ANGLES[key]


def _degrees(m: tuple[int, ...]) -> float:
    """The counter-clockwise turn of a display matrix, as FFmpeg's av_display_rotation_get
    reads it (PyAV's `frame.rotation` is missing before 14.4)."""
    import math

    a, b, c, d = (v / 65536 for v in (m[0], m[1], m[3], m[4]))
    sx, sy = math.hypot(a, c), math.hypot(b, d)
    if not sx or not sy:
        return 0.0
    return round(-math.degrees(math.atan2(b / sy, a / sx)), 2)


def upright(im: Any, turn: int, mirror: bool) -> Any:
    """A decoded picture (Pillow) as the display matrix shows it."""
    from PIL import Image

    T = Image.Transpose
    if turn:
        im = im.transpose({90: T.ROTATE_90, 180: T.ROTATE_180, 270: T.ROTATE_270}[turn])
    if mirror:
        im = im.transpose(T.FLIP_LEFT_RIGHT)
    return im


def displayed_frame(frame: Any, p: Played, size: tuple[int, int] | None = None) -> Any:
    """A decoded frame as a player shows it (turned, mirrored, square pixels), as an RGB
    Pillow picture, at `size` when given."""
    from PIL import Image

    coded = (frame.width, frame.height)
    w, h = p.size(*coded)
    im = upright(frame.to_image(), p.turn, p.mirror)
    target = size or (w, h)
    if im.size != target:
        im = im.resize(target, Image.Resampling.LANCZOS)
    return im


HIGH_DEPTH = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I", "F"})


def eight_bit(im: Any) -> Any:
    """A picture of high bit depth as 8-bit grey, its tones scaled, not clipped."""
    if im.mode not in HIGH_DEPTH:
        return im
    if im.mode.startswith("I;16"):
        scale = 1 / 257
    else:
        _, high = im.getextrema()
        if im.mode == "F" and high <= 1.0:
            scale = 255.0
        elif high <= 255:
            scale = 1.0
        elif high <= 65535:
            scale = 1 / 257
        else:
            scale = 255 / high
    if im.mode == "F":
        return im.point(lambda v: v * scale).convert("L")
    return im.convert("I").point(lambda v: v * scale).convert("L")


def cut_frame(src: Path, dst: Path, which: str, trim_to_s: float | None) -> None:
    """Write the clip's first frame (`which` "first"), or the last frame it keeps once
    trimmed to `trim_to_s` ("last"), as a player shows it, at the clip's displayed size:
    JPEG for a first frame, PNG for a last one (as the guides' examples). The frames are
    timed as fitting times them, so the last one is the trained clip's last."""
    check_supported()
    import av

    with av.open(str(src)) as c:
        stream, note = played_stream(c)
        shown: Played | None = None
        chosen = None
        start: float | None = None
        for n, frame in enumerate(c.decode(stream)):
            shown = shown or played(c, stream, frame, note)
            if shown.rate is not None:
                t = n / float(shown.rate)
            else:
                t = float(frame.time) if frame.time is not None else 0.0
            start = t if start is None else start
            if which == "last" and trim_to_s is not None and t - start >= trim_to_s - 1e-6:
                break
            chosen = frame
            if which == "first":
                break
        if chosen is None or shown is None:
            raise Undisplayable("no decodable frame to cut")
        picture = displayed_frame(chosen, shown)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        if which == "first":
            picture.save(tmp, "JPEG", quality=95)
        else:
            picture.save(tmp, "PNG")
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def jpeg_data_url(path: Path, side: int) -> str:
    """A picture as a viewer shows it (EXIF applied, 8-bit), at most `side` pixels across, as
    a JPEG data: URL (what the chat API takes inline)."""
    check_supported()
    import base64
    import io

    from PIL import Image, ImageOps

    with Image.open(path) as opened:
        im = eight_bit(ImageOps.exif_transpose(opened)).convert("RGB")
        im.thumbnail((side, side))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=90)
    return f"data:image/jpeg;base64,{base64.b64encode(buf.getvalue()).decode()}"

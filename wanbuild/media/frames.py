"""Frames of a clip as a trainer reads them: as a player shows them (display matrix, square
pixels, the played stream), at the model's frame rate, cropped to the training size.

A clip is read from its start: frame i of the result is the frame shown at i / fps seconds
(the nearest earlier one), so a 30 fps clip trained at 16 fps keeps its speed and a 16 fps
clip is read frame for frame. A clip too short for `count` frames is an error, never padded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wanbuild.media.display import Played, displayed_frame, played, played_stream
from wanbuild.media.stack import check_supported


class TooShort(ValueError):
    """The clip holds fewer frames at this rate than training needs."""


def sample_frames(path: Path, fps: float, count: int, size: tuple[int, int]) -> list[Any]:
    """`count` RGB Pillow pictures of `size` (width, height): the clip at `fps`, each frame
    scaled to cover `size` and cropped about its centre."""
    check_supported()
    import av

    wanted = [i / fps for i in range(count)]
    out: list[Any] = []
    with av.open(str(path)) as c:
        stream, note = played_stream(c)
        shown: Played | None = None
        start: float | None = None
        previous: tuple[float, Any] | None = None
        for n, frame in enumerate(c.decode(stream)):
            shown = shown or played(c, stream, frame, note)
            t = n / float(shown.rate) if shown.rate else float(frame.time or 0.0)
            start = t if start is None else start
            t -= start
            # every wanted time before this frame shows the previous one
            while previous is not None and len(out) < count and wanted[len(out)] < t - 1e-6:
                out.append(_cover(displayed_frame(previous[1], shown), size))
            if len(out) == count:
                break
            previous = (t, frame)
        if previous is not None and shown is not None and len(out) < count:
            rate = shown.rate or stream.average_rate or stream.guessed_rate
            end = previous[0] + (1 / float(rate) if rate else 0.0)
            while len(out) < count and wanted[len(out)] < end - 1e-6:
                out.append(_cover(displayed_frame(previous[1], shown), size))
    if len(out) < count:
        raise TooShort(
            f"{count} frames at {fps:g} fps need {count / fps:.2f} s; the clip gives {len(out)}"
        )
    return out


def _cover(im: Any, size: tuple[int, int]) -> Any:
    from PIL import Image

    w, h = size
    scale = max(w / im.width, h / im.height)
    scaled = im.resize(
        (max(w, round(im.width * scale)), max(h, round(im.height * scale))),
        Image.Resampling.LANCZOS,
    )
    left, top = (scaled.width - w) // 2, (scaled.height - h) // 2
    return scaled.crop((left, top, left + w, top + h))

"""Synthetic, deterministic media: pictures and clips made with Pillow and PyAV from a seed.

Used for the demo effects and by the tests. The same (seed, size, format) gives the same bytes:
no clock, no randomness beyond the seeded generator, a single encoder thread.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw

from wanbuild.media.mp4tag import pin_muxer_tag
from wanbuild.media.stack import check_supported
from wanbuild.media.x264 import x264_options

if TYPE_CHECKING:
    import av

_PILLOW_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".bmp": "BMP"}


def scene(seed: int, size: tuple[int, int]) -> Image.Image:
    """A backdrop and a figure: a stand-in for 'a subject in front of a background'."""
    rng = random.Random(seed)
    w, h = size
    top = tuple(rng.randrange(40, 220) for _ in range(3))
    bottom = tuple(rng.randrange(20, 160) for _ in range(3))
    im = Image.new("RGB", size)
    draw = ImageDraw.Draw(im)
    for y in range(h):
        t = y / max(h - 1, 1)
        draw.line(
            [(0, y), (w, y)],
            fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)),
        )
    skin = (rng.randrange(150, 240), rng.randrange(110, 200), rng.randrange(90, 170))
    cloth = tuple(rng.randrange(0, 255) for _ in range(3))
    cx = w // 2 + rng.randrange(-w // 8, w // 8 + 1)
    draw.ellipse([cx - w // 10, h // 5, cx + w // 10, h // 5 + h // 6], fill=skin)
    draw.rectangle([cx - w // 6, h // 5 + h // 6, cx + w // 6, h - h // 12], fill=cloth)
    return im


def save_image(im: Image.Image, path: Path) -> None:
    check_supported()
    fmt = _PILLOW_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path.name}: no image format for {path.suffix!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"quality": 90} if fmt in ("JPEG", "WEBP") else {}
    im.save(path, fmt, **options)


def make_image(path: Path, seed: int, size: tuple[int, int] = (256, 256)) -> None:
    save_image(scene(seed, size), path)


def rain_frames(first: Image.Image, n: int, seed: int) -> Iterator[Image.Image]:
    """Frames starting at `first`, with green-on-beige notes falling over it."""
    rng = random.Random(seed)
    w, h = first.size
    notes = [(rng.randrange(w), rng.randrange(-h, 0), rng.randrange(3, 8)) for _ in range(24)]
    for i in range(n):
        im = first.copy()
        draw = ImageDraw.Draw(im)
        for x, y0, speed in notes:
            y = y0 + i * speed
            if i and 0 <= y < h:
                draw.rectangle(
                    [x, y, x + w // 16, y + h // 32], fill=(214, 205, 170), outline=(30, 90, 50)
                )
        yield im


def blend_frames(first: Image.Image, last: Image.Image, n: int) -> Iterator[Image.Image]:
    """Frames going from `first` to `last` (a cross-fade, exact at both ends)."""
    for i in range(n):
        yield Image.blend(first, last, i / max(n - 1, 1))


def write_video(
    path: Path,
    frames: Iterator[Image.Image],
    size: tuple[int, int],
    fps: int = 16,
    codec: str = "libx264",
) -> None:
    import av

    check_supported()
    w, h = size
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream(codec, rate=Fraction(fps))
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.thread_count = 1
        if codec == "libx264":
            stream.options = x264_options(28)
        for index, im in enumerate(frames):
            frame = yuv420_frame(im)
            frame.pts, frame.time_base = index, Fraction(1, fps)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    pin_muxer_tag(path)


def yuv420_frame(im: Image.Image) -> av.VideoFrame:
    """A yuv420p frame converted by Pillow, every byte (row padding too) set by us.

    Every byte of the planes (row padding too) is set here, so the encoder's input is a function
    of the picture alone.
    """
    import av

    w, h = im.size
    y, cb, cr = im.convert("RGB").convert("YCbCr").split()
    planes = (
        y,
        cb.resize((w // 2, h // 2), Image.Resampling.BOX),
        cr.resize((w // 2, h // 2), Image.Resampling.BOX),
    )
    frame = av.VideoFrame(w, h, "yuv420p")
    for plane, channel in zip(frame.planes, planes, strict=True):
        pad = plane.line_size - channel.width
        rows = channel.tobytes()
        if pad:
            rows = b"".join(
                rows[r * channel.width : (r + 1) * channel.width] + b"\0" * pad
                for r in range(channel.height)
            )
        plane.update(rows)
    return frame


def make_video(
    path: Path,
    seed: int,
    size: tuple[int, int] = (256, 256),
    seconds: float = 2.0,
    fps: int = 16,
    codec: str = "libx264",
) -> None:
    """A clip of a falling-notes effect over a seeded scene."""
    n = max(1, round(seconds * fps))
    write_video(path, rain_frames(scene(seed, size), n, seed), size, fps, codec)

"""The media an emulated generation task (or checkpoint preview) returns: a real small MP4 or
PNG, made from the task's input image when the emulator can read it (a data: URL), else from a
scene seeded by the input's text. Files are made once, on first download."""

from __future__ import annotations

import base64
import binascii
import io
import zlib
from pathlib import Path

from PIL import Image, ImageDraw

from wanbuild.core.fitting import scale_within
from wanbuild.media.synth import rain_frames, scene, write_video

SIDE = 320
PREVIEW_SIDE = 128  # a checkpoint preview: small, as the service's are, and quick to make


def input_image(url: str | None, seed_text: str) -> Image.Image:
    if url and url.startswith("data:") and "," in url:
        try:
            with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as im:
                picture = im.convert("RGB")
            w, h = scale_within(picture.width, picture.height, SIDE, SIDE, even=True)
            return picture.resize((w, h))
        except (OSError, ValueError, binascii.Error):
            pass
    return scene(zlib.crc32(seed_text.encode()), (SIDE, SIDE * 3 // 4))


def make_video(path: Path, url: str | None, seed_text: str, seconds: float = 2.0) -> None:
    first = input_image(url, seed_text)
    fps = 16
    write_video(
        path,
        rain_frames(first, int(seconds * fps), zlib.crc32(seed_text.encode())),
        first.size,
        fps,
    )


def make_image(path: Path, url: str | None, seed_text: str) -> None:
    im = input_image(url, seed_text)
    draw = ImageDraw.Draw(im)
    draw.rectangle([0, 0, im.width - 1, im.height - 1], outline=(190, 20, 30), width=6)
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, "PNG")


def make_preview(
    path: Path, first: bytes | None, last: bytes | None, strength: float, seed_text: str
) -> None:
    """A checkpoint's preview: 1 s from the sample's first frame (to its last frame for
    kf2v), the effect (falling notes and a warm cast) the stronger the later the checkpoint,
    so that checkpoints look different side by side."""
    start = _picture(first, seed_text, PREVIEW_SIDE)
    end = _picture(last, seed_text, PREVIEW_SIDE).resize(start.size) if last else None
    fps, n = 16, 10
    rain = rain_frames(start, n, zlib.crc32(seed_text.encode()))
    frames = []
    for i, frame in enumerate(rain):
        if end is not None:
            frame = Image.blend(frame, end, i / (n - 1))
        cast = Image.new("RGB", frame.size, (255, 170, 40))
        frames.append(Image.blend(start if i == 0 else frame, cast, 0.45 * strength * i / (n - 1)))
    write_video(path, iter(frames), start.size, fps)


def _picture(data: bytes | None, seed_text: str, side: int = SIDE) -> Image.Image:
    if data:
        try:
            with Image.open(io.BytesIO(data)) as im:
                picture = im.convert("RGB")
            w, h = scale_within(picture.width, picture.height, side, side, even=True)
            return picture.resize((w, h))
        except (OSError, ValueError):
            pass
    return scene(zlib.crc32(seed_text.encode()), (side, side * 3 // 4))


def make_preview_image(path: Path, first: bytes | None, strength: float, seed_text: str) -> None:
    """An image checkpoint's preview: the validation input (i2i) or a scene (t2i), its warm
    cast and frame the stronger the later the checkpoint."""
    im = _picture(first, seed_text)
    im = Image.blend(im, Image.new("RGB", im.size, (255, 170, 40)), 0.45 * strength)
    draw = ImageDraw.Draw(im)
    draw.rectangle([0, 0, im.width - 1, im.height - 1], outline=(190, 20, 30), width=6)
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, "PNG")

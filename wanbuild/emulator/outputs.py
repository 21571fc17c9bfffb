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

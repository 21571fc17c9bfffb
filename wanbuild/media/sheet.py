"""A contact sheet: one row per sample, its pictures (an image, or a clip's first, middle and
last frames) side by side, the caption wrapped underneath. Pillow and PyAV; one PNG."""

from __future__ import annotations

import os
import textwrap
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wanbuild.media.stack import check_supported

THUMB = 160
PAD = 8
LINE = 14
WRAP = 110


@dataclass(frozen=True)
class SheetRow:
    title: str  # "added s07 (train)"
    caption: str
    media: tuple[Path, ...]  # existing files; videos give three frames


def _frames(path: Path) -> list[Any]:
    """First, middle and last frames, decoded in one pass, only thumbnails kept."""
    check_supported()
    import av

    from wanbuild.media.display import displayed_frame, played, played_stream

    try:
        with av.open(str(path)) as c:
            stream, note = played_stream(c)  # as a player shows it: that stream, upright
            total = int(stream.frames or 0)
            keep: dict[int, Any] = {}
            last = None
            shown = None
            for i, frame in enumerate(c.decode(stream)):
                shown = shown or played(c, stream, frame, note)
                if i == 0 or (total and i == total // 2):
                    keep[i] = _thumb(displayed_frame(frame, shown))
                last = frame
            if last is not None and shown is not None:
                keep[max(keep, default=0) + 1] = _thumb(displayed_frame(last, shown))
    except (av.error.FFmpegError, IndexError, ValueError):
        return []
    return [keep[i] for i in sorted(keep)]


def _thumb(im: Any) -> Any:
    im = im.convert("RGB")
    im.thumbnail((THUMB, THUMB))
    return im


def _pictures(path: Path) -> list[Any]:
    check_supported()
    from PIL import Image, ImageOps, UnidentifiedImageError

    if path.suffix.lower() in (".mp4", ".mov", ".webm", ".mkv", ".avi"):
        return _frames(path)
    try:
        with Image.open(path) as im:
            return [_thumb(ImageOps.exif_transpose(im))]
    except (UnidentifiedImageError, OSError):
        return []


def contact_sheet(rows: list[SheetRow], out: Path) -> Path:
    from PIL import Image, ImageDraw

    laid: list[tuple[SheetRow, list[Any], list[str]]] = []
    for row in rows:
        pictures = [p for m in row.media for p in _pictures(m)]
        lines = [row.title, *textwrap.wrap(row.caption, WRAP)]
        laid.append((row, pictures, lines))
    width = max([PAD + max(1, len(p)) * (THUMB + PAD) for _, p, _ in laid] + [WRAP * 6 + 2 * PAD])
    height = PAD + sum(THUMB + PAD + len(lines) * LINE + PAD for *_, lines in laid)
    sheet = Image.new("RGB", (width, max(height, THUMB)), "white")
    draw = ImageDraw.Draw(sheet)
    y = PAD
    for _, pictures, lines in laid:
        x = PAD
        for p in pictures:
            sheet.paste(p, (x, y + (THUMB - p.height) // 2))
            x += THUMB + PAD
        y += THUMB + PAD
        for i, text in enumerate(lines):
            draw.text((PAD, y + i * LINE), text, fill="black" if i else "darkred")
        y += len(lines) * LINE + PAD
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, format="PNG")
    return out


def grid_sheet(columns: list[str], rows: list[tuple[str, list[Path | None]]], out: Path) -> Path:
    """The review grid as one PNG: per cell the first, middle and last frame (an image: the
    image), a column per checkpoint, a row per validation sample, titles on top and left."""
    from PIL import Image, ImageDraw

    label_w, head_h, pad = 160, 24, 6
    cell_w, cell_h = THUMB * 3 + pad * 2, THUMB
    width = label_w + len(columns) * (cell_w + pad) + pad
    height = head_h + len(rows) * (cell_h + pad) + pad
    sheet = Image.new("RGB", (width, height), (250, 250, 250))
    draw = ImageDraw.Draw(sheet)
    for c, title in enumerate(columns):
        draw.text((label_w + c * (cell_w + pad) + pad, 6), title, fill=(20, 20, 20))
    for r, (title, cells) in enumerate(rows):
        y = head_h + r * (cell_h + pad)
        draw.text((pad, y + 4), title, fill=(20, 20, 20))
        for c, path in enumerate(cells):
            x = label_w + c * (cell_w + pad) + pad
            pictures = _pictures(path) if path is not None else []
            if not pictures:
                draw.rectangle([x, y, x + cell_w, y + cell_h], outline=(170, 0, 0))
                draw.text((x + 4, y + 4), "no preview", fill=(170, 0, 0))
            for k, im in enumerate(pictures[:3]):
                sheet.paste(im, (x + k * (THUMB + pad), y))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.{threading.get_ident()}.tmp.png")
    sheet.save(tmp, "PNG")
    tmp.replace(out)
    return out

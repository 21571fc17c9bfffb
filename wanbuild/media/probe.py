"""Read media headers with Pillow and PyAV: size, format, resolution, duration. No full decode.

A video is opened, its header read and its first frame decoded (to catch a broken stream);
nothing else is decoded. Images are opened lazily (header only), with EXIF rotation applied
to the reported size, as the service would see the picture.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Any

from wanbuild.media.display import HIGH_DEPTH, eight_bit
from wanbuild.media.stack import check_supported
from wanbuild.spec.media import MediaFacts, MediaProblem, Probe

_EXIF_ORIENTATION = 0x0112


SIGNATURE_SIDE = 16


def _signature(im: Any) -> tuple[int, ...]:
    from PIL import Image

    grey = im.convert("L").resize((SIGNATURE_SIDE, SIGNATURE_SIDE), Image.Resampling.BOX)
    return tuple(grey.tobytes())


def probe_image(path: Path, *, signature: bool = False) -> MediaFacts:
    check_supported()
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            w, h = im.size
            fmt = im.format or "?"
            deep = im.mode in HIGH_DEPTH
            # getexif() on a PNG decodes the whole image; PNGs carry no rotation anyway
            orientation = 1 if fmt == "PNG" else im.getexif().get(_EXIF_ORIENTATION, 1)
            if orientation in (5, 6, 7, 8):
                w, h = h, w
            sig = None
            if signature:
                if fmt == "JPEG":
                    im.draft("L", (SIGNATURE_SIDE * 4, SIGNATURE_SIDE * 4))
                sig = _signature(eight_bit(ImageOps.exif_transpose(im)))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise ValueError(f"not a readable image ({e.__class__.__name__})") from None
    return MediaFacts(
        "image",
        fmt,
        w,
        h,
        path.stat().st_size,
        rotated=orientation != 1,
        signature=sig,
        deep=deep,
    )


def probe_video(path: Path, *, signature: bool = False) -> MediaFacts:
    check_supported()
    import av

    from wanbuild.media.display import displayed_frame, played, played_stream

    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                raise ValueError("no video stream")
            if _is_still_image(c.format.name):
                raise ValueError("a still image")
            v, note = played_stream(c)
            cc = v.codec_context
            container = _container_name(c.format.name, c.metadata, path)
            frame = next(c.decode(v), None)
            if frame is None:
                raise ValueError("no decodable frame")
            shown = played(c, v, frame, note)
            if shown.rate is not None:  # no timestamps: the frames, counted, at their rate
                fps = float(shown.rate)
                duration = _packets(path, v.index) / fps
            else:
                fps = float(v.average_rate or 0)
                if v.duration is not None and v.time_base is not None:
                    duration = float(v.duration * v.time_base)
                else:
                    duration = (c.duration or 0) / av.time_base
            width, height = shown.size(cc.width, cc.height)
            codec = cc.name
            sig = _signature(displayed_frame(frame, shown)) if signature else None
    except (av.error.FFmpegError, StopIteration, IndexError) as e:
        raise ValueError(f"not a readable video ({e.__class__.__name__})") from None
    return MediaFacts(
        "video",
        container,
        width,
        height,
        path.stat().st_size,
        duration,
        codec,
        fps,
        signature=sig,
        turn=shown.turn,
        mirror=shown.mirror,
        sar=None if shown.sar == 1 else f"{shown.sar.numerator}:{shown.sar.denominator}",
        stream=shown.index if note else None,
        stream_note=note,
        untimed=shown.rate is not None,
    )


def _packets(path: Path, index: int) -> int:
    """How many frames a stream holds, by its packets (nothing decoded)."""
    import av

    with av.open(str(path)) as c:
        return sum(1 for packet in c.demux(c.streams[index]) if packet.size)


def _is_still_image(ffmpeg_format: str) -> bool:
    return any(n == "image2" or n.endswith("_pipe") for n in ffmpeg_format.split(","))


def _container_name(ffmpeg_format: str, metadata: dict[str, str], path: Path) -> str:
    names = ffmpeg_format.split(",")
    if "mp4" in names or "mov" in names:
        brand = metadata.get("major_brand", "").strip()
        if brand == "qt":
            return "mov"
        if brand:
            return "mp4"
        return "mov" if path.suffix.lower() == ".mov" else "mp4"
    return names[-1] if "webm" in names else names[0]


def _written(rel: str) -> PurePosixPath:
    """A path as samples.yaml writes it: `/` or `\\` between its parts (Windows users)."""
    return PurePosixPath(rel.replace("\\", "/"))


def media_key(rel: str) -> str:
    """`rel` as DVC's records and git name it (`/` between its parts)."""
    return str(_written(rel))


def media_path(root: Path, rel: str) -> Path:
    """The file `rel` names under `root`: what validate checks is what build reads. Every
    command that opens a sample's media joins its path here."""
    return root.joinpath(*_written(rel).parts)


def resolve_media(root: Path, rel: str) -> Path | MediaProblem:
    """Where `rel` (as written in samples.yaml) points, if it stays inside `root`."""
    pure = _written(rel)
    if pure.is_absolute():
        return MediaProblem(
            "absolute", "an absolute path; write it relative to the effect directory"
        )
    if ".." in pure.parts:
        return MediaProblem(
            "traversal", "the path climbs out with '..'; keep media inside the effect"
        )
    path = media_path(root, rel)
    if not os.path.lexists(path):
        return MediaProblem("missing", "no such file")
    try:
        real = path.resolve(strict=True)
    except (RuntimeError, OSError) as e:  # a symlink loop, or a link to nothing
        why = "a symlink loop" if "loop" in str(e).lower() else "a broken symlink"
        return MediaProblem("not_file", f"{why}; point it at a real file")
    if not real.is_relative_to(root.resolve()):
        return MediaProblem("escapes", f"a symlink leading outside the effect directory ({real})")
    if not real.is_file():
        return MediaProblem("not_file", "not a regular file")
    return path


def probe_media_facts(path: Path, expected: str) -> MediaFacts:
    """Probe a file wanbuild made itself; raises ValueError if it is not readable."""
    return probe_image(path) if expected == "image" else probe_video(path)


def probe_path(where: Path, expected: str, *, signature: bool = False) -> Probe:
    """Probe a resolved file as `expected`; say what it is instead when it is the other type."""
    first, second = (
        (probe_image, probe_video) if expected == "image" else (probe_video, probe_image)
    )
    from wanbuild.media.display import Undisplayable

    try:
        return first(where, signature=signature)
    except Undisplayable as e:
        return MediaProblem("unreadable", str(e))
    except ValueError as e:
        reason = str(e)
    try:
        other = second(where)
    except ValueError:
        return MediaProblem("unreadable", f"{reason}: corrupt, truncated or not {expected} data")
    return MediaProblem("wrong_type", f"this is {other.type} data ({other.format}), not {expected}")

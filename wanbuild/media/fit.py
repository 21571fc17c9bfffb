"""Apply a Fit (wanbuild.core.fitting) to one file: Pillow for images, PyAV for videos.

Outputs are written next to their final name and renamed into place. Videos are decoded and
re-encoded to H.264 (yuv420p, even dimensions) at the source's frame rate, frames picked by
timestamp, so a clip is trimmed but never re-timed; audio is not carried over.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

from wanbuild.core.fitting import Fit
from wanbuild.errors import WanbuildError
from wanbuild.media.display import eight_bit, upright
from wanbuild.media.mp4tag import pin_muxer_tag
from wanbuild.media.stack import check_supported
from wanbuild.media.x264 import x264_options

_JPEG_QUALITIES = (95, 90, 85, 80, 70, 60, 50)


def fit_file(src: Path, dst: Path, fit: Fit) -> None:
    check_supported()
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp{dst.suffix}")
    try:
        if fit.type == "image":
            _fit_image(src, tmp, fit)
        else:
            _fit_video(src, tmp, fit)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def _fit_image(src: Path, dst: Path, fit: Fit) -> None:
    from PIL import Image, ImageOps

    with Image.open(src) as opened:
        if opened.format == "JPEG":
            opened.draft("RGB", (fit.width, fit.height))
        im = eight_bit(ImageOps.exif_transpose(opened))
        if im.size != (fit.width, fit.height):
            im = im.resize((fit.width, fit.height), Image.Resampling.LANCZOS)
        if fit.format in ("JPEG", "BMP") and im.mode not in ("RGB", "L"):
            im = im.convert("RGB")
        elif im.mode not in ("RGB", "RGBA", "L", "LA", "P"):
            im = im.convert("RGBA" if "A" in im.getbands() else "RGB")
        if fit.format != "JPEG":
            im.save(dst, fit.format)
            return
        for quality in _JPEG_QUALITIES:
            im.save(dst, "JPEG", quality=quality)
            if fit.max_bytes is None or dst.stat().st_size <= fit.max_bytes:
                return
    raise WanbuildError(
        f"{src}: still over {fit.max_bytes} bytes at JPEG quality {_JPEG_QUALITIES[-1]}; "
        "downscale it yourself"
    )


def _fit_video(src: Path, dst: Path, fit: Fit) -> None:
    import av

    with av.open(str(src)) as inp, av.open(str(dst), mode="w", format="mp4") as out:
        iv: Any = inp.streams[fit.stream] if fit.stream is not None else inp.streams.video[0]
        if fit.rate is not None:  # no timestamps: the rate the stream declares times it
            rate = Fraction(fit.rate).limit_denominator(1001)
        else:
            rate = _kept_rate(src, iv.index, iv.average_rate or iv.guessed_rate or Fraction(16))
        ov = out.add_stream("libx264", rate=Fraction(rate))
        ov.width, ov.height, ov.pix_fmt = fit.width, fit.height, "yuv420p"
        ov.codec_context.thread_count = 1
        ov.options = x264_options(18)
        if fit.max_bytes is not None:
            ov.options = {**ov.options, "maxrate": str(fit.max_bytes * 8 // 12), "bufsize": "4M"}
        shown = _shown(fit)
        start: float | None = None
        index = 0
        for n, frame in enumerate(inp.decode(iv)):
            t = float(frame.time) if frame.time is not None else n / float(rate)
            start = t if start is None else start
            t -= start
            if fit.trim_to_s is not None and t >= fit.trim_to_s - 1e-6:
                break
            # constant frame rate at the source's rate: emit this frame for every output slot
            # up to its timestamp, so durations (and speed) are kept; and in one slot at least,
            # so that no frame of an irregularly timed source (VFR, GIF's centiseconds) is lost
            out_frame = None
            while out_frame is None or index / rate <= t + 0.5 / float(rate):
                if out_frame is None:
                    out_frame = shown(frame)
                out_frame.pts = index
                out_frame.time_base = Fraction(1) / Fraction(rate)
                for packet in ov.encode(out_frame):
                    out.mux(packet)
                index += 1
        for packet in ov.encode():
            out.mux(packet)
    pin_muxer_tag(dst)


def _kept_rate(src: Path, index: int, declared: Fraction) -> Fraction:
    """The rate the output runs at: the one the container declares, unless the frames' own
    timestamps average to another (a variable frame rate, GIF's centisecond delays, a track
    whose default duration is not what its frames say): then that average, so that every
    frame gets its slot and the clip its duration. Read from the packets, nothing decoded."""
    import av

    with av.open(str(src)) as c:
        stream = c.streams[index]
        stamps = [p.pts for p in c.demux(stream) if p.pts is not None and p.size]
        base = stream.time_base
    if len(stamps) < 2 or base is None:
        return declared
    span = float((max(stamps) - min(stamps)) * base)
    if span <= 0:
        return declared
    average = (len(stamps) - 1) / span
    if abs(average - float(declared)) <= 0.01 * float(declared):
        return declared
    return Fraction(average).limit_denominator(1001)


def _shown(fit: Fit) -> Callable[[Any], Any]:
    """A decoded frame as the output's: scaled, and turned and mirrored as the display
    matrix says (the output carries none)."""
    import av

    if not (fit.turn or fit.mirror):
        return lambda frame: frame.reformat(width=fit.width, height=fit.height, format="yuv420p")

    def upright_frame(frame: Any) -> Any:
        im = upright(frame.to_image(), fit.turn, fit.mirror)
        im = im.resize((fit.width, fit.height), _lanczos())
        return av.VideoFrame.from_image(im).reformat(format="yuv420p")  # type: ignore[no-untyped-call]

    return upright_frame


def _lanczos() -> Any:
    from PIL import Image

    return Image.Resampling.LANCZOS

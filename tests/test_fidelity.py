"""What build ships is what the user shot: every fitted file, as a player displays it, is the
source's picture (orientation, aspect, tone, duration, frames), over a corpus of the media
people have, generated here with PyAV and Pillow. And no upgrade retrains: files that were
fitted correctly before are fitted byte for byte the same (pinned)."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import pytest
from PIL import Image

from tests.conftest import Run
from tests.helpers import edit_samples
from wanbuild.core.fitting import fit_media
from wanbuild.media.display import display_matrix
from wanbuild.media.fit import fit_file
from wanbuild.media.probe import probe_path
from wanbuild.media.synth import make_image, make_video
from wanbuild.spec.effect import ImageLimits, VideoLimits
from wanbuild.spec.media import MediaFacts

BEIJING_IMAGE = ImageLimits(
    formats=("BMP", "JPEG", "PNG", "WEBP"), max_width=1024, max_height=1024, max_bytes=10485760
)
BEIJING_VIDEO = VideoLimits(
    containers=("mp4", "mov"), max_width=512, max_height=512, max_bytes=10485760, max_duration_s=5.0
)


def fitted(src: Path, dst: Path, expected: str) -> tuple[MediaFacts, Path]:
    facts = probe_path(src, expected)
    assert isinstance(facts, MediaFacts), facts
    fit = fit_media(facts, BEIJING_IMAGE, BEIJING_VIDEO)
    assert fit is not None
    if not fit.needed:
        return facts, src  # shipped as it is
    out = dst.with_suffix(fit.ext)
    fit_file(src, out, fit)
    return facts, out


# Fitted outputs of files this version fitted correctly, as it wrote them: they must not move.
PINNED_FITS = {
    "wide.mp4": "bbdaca57659732986e09e7adbce5a3ca8362b15e9775a192f145b4a533a1f476",
    "long.mp4": "a486cc82edf5823403de2f5d60c6b238b78fab84bd731c05d109036dc947aad8",
    "clip.webm": "80a5accb81de535ca02dfb1f39d74b4a43d36dc1ca7b38edf40cf273853a3941",
    "big.png": "22332de93d17a3d12268b16908338b131e835607c5c8026aeb45237779163bef",
    "cmyk.tif": "22332de93d17a3d12268b16908338b131e835607c5c8026aeb45237779163bef",
}


def _pinned_sources(root: Path) -> dict[str, Path]:
    make_video(root / "wide.mp4", 3, (640, 360), seconds=1.0, fps=16)
    make_video(root / "long.mp4", 4, (320, 192), seconds=6.0, fps=8)
    make_video(root / "clip.webm", 5, (320, 192), seconds=1.0, fps=16, codec="libvpx-vp9")
    make_image(root / "big.png", 6, (1600, 900))
    Image.open(root / "big.png").convert("CMYK").save(root / "cmyk.tif")
    return {p.name: p for p in root.iterdir()}


def test_files_fitted_correctly_before_are_fitted_byte_for_byte_the_same(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    got = {}
    for name, path in _pinned_sources(src).items():
        kind = "image" if path.suffix in (".png", ".tif") else "video"
        _, out = fitted(path, tmp_path / "out" / name, kind)
        got[name] = hashlib.sha256(out.read_bytes()).hexdigest()
    assert got == PINNED_FITS


# The corpus. Every clip is made from an intended picture P, what a player must show: left
# half white, right half dark with a grey band on top (no turn or mirror leaves it the same),
# and a square at the bottom left whose grey moves every frame (each frame is distinct). The
# stored frames are P as the camera wrote them: turned back and mirrored where the file's
# display matrix (or EXIF orientation) turns and mirrors it for the player.

FPS = 16
MARKS = (0, 110, 220)  # the grey of frame i's square: MARKS[i % 3], unlike its neighbours'


def intended(w: int, h: int, i: int = 0) -> Image.Image:
    im = Image.new("L", (w, h), 40)
    im.paste(255, (0, 0, w // 2, h))
    im.paste(150, (w // 2, 0, w, h // 4))
    im.paste(MARKS[i % 3], (0, h // 2, w // 4, h))
    return im.convert("RGB")


def stored(p: Image.Image, turn: int, mirror: bool) -> Image.Image:
    """What a camera writes for a player that turns `turn` degrees counter-clockwise and then
    mirrors: the inverse, taken step by step from the picture the player must show."""
    T = Image.Transpose
    if mirror:
        p = p.transpose(T.FLIP_LEFT_RIGHT)
    if turn:
        p = p.transpose({90: T.ROTATE_270, 180: T.ROTATE_180, 270: T.ROTATE_90}[turn])
    return p


def clip(
    path: Path,
    size: tuple[int, int],
    frames: int,
    *,
    fmt: str | None = None,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    turn: int = 0,
    mirror: bool = False,
    sar: Fraction | None = None,
    cover: bool = False,
    times: list[float] | None = None,
    rate: int = FPS,
) -> Path:
    """A clip of `frames` frames of P (displayed `size`), stored as a camera would."""
    w, h = size
    coded = stored(intended(w, h), turn, mirror).size
    if sar is not None:  # stored narrower, shown wider
        coded = (round(coded[0] / sar), coded[1])
    with av.open(str(path), "w", format=fmt) as c:
        thumb = c.add_stream(codec, rate=rate) if cover else None
        if thumb is not None:  # a thumbnail first, as some phones and editors write one
            thumb.width, thumb.height, thumb.pix_fmt = 32, 32, pix_fmt
        s = c.add_stream(codec, rate=rate)
        s.width, s.height, s.pix_fmt = coded[0], coded[1], pix_fmt
        s.codec_context.thread_count = 1
        if sar is not None:
            s.codec_context.sample_aspect_ratio = sar
        if turn or mirror:
            s.set_display_rotation(turn, hflip=mirror)
        if times is not None:
            s.codec_context.time_base = Fraction(1, 1000)
        if thumb is not None:
            frame = av.VideoFrame.from_image(Image.new("RGB", (32, 32), (200, 30, 30)))
            frame.pts = 0
            for packet in [*thumb.encode(frame), *thumb.encode()]:
                c.mux(packet)
        for i in range(frames):
            im = stored(intended(w, h, i), turn, mirror).resize(coded)
            frame = av.VideoFrame.from_image(im).reformat(format=pix_fmt)
            if times is not None:
                frame.pts, frame.time_base = round(times[i] * 1000), Fraction(1, 1000)
            else:
                frame.pts = i
            for packet in s.encode(frame):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)
    return path


def displayed(path: Path) -> tuple[list[Image.Image], float]:
    """A fitted video as a player shows it (it must carry no display matrix and square
    pixels, so its decoded frames are what is shown), and its duration."""
    with av.open(str(path)) as c:
        [v] = c.streams.video
        assert not v.sample_aspect_ratio or v.sample_aspect_ratio == 1
        frames = []
        for frame in c.decode(v):
            assert display_matrix(frame.side_data) is None
            frames.append(frame.to_image().convert("RGB"))
        duration = float(v.duration * v.time_base) if v.duration else len(frames) / FPS
    return frames, duration


def difference(a: Image.Image, b: Image.Image) -> float:
    small = (16, 16)
    x = a.convert("L").resize(small, Image.Resampling.BOX).tobytes()
    y = b.convert("L").resize(small, Image.Resampling.BOX).tobytes()
    return sum(abs(p - q) for p, q in zip(x, y, strict=True)) / len(x)


def mean(im: Image.Image) -> float:
    data = im.convert("L").tobytes()
    return sum(data) / len(data)


def marks(frames: list[Image.Image]) -> list[int]:
    """The frames shown, in order, each once: the square's grey read off every frame (as the
    nearest of MARKS), runs of the same one (a frame held for several slots) collapsed."""
    seen = []
    for im in frames:
        w, h = im.size
        box = im.convert("L").crop((w // 40, h * 3 // 5, w // 5, h * 19 // 20))
        grey = mean(box)
        seen.append(min(range(len(MARKS)), key=lambda k: abs(MARKS[k] - grey)))
    return [k for k, _ in itertools.groupby(seen)]


# name -> (how to make it, the displayed size, frames, seconds of it a fit keeps)
VIDEOS = {
    "portrait phone clip (90)": (dict(turn=90), (72, 128), 16),
    "portrait 1280x720 stored, 90": (dict(turn=90), (720, 1280), 8),
    "upside down (180)": (dict(turn=180), (128, 72), 16),
    "portrait the other way (270)": (dict(turn=270), (72, 128), 16),
    "mirrored (front camera)": (dict(mirror=True), (128, 72), 16),
    "portrait and mirrored": (dict(turn=90, mirror=True), (72, 128), 16),
    "upside down and mirrored": (dict(turn=180, mirror=True), (128, 72), 16),
    "anamorphic (sample aspect 2:1)": (dict(sar=Fraction(2)), (128, 64), 16),
    "a cover picture before the clip (MOV)": (dict(cover=True, fmt="mov"), (128, 72), 16),
    "raw H.264 stream, 3 s": (dict(fmt="h264"), (640, 360), 48),
    "raw HEVC stream": (dict(fmt="hevc", codec="libx265"), (128, 72), 16),
    "MKV": (dict(fmt="matroska"), (128, 72), 16),
    "MPEG-TS": (dict(fmt="mpegts"), (128, 72), 16),
    "WebM VP9": (dict(fmt="webm", codec="libvpx-vp9"), (128, 72), 16),
    "AVI MPEG-4": (dict(fmt="avi", codec="mpeg4"), (128, 72), 16),
    "ProRes 422 MOV": (dict(fmt="mov", codec="prores_ks", pix_fmt="yuv422p10le"), (128, 72), 16),
    "HEVC 10-bit MP4": (dict(fmt="mp4", codec="libx265", pix_fmt="yuv420p10le"), (128, 72), 16),
    "GIF": (dict(fmt="gif", codec="gif", pix_fmt="rgb8"), (128, 72), 16),
    "variable frame rate, scaled to fit": (
        dict(times=[(i // 2) * 0.1 + (0.02 if i % 2 else 0.0) for i in range(24)]),
        (640, 360),
        24,
    ),
    "variable frame rate MKV": (
        dict(fmt="matroska", times=[(i // 2) * 0.1 + (0.02 if i % 2 else 0.0) for i in range(24)]),
        (128, 72),
        24,
    ),
    "240 fps, 4K-wide over the limit": (dict(rate=240), (1024, 576), 24),
    "longer than the limit (6 s)": (dict(), (128, 72), 96),
}
SUFFIX = {
    "h264": ".h264",
    "hevc": ".hevc",
    "matroska": ".mkv",
    "mpegts": ".ts",
    "webm": ".webm",
    "avi": ".avi",
    "gif": ".gif",
    "mov": ".mov",
}


@pytest.mark.parametrize("name", list(VIDEOS))
def test_a_fitted_clip_shows_what_the_source_shows(tmp_path: Path, name: str) -> None:
    how, size, frames = VIDEOS[name]
    src = clip(tmp_path / f"src{SUFFIX.get(str(how.get('fmt')), '.mp4')}", size, frames, **how)  # type: ignore[arg-type]
    facts, out = fitted(src, tmp_path / "out", "video")
    assert (facts.width, facts.height) == size, facts  # the probe sees what a player shows
    shown, duration = displayed(out)
    w, h = shown[0].size
    assert abs(w / h - size[0] / size[1]) <= 0.02 * size[0] / size[1], (w, h)
    want = intended(w, h)
    assert difference(shown[0], want) < 12, "not the picture the source shows"
    assert abs(mean(shown[0]) - mean(want)) < 4
    rate = how.get("rate", FPS)
    times = how.get("times")
    if times:  # variable frame rate: each frame lasts until the next, the last one 1/FPS
        source_s, starts = times[-1] + 1 / FPS, times  # type: ignore[index,operator]
    else:
        source_s, starts = frames / rate, [i / rate for i in range(frames)]  # type: ignore[operator]
    kept_s = min(source_s, BEIJING_VIDEO.max_duration_s)
    assert abs(duration - kept_s) <= max(1 / FPS, 1 / rate) + 1e-6, (duration, kept_s)  # type: ignore[operator]
    kept = sum(1 for t in starts if t < kept_s - 1e-6)  # type: ignore[attr-defined]
    assert marks(shown) == [i % 3 for i in range(kept)], "frames lost or out of order"


# Images: P again (no marker), stored as the file's orientation and mode need, large enough
# that build must fit it (over 1024x1024), or in a format it must convert.

EXIF_SHOWS = {  # EXIF orientation -> how a viewer turns the stored picture to show it
    2: [Image.Transpose.FLIP_LEFT_RIGHT],
    3: [Image.Transpose.ROTATE_180],
    4: [Image.Transpose.FLIP_TOP_BOTTOM],
    5: [Image.Transpose.TRANSPOSE],
    6: [Image.Transpose.ROTATE_270],
    7: [Image.Transpose.TRANSVERSE],
    8: [Image.Transpose.ROTATE_90],
}
EXIF_UNDO = {6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}


def exif_jpeg(path: Path, p: Image.Image, orientation: int) -> Path:
    im = p
    if orientation in EXIF_SHOWS:
        im = p.transpose(EXIF_UNDO.get(orientation, EXIF_SHOWS[orientation][0]))
    exif = Image.Exif()
    exif[0x0112] = orientation
    im.save(path, "JPEG", quality=95, exif=exif)
    return path


def png16_rgb(path: Path, p: Image.Image) -> Path:
    """A 16-bit-per-channel RGB PNG (Pillow cannot write one), written chunk by chunk."""
    import struct
    import zlib

    w, h = p.size
    rows = b"".join(
        b"\0"
        + b"".join(struct.pack(">HHH", *(v * 257 for v in p.getpixel((x, y)))) for x in range(w))
        for y in range(h)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    head = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", head)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
    return path


def ramp(w: int, h: int) -> Image.Image:
    """Black to white, left to right (the tones a 16-bit scan holds), white band on top."""
    im = Image.new("L", (w, h))
    im.putdata([x * 255 // (w - 1) for _ in range(h) for x in range(w)])
    im.paste(255, (0, 0, w, h // 8))
    return im.convert("RGB")


BIG = (1200, 800)


def _image_corpus(root: Path) -> dict[str, tuple[Path, Image.Image]]:
    p = intended(*BIG)
    r = ramp(*BIG)
    made: dict[str, tuple[Path, Image.Image]] = {}
    for n in range(1, 9):
        made[f"JPEG, EXIF orientation {n}"] = (exif_jpeg(root / f"exif{n}.jpg", p, n), p)
    grey16 = r.convert("L").convert("I").point(lambda v: v * 257).convert("I;16")
    assert grey16.mode == "I;16"
    assert grey16.getextrema() == (0, 65535)
    grey16.save(root / "grey16.png")
    made["16-bit grey PNG (a ramp)"] = (root / "grey16.png", r)
    made["16-bit RGB PNG"] = (png16_rgb(root / "rgb16.png", p.resize((600, 400))), p)
    r.convert("L").convert("I").save(root / "int32.tif")
    made["32-bit integer TIFF (8-bit values)"] = (root / "int32.tif", r)
    r.convert("L").convert("F").point(lambda v: v / 255).save(root / "float.tif")
    made["float TIFF (0-1)"] = (root / "float.tif", r)
    p.convert("L").save(root / "grey.png")
    made["8-bit grey PNG"] = (root / "grey.png", p)
    p.convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(
        root / "palette.png", transparency=0
    )
    made["palette PNG with transparency"] = (root / "palette.png", p)
    rgba = p.copy()
    rgba.putalpha(255)
    rgba.save(root / "alpha.png")
    made["RGBA PNG"] = (root / "alpha.png", p)
    la = p.convert("L")
    la.putalpha(255)
    la.save(root / "la.png")
    made["grey and alpha PNG"] = (root / "la.png", p)
    p.convert("CMYK").save(root / "cmyk.jpg", quality=95)
    made["CMYK JPEG"] = (root / "cmyk.jpg", p)
    p.convert("YCbCr").save(root / "ycbcr.tif")
    made["YCbCr TIFF"] = (root / "ycbcr.tif", p)
    p.save(root / "plain.tif")
    made["TIFF"] = (root / "plain.tif", p)
    p.save(root / "pic.webp", quality=95)
    made["WebP"] = (root / "pic.webp", p)
    p.convert("P").save(root / "still.gif")
    made["GIF (a still)"] = (root / "still.gif", p)
    p.save(root / "pic.bmp")
    made["BMP"] = (root / "pic.bmp", p)
    return made


IMAGES = [
    *(f"JPEG, EXIF orientation {n}" for n in range(1, 9)),
    "16-bit grey PNG (a ramp)",
    "16-bit RGB PNG",
    "32-bit integer TIFF (8-bit values)",
    "float TIFF (0-1)",
    "8-bit grey PNG",
    "palette PNG with transparency",
    "RGBA PNG",
    "grey and alpha PNG",
    "CMYK JPEG",
    "YCbCr TIFF",
    "TIFF",
    "WebP",
    "GIF (a still)",
    "BMP",
]


@pytest.fixture(scope="module")
def image_corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Image.Image]]:
    return _image_corpus(tmp_path_factory.mktemp("images"))


@pytest.mark.parametrize("name", IMAGES)
def test_a_fitted_image_shows_what_the_source_shows(
    image_corpus: dict[str, tuple[Path, Image.Image]], tmp_path: Path, name: str
) -> None:
    src, want = image_corpus[name]
    facts, out = fitted(src, tmp_path / "out", "image")
    assert abs(facts.width / facts.height - want.width / want.height) < 0.02, facts
    with Image.open(out) as im:
        assert im.getexif().get(0x0112, 1) == 1  # what it shows is its pixels
        shown = im.convert("RGB")
    w, h = shown.size
    assert abs(w / h - want.width / want.height) <= 0.02 * want.width / want.height, (w, h)
    expected = want.resize((w, h))
    assert difference(shown, expected) < 12, "not the picture the source shows"
    assert abs(mean(shown) - mean(expected)) < 4, (mean(shown), mean(expected))


# The six symptoms as a user meets them: `build` of an effect (real files made here).


def zipped_video(zip_path: Path, name: str, where: Path) -> Path:
    import zipfile

    with zipfile.ZipFile(zip_path) as z:
        where.write_bytes(z.read(name))
    return where


def test_build_ships_a_portrait_phone_clip_upright_and_says_so(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path
) -> None:
    d = effect_factory("fx")
    clip(d / "media/s01.mp4", (720, 1280), 8, turn=90)  # stored 1280x720, shown portrait
    intended(720, 1280).save(d / "media/s01.jpg", quality=95)
    result = run("build", str(d))
    assert result.code == 0, result.out + result.err
    assert "media/s01.mp4: display matrix applied (turned 90°), 720x1280 -> 288x512" in result.out
    shown, _ = displayed(
        zipped_video(tmp_path / "build/fx/train.zip", "s01.mp4", tmp_path / "x.mp4")
    )
    assert shown[0].size == (288, 512)
    assert difference(shown[0], intended(288, 512)) < 12
    warned = run("validate", str(d))
    assert "does not look like the first frame" not in warned.out  # compared as shown


def test_build_times_a_raw_stream_from_its_own_rate_and_keeps_every_frame(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path
) -> None:
    d = effect_factory("fx")
    clip(d / "media/s01.h264", (640, 360), 48, fmt="h264")  # 3 s at 16 fps, no timestamps
    edit_samples(d, "train", 0, video="media/s01.h264")
    intended(640, 360).save(d / "media/s01.jpg", quality=95)
    result = run("build", str(d))
    assert result.code == 0, result.out + result.err
    assert "no timestamps: timed at its declared 16 fps" in result.out
    shown, duration = displayed(
        zipped_video(tmp_path / "build/fx/train.zip", "s01.mp4", tmp_path / "x.mp4")
    )
    assert len(shown) == 48
    assert abs(duration - 3.0) <= 1 / 16


def test_a_raw_stream_with_no_rate_of_its_own_is_refused_naming_the_fix(
    effect_factory: Callable[..., Path], run: Callable[..., Run]
) -> None:
    d = effect_factory("fx")
    clip(d / "media/s01.mjpeg", (128, 72), 8, fmt="mjpeg", codec="mjpeg", pix_fmt="yuvj420p")
    edit_samples(d, "train", 0, video="media/s01.mjpeg")
    result = run("build", str(d))
    assert result.code == 1, result.out + result.err
    assert "media/s01.mjpeg" in result.out + result.err
    assert "no timestamps and no frame rate of its own" in result.out + result.err
    assert "ffmpeg -framerate" in result.out + result.err


def test_build_uses_the_clip_not_its_cover_picture_and_names_it(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path
) -> None:
    d = effect_factory("fx")
    clip(d / "media/s01.mov", (128, 72), 16, fmt="mov", cover=True)
    edit_samples(d, "train", 0, video="media/s01.mov")
    result = run("build", str(d))
    assert result.code == 0, result.out + result.err
    assert "video stream #1 used, 128x72, the one a player shows (1 cover picture)" in result.out
    shown, _ = displayed(
        zipped_video(tmp_path / "build/fx/train.zip", "s01.mp4", tmp_path / "x.mp4")
    )
    assert len(shown) == 16
    assert shown[0].size == (128, 72)


def test_a_windows_path_reads_the_file_validate_accepted(
    effect_factory: Callable[..., Path], run: Callable[..., Run]
) -> None:
    d = effect_factory("fx")
    edit_samples(d, "train", 0, first_frame="media\\s01.jpg", video="media\\s01.mp4")
    assert run("validate", str(d)).code == 0
    result = run("build", str(d))
    assert result.code == 0, result.out + result.err
    assert "bug in wanbuild" not in result.err


def test_a_kf2v_last_frame_of_another_aspect_is_warned_naming_the_file(
    effect_factory: Callable[..., Path], run: Callable[..., Run]
) -> None:
    d = effect_factory("fx", "kf2v")
    make_image(d / "media/s01_last.jpg", 1, (96, 96))  # square, for a 128x96 clip
    result = run("validate", str(d))
    assert (
        "media/s01_last.jpg is 96x96 but media/s01.mp4 is 128x96: a different aspect ratio"
        in result.out
    )
    assert "use the clip's own last frame" in result.out


def test_no_file_of_the_corpus_is_a_bug_to_any_command(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path
) -> None:
    """Each clip of the corpus as a sample's video, plus broken ones: validate, build and
    plan end with 0 or 1, never with wanbuild's 3 (a bug)."""
    d = effect_factory("fx", n_train=len(VIDEOS) + 2)
    for i, (how, size, frames) in enumerate(VIDEOS.values(), 1):
        suffix = SUFFIX.get(str(how.get("fmt")), ".mp4")
        clip(d / f"media/c{i}{suffix}", size, frames, **how)  # type: ignore[arg-type]
        intended(*size).save(d / f"media/s{i:02d}.jpg", quality=90)
        edit_samples(d, "train", i - 1, video=f"media/c{i}{suffix}")
    n = len(VIDEOS)
    (d / "media/truncated.mp4").write_bytes((d / "media/c1.mp4").read_bytes()[:600])
    edit_samples(d, "train", n, video="media/truncated.mp4")
    (d / "media/noise.mov").write_bytes(bytes(range(256)) * 40)
    edit_samples(d, "train", n + 1, video="media/noise.mov")
    for argv in (["validate", str(d)], ["build", str(d)], ["plan", str(d)]):
        result = run(*argv)
        assert result.code in (0, 1, 2), (argv, result.out, result.err)
        assert "bug in wanbuild" not in result.err, result.err

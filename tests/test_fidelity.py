"""What build ships is what the user shot: every fitted file, as a player displays it, is the
source's picture (orientation, aspect, tone, duration, frames), over a corpus of the media
people have, generated here with PyAV and Pillow. And no upgrade retrains: files that were
fitted correctly before are fitted byte for byte the same (pinned)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from PIL import Image

from wanbuild.core.fitting import fit_media
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
    assert fit.needed
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

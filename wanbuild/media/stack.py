"""The libraries that make build's bytes, and whether they are ones wanbuild supports.

PyAV bundles FFmpeg and libx264, Pillow bundles libjpeg-turbo and zlib: which releases are
installed decides the bytes of every fitted clip and picture, and so the dataset fingerprint.
`built_with()` names them (the build manifest records it, `wanbuild --version` prints it);
`check_supported()` refuses, once per process and before any media is read, a PyAV or Pillow
outside the ranges wanbuild's own package metadata declares.
"""

from __future__ import annotations

import functools
import re
from fractions import Fraction
from importlib import metadata
from typing import Any

from wanbuild.errors import WanbuildError

# The distributions whose release changes the bytes build writes.
MEDIA_PACKAGES = ("av", "pillow")
# The local extra's libraries whose releases decide what a local job computes.
LOCAL_PACKAGES = ("torch", "diffusers", "peft", "transformers", "accelerate")
INSTALL_LOCKED = "pip install -e . -c .ci/constraints.txt"


def installed(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _declared(dist: str) -> str | None:
    """The version range wanbuild's metadata asks for `dist`, e.g. '<19,>=18.1'."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    try:
        requires = metadata.requires("wanbuild") or []
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        return None
    for line in requires:
        req = Requirement(line)
        if canonicalize_name(req.name) == canonicalize_name(dist) and not req.marker:
            return str(req.specifier)
    return None


def unsupported(found: dict[str, str | None], declared: dict[str, str | None]) -> list[str]:
    """One sentence per package whose found version is outside its declared range."""
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version

    problems = []
    for dist, version in found.items():
        spec = declared.get(dist)
        if version is None or not spec:
            continue
        try:
            ok = SpecifierSet(spec).contains(Version(version), prereleases=True)
        except InvalidVersion:
            ok = False
        if not ok:
            problems.append(f"{dist} {version} is installed; wanbuild supports {dist}{spec}")
    return problems


@functools.cache
def check_supported() -> None:
    """Raise (exit 1) when an installed PyAV or Pillow is outside the supported range."""
    found = {d: installed(d) for d in MEDIA_PACKAGES}
    problems = unsupported(found, {d: _declared(d) for d in MEDIA_PACKAGES})
    if problems:
        raise WanbuildError(
            f"{'; '.join(problems)}: its media output (and so dataset fingerprints) is "
            f"untested; install the tested set with `{INSTALL_LOCKED}` "
            "(with `[dev,local]` for the extras)"
        )


@functools.cache
def built_with() -> dict[str, str]:
    """The releases that produce build's bytes: {'av': '18.1.1', 'ffmpeg': '8.1.3',
    'libavcodec': '62.28.103', 'libx264': '165', 'pillow': '13.0.0', 'libjpeg-turbo': '3.2.0',
    'zlib-ng': '2.3.3', ...}."""
    import av
    from PIL import features

    stack: dict[str, str] = {"av": av.__version__}
    ffmpeg = getattr(av, "ffmpeg_version_info", None)
    if ffmpeg:
        stack["ffmpeg"] = str(ffmpeg)
    for lib in ("libavcodec", "libavformat", "libswscale"):
        numbers = av.library_versions.get(lib)
        if numbers:
            stack[lib] = ".".join(str(v) for v in numbers)
    x264 = _x264_build(av)
    if x264:
        stack["libx264"] = x264
    stack["pillow"] = installed("pillow") or "unknown"
    # the JPEG and PNG encoders Pillow bundles: the first of each pair it has
    for pair in (("libjpeg_turbo", "jpg"), ("zlib_ng", "zlib")):
        for feature in pair:
            found = _feature_version(features, feature)
            if found:
                stack[{"jpg": "libjpeg"}.get(feature, feature).replace("_", "-")] = found
                break
    return stack


def _feature_version(features: Any, feature: str) -> str | None:
    try:
        version = features.version(feature)
    except ValueError:  # a feature this Pillow does not know
        return None
    return str(version) if version else None


@functools.cache
def stack_key() -> str:
    """A short digest of built_with(): what the fitted-media cache is keyed by."""
    import hashlib
    import json

    return hashlib.sha256(json.dumps(built_with(), sort_keys=True).encode()).hexdigest()[:16]


def _x264_build(av: Any) -> str | None:
    """libx264's build number, as the encoder itself writes it into its stream ("core 165")."""
    try:
        ctx = av.CodecContext.create("libx264", "w")
        ctx.width, ctx.height, ctx.pix_fmt = 16, 16, "yuv420p"
        ctx.time_base = Fraction(1, 16)
        frame = av.VideoFrame(16, 16, "yuv420p")
        frame.pts = 0
        data = b"".join(bytes(p) for p in [*ctx.encode(frame), *ctx.encode(None)])
    except Exception:  # noqa: BLE001 - a PyAV without libx264 has no build to name
        return None
    found = re.search(rb"x264 - core (\d+)( r\d+)?", data)
    return found.group(1).decode() + (found.group(2) or b"").decode() if found else None

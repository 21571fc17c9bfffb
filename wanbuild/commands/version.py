"""`wanbuild --version`: wanbuild and every library whose release decides what it makes.

PyAV (with the FFmpeg and libx264 it bundles) and Pillow (its libjpeg-turbo and zlib) decide
the bytes of a built dataset; torch, diffusers and peft those of a local job. Reading this
from two machines says why they built the same clip to different bytes.
"""

from __future__ import annotations

import platform
import sys

from wanbuild import __version__
from wanbuild.errors import WanbuildError
from wanbuild.media.stack import LOCAL_PACKAGES, built_with, check_supported, installed


def version_text() -> str:
    lines = [
        f"wanbuild {__version__}",
        f"Python {platform.python_version()} ({platform.python_implementation()}, "
        f"{platform.system()} {platform.machine()})",
    ]
    try:
        stack = built_with()
    except Exception as e:  # noqa: BLE001 - a broken install is what this is asked to show
        lines.append(f"media: PyAV or Pillow cannot be loaded ({type(e).__name__}: {e})")
        return "\n".join(lines)
    libs = ", ".join(
        f"{k} {stack[k]}" for k in ("libavcodec", "libavformat", "libswscale") if k in stack
    )
    ffmpeg = f"FFmpeg {stack.get('ffmpeg', '?')}" + (f" ({libs})" if libs else "")
    lines.append(f"PyAV {stack['av']}: {ffmpeg}, libx264 {stack.get('libx264', 'absent')}")
    encoders = ", ".join(
        f"{k} {stack[k]}" for k in ("libjpeg-turbo", "libjpeg", "zlib-ng", "zlib") if k in stack
    )
    lines.append(f"Pillow {stack['pillow']}" + (f": {encoders}" if encoders else ""))
    local = [(d, installed(d)) for d in LOCAL_PACKAGES]
    if any(v for _, v in local):
        lines.append("local extra: " + ", ".join(f"{d} {v or 'absent'}" for d, v in local))
    else:
        lines.append("local extra: not installed")
    try:
        check_supported()
    except WanbuildError as e:
        lines.append(f"warning: {e}")
    return "\n".join(lines)


def print_version() -> None:
    print(version_text(), file=sys.stdout)

"""Benchmark `wanbuild build` against the raw cost of reading, hashing and copying the same bytes.

    python bench/build_bench.py [--mb 500]

Makes an i2v dataset (Singapore limits: no per-file size cap) of real media padded to size:
JPEG first frames with trailing bytes and MP4 clips with an MP4 `free` box, both still valid
media. Then, in this run, on the same files (page cache warm for both):

  baseline  read + sha256 + copy of every media file, 1 MiB chunks (what any build must do)
  cold      `wanbuild build` in a fresh process with empty caches (probe, hash, zip, hash zip)
  rezip     zips deleted, caches warm (no media hashing, just the zip write)
  noop      nothing changed (stat checks only)

and prints MB/s, the ratio to the baseline, and the build process's peak RSS at half and full
size, to show that memory does not grow with the dataset.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

EFFECT = {
    "defaults": [
        "config",
        {"override model": "wan2.5-i2v-preview"},
        {"override region": "ap-southeast-1"},
        "_self_",
    ],
    "trigger": "zq7x9k",
    "effect": "Then the {trigger} effect begins.",
}


def pad_mp4(path: Path, size: int) -> None:
    extra = size - path.stat().st_size
    if extra > 8:
        with path.open("ab") as f:
            f.write(struct.pack(">I", extra) + b"free")
            f.write(b"\0" * (extra - 8))


def pad_jpeg(path: Path, size: int) -> None:
    extra = size - path.stat().st_size
    if extra > 0:
        with path.open("ab") as f:
            f.write(b"\0" * extra)


def make_dataset(root: Path, total_mb: int, *, padded: bool = True) -> Path:
    """`padded=False`: the same samples, captions and media, without the padding (a few KB
    each): its build costs what a build costs besides reading the bytes."""
    from wanbuild.media.synth import make_image, make_video

    d = root / "effects" / (f"bench{total_mb}" if padded else f"bench{total_mb}small")
    (d / "media").mkdir(parents=True)
    per_sample = 10 * 2**20  # 8 MB clip + 2 MB frame
    n = max(10, total_mb * 2**20 // per_sample)
    train = []
    for i in range(n):
        sid = f"s{i:03d}"
        make_image(d / f"media/{sid}.jpg", i, (256, 256))
        if padded:
            pad_jpeg(d / f"media/{sid}.jpg", 2 * 2**20)
        make_video(d / f"media/{sid}.mp4", i, (128, 128), seconds=1.0, fps=8)
        if padded:
            pad_mp4(d / f"media/{sid}.mp4", 8 * 2**20)
        train.append(
            {
                "id": sid,
                "first_frame": f"media/{sid}.jpg",
                "video": f"media/{sid}.mp4",
                "subject": f"Subject {i}.",
                "background": f"Background {i}.",
            }
        )
    (d / "effect.yaml").write_text(yaml.safe_dump(EFFECT, sort_keys=False))
    (d / "samples.yaml").write_text(yaml.safe_dump({"train": train}, sort_keys=False))
    return d


def baseline(media: list[Path], out: Path) -> float:
    out.mkdir(exist_ok=True)
    start = time.perf_counter()
    for p in media:
        h = hashlib.sha256()
        with p.open("rb") as src, (out / p.name).open("wb") as dst:
            while chunk := src.read(1 << 20):
                h.update(chunk)
                dst.write(chunk)
    return time.perf_counter() - start


def run_build(root: Path, effect: Path, home: Path) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one `wanbuild build` process."""
    env = {**os.environ, "WANBUILD_HOME": str(home)}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "wanbuild", "build", str(effect)],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    output = proc.stdout.read().decode() if proc.stdout else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"build failed:\n{output}")
    return elapsed, usage.ru_maxrss / 1024


def measure(root: Path, total_mb: int) -> dict[str, float]:
    # The dataset is made in a child process, and the page cache warmed in chunks: on Linux a
    # child inherits its parent's peak RSS, which would hide the build's own.
    subprocess.run([sys.executable, __file__, "--make", str(root), str(total_mb)], check=True)
    small, _ = run_build(
        root, root / "effects" / f"bench{total_mb}small", root / f"home{total_mb}s"
    )
    effect = root / "effects" / f"bench{total_mb}"
    media = sorted((effect / "media").iterdir())
    size_mb = sum(p.stat().st_size for p in media) / 2**20
    for p in media:  # warm the page cache for both sides alike
        with p.open("rb") as f:
            while f.read(1 << 20):
                pass
    base = baseline(media, root / f"copy{total_mb}")
    home = root / f"home{total_mb}"
    cold, rss = run_build(root, effect, home)
    shutil.rmtree(root / "build" / effect.name)
    rezip, _ = run_build(root, effect, home)
    noop, _ = run_build(root, effect, home)
    return {
        "mb": size_mb,
        "baseline": base,
        "cold": cold,
        "small": small,
        "rezip": rezip,
        "noop": noop,
        "rss": rss,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=500)
    parser.add_argument("--make", nargs=2, metavar=("ROOT", "MB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make:
        make_dataset(Path(args.make[0]), int(args.make[1]))
        make_dataset(Path(args.make[0]), int(args.make[1]), padded=False)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        half = measure(root, args.mb // 2)
        full = measure(root, args.mb)
    print(f"dataset {full['mb']:.0f} MB of media ({args.mb // 10} samples: 2 MB JPEG + 8 MB MP4)")
    rate = full["mb"] / full["baseline"]
    print(f"  baseline read+sha256+copy : {full['baseline']:6.2f} s  {rate:7.0f} MB/s")
    for key, label in (
        ("cold", "wanbuild build, cold"),
        ("rezip", "rebuild, caches warm"),
        ("noop", "no-op (up to date)"),
    ):
        mbs = full["mb"] / full[key]
        print(
            f"  {label:<26}: {full[key]:6.2f} s  {mbs:7.0f} MB/s  "
            f"x{full[key] / full['baseline']:.2f} of baseline time"
        )
    data = full["cold"] - full["small"]
    print(
        f"  the bytes alone (cold build less the same effect unpadded, {full['small']:.2f} s):"
        f" {data:6.2f} s  {full['mb'] / data:7.0f} MB/s  x{data / full['baseline']:.2f} of baseline"
    )
    print(
        f"peak RSS of build: {half['rss']:.0f} MB at {half['mb']:.0f} MB, "
        f"{full['rss']:.0f} MB at {full['mb']:.0f} MB "
        f"(x{full['rss'] / half['rss']:.2f} for x{full['mb'] / half['mb']:.1f} data)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

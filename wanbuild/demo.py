"""Generate the demo effects' media: `python -m wanbuild.demo effects/money_rain`.

Reads the effect's samples.yaml and writes every media file it names, synthetic and
deterministic (seeded by effect and sample id), so a fresh clone can rebuild the demos without
any DVC remote. The root dvc.yaml runs this as the `demo_media` stage; its outputs are tracked
by DVC, not git.
"""

from __future__ import annotations

import sys
import zlib
from pathlib import Path
from typing import Any

import yaml
from PIL import Image, ImageDraw

from wanbuild.media.synth import blend_frames, rain_frames, save_image, scene, write_video

VIDEO_SIZES = ((320, 240), (240, 320), (256, 256))
IMAGE_SIZES = ((384, 384), (384, 512), (512, 384))
FPS = 16
SECONDS = 2.0


def stylize(base: Image.Image, seed: int) -> Image.Image:
    """The 'after' look shared by every sample: red-black armour stripes and a framed border."""
    im = base.copy()
    w, h = im.size
    draw = ImageDraw.Draw(im)
    draw.rectangle([0, 0, w - 1, h - 1], outline=(190, 20, 30), width=max(4, w // 40))
    cx = w // 2 + (seed % 7) - 3
    body = [cx - w // 6, h // 5 + h // 6, cx + w // 6, h - h // 12]
    draw.rectangle(body, fill=(170, 16, 24))
    for y in range(body[1], body[3], max(h // 24, 4)):
        draw.line([(body[0], y), (body[2], y)], fill=(10, 10, 10), width=2)
    return im


def _seconds(effect_dir: Path) -> float:
    """How long the demo's clips are: as long as a local effect trains on (its num_frames at
    16 fps, so that nothing is read past or left over), else SECONDS."""
    doc = yaml.safe_load((effect_dir / "effect.yaml").read_text("utf-8")) or {}
    frames = (doc.get("hyper_parameters") or {}).get("num_frames")
    return frames / FPS if isinstance(frames, int) else SECONDS


def generate(effect_dir: Path) -> list[Path]:
    samples: dict[str, Any] = yaml.safe_load((effect_dir / "samples.yaml").read_text("utf-8"))
    seconds = _seconds(effect_dir)
    written: list[Path] = []
    for split in ("train", "validation"):
        for sample in samples.get(split) or []:
            seed = zlib.crc32(f"{effect_dir.resolve().name}/{sample['id']}".encode())
            is_video = "video" in sample or "first_frame" in sample
            size = (VIDEO_SIZES if is_video else IMAGE_SIZES)[seed % 3]
            base = scene(seed, size)
            after = stylize(base, seed)
            frames = round(seconds * FPS)
            outputs: dict[str, Any] = {
                "first_frame": base,
                "last_frame": after,
                "input_image": base,
                "image": after if "input_image" in sample else stylize(base, seed),
            }
            for key, value in outputs.items():
                if key in sample:
                    path = effect_dir / sample[key]
                    save_image(value, path)
                    written.append(path)
            if "video" in sample:
                path = effect_dir / sample["video"]
                clip = (
                    blend_frames(base, after, int(frames))
                    if "last_frame" in sample
                    else rain_frames(base, int(frames), seed)
                )
                write_video(path, clip, size, FPS)
                written.append(path)
    return written


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m wanbuild.demo effects/NAME [...]", file=sys.stderr)
        return 1
    for arg in argv:
        written = generate(Path(arg))
        print(f"{arg}: wrote {len(written)} media files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

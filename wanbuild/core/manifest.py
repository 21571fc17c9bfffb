"""The build manifest and the dataset fingerprint.

The fingerprint is a hash over what the service will see: per zip, every entry's name and
content hash (data.jsonl included). Source paths, mtimes and the machine do not enter it, so an
unchanged dataset keeps its fingerprint wherever and whenever it is built.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

MANIFEST_FORMAT = 1


@dataclass(frozen=True)
class Entry:
    name: str
    size: int
    sha256: str
    source: str | None = None  # the media file it came from, relative to the effect
    source_sha256: str | None = None
    fit: str | None = None  # what build changed, when it did


@dataclass(frozen=True)
class ZipSpec:
    split: str
    file: str
    entries: tuple[Entry, ...]


def fingerprint(kind: str, zips: tuple[ZipSpec, ...]) -> str:
    content = {
        "kind": kind,
        "zips": {z.split: sorted([e.name, e.sha256] for e in z.entries) for z in zips},
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(canonical).hexdigest()


def manifest(
    *,
    effect: str,
    kind: str,
    model: str,
    region: str,
    zips: tuple[ZipSpec, ...],
    zip_files: dict[str, tuple[str, int]],
    fingerprint: str,
    built_with: dict[str, str],
) -> dict[str, Any]:
    """The manifest document; zip_files maps a split to its zip's (sha256, size), built_with
    names the releases of the libraries that fitted the media (PyAV, FFmpeg, libx264, Pillow)."""
    return {
        "format": MANIFEST_FORMAT,
        "effect": effect,
        "kind": kind,
        "model": model,
        "region": region,
        "fingerprint": fingerprint,
        "built_with": dict(sorted(built_with.items())),
        "zips": {
            z.split: {
                "file": z.file,
                "sha256": zip_files[z.split][0],
                "size": zip_files[z.split][1],
                "entries": [
                    {k: v for k, v in asdict(e).items() if v is not None}
                    for e in sorted(z.entries, key=lambda e: e.name)
                ],
            }
            for z in zips
        },
    }


# What fitted the media (media.stack.built_with): read back, and compared.


def recorded_built_with(doc: Any) -> dict[str, str] | None:
    """A manifest's `built_with`, or None where it records none (written before it was)."""
    recorded = doc.get("built_with") if isinstance(doc, dict) else None
    return dict(recorded) if isinstance(recorded, dict) else None


def stack_differences(
    here: dict[str, str], there: dict[str, str], labels: tuple[str, str] = ("here", "there")
) -> list[str]:
    """'av 18.1.1 here, 18.1.0 there' for each component the two stacks name differently
    (PyAV and Pillow first: the releases to install)."""
    order = {"av": 0, "pillow": 1}
    keys = sorted(set(here) | set(there), key=lambda k: (order.get(k, 2), k))
    return [
        f"{k} {here.get(k, 'absent')} {labels[0]}, {there.get(k, 'absent')} {labels[1]}"
        for k in keys
        if here.get(k) != there.get(k)
    ]

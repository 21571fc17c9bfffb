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
) -> dict[str, Any]:
    """The manifest document; zip_files maps a split to its zip's (sha256, size)."""
    return {
        "format": MANIFEST_FORMAT,
        "effect": effect,
        "kind": kind,
        "model": model,
        "region": region,
        "fingerprint": fingerprint,
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

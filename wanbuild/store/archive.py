"""Deterministic, streamed zip files: the same (name, bytes) pairs give the same zip, byte for byte.

Entries are sorted, stored (not deflated: media do not compress, and stored output does not
depend on the zlib build), dated 1980-01-01, mode 0644, created on "unix". Sources are copied in
1 MiB chunks, so memory stays flat whatever the size. The zip is written to a temporary file
and renamed into place, so a crash never leaves a half-written zip under the final name.
"""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

FIXED_DATE = (1980, 1, 1, 0, 0, 0)
CHUNK = 1 << 20

Source = Path | bytes


def write_zip(out: Path, entries: Mapping[str, Source]) -> None:
    """Write `entries` ({arcname: file path or bytes}) to `out`, atomically."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            for arcname in sorted(entries):
                _check_name(arcname)
                source = entries[arcname]
                info = zipfile.ZipInfo(arcname, date_time=FIXED_DATE)
                info.compress_type = zipfile.ZIP_STORED
                info.create_system = 3
                info.external_attr = (stat.S_IFREG | 0o644) << 16
                if isinstance(source, bytes):
                    info.file_size = len(source)
                    with zf.open(info, "w") as dst:
                        dst.write(source)
                    continue
                info.file_size = source.stat().st_size
                with source.open("rb") as src, zf.open(info, "w") as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def _check_name(arcname: str) -> None:
    pure = PurePosixPath(arcname)
    if pure.is_absolute() or ".." in pure.parts or arcname != pure.as_posix():
        raise ValueError(f"unsafe zip entry name {arcname!r}")
